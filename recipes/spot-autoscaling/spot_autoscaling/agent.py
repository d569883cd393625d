"""The interruption agent: ``python -m spot_autoscaling.agent -- <model server command>``.

It starts the model server as its child, prints its timing budget (see ``budget``) and refuses to start when the
budget does not fit the notice, then polls the metadata service every ``SPOT_POLL_INTERVAL_S``. On an
interruption (or scale-in, or a rebalance recommendation when ``SPOT_REBALANCE_ACTION=drain``) it sends SIGTERM
to the server, which drains by the cookbook's server convention (readiness → 503 at once, wait
``<PREFIX>_DRAIN_DELAY_S`` so the load balancer stops routing, finish in-flight requests for at most
``<PREFIX>_DRAIN_TIMEOUT_S``, exit 0). When the server has exited the agent completes the ASG lifecycle hook
(AWS) or acknowledges the scheduled event (Azure), and exits with the server's status.

Exit status: the server's; 2 when the budget does not fit (and ``SPOT_ENFORCE_BUDGET`` is on) or no command was
given. A SIGTERM/SIGINT to the agent is forwarded to the server (the OS shutdown path, e.g. GCP's ACPI soft off).
The agent serves no HTTP of its own.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Optional

import httpx

from .budget import NOTICE_SOURCES, Budget, budget_from_settings
from .providers import AzureScheduledEvents, AwsImds, Notice, make_poller
from .settings import AgentSettings

log = logging.getLogger("spot_autoscaling.agent")


class Agent:
    """Runs and drains one model server. ``command``: argv of the server (list of str)."""

    def __init__(self, settings: AgentSettings, command: list[str]) -> None:
        self.s = settings
        self.command = command
        self.budget: Budget = budget_from_settings(settings)
        self.poller = make_poller(settings)
        self.child: Optional[subprocess.Popen] = None
        self._signals = 0
        self._draining = False
        self._rebalance_logged = False
        self._last_error_log = 0.0

    # --- start ------------------------------------------------------------------------------------
    def check_budget(self) -> bool:
        """Log the budget; False (and an error line) when it does not fit and enforcement is on."""
        b = self.budget
        log.info("timing budget (%s, notice source %s): %s", self.s.provider, NOTICE_SOURCES[self.s.provider],
                 b.describe())
        log.info("budget %s", json.dumps(b.as_dict()))
        if not b.fits:
            msg = (f"the drain does not fit the notice: {b.total_s:g} s needed > {b.notice_s:g} s; lower "
                   "SPOT_DRAIN_DELAY_S, SPOT_DRAIN_TIMEOUT_S or the LB health-check interval/threshold")
            if self.s.enforce_budget:
                log.error("refusing to start: %s", msg)
                return False
            log.warning("%s (SPOT_ENFORCE_BUDGET=false: starting anyway)", msg)
        return True

    def child_env(self) -> dict[str, str]:
        """The server's environment: ours plus its drain settings when ``SPOT_SERVER_ENV_PREFIX`` is set."""
        env = dict(os.environ)
        p = self.s.server_env_prefix
        if p:
            env[f"{p}DRAIN_DELAY_S"] = f"{self.s.drain_delay_s:g}"
            env[f"{p}DRAIN_TIMEOUT_S"] = f"{self.s.drain_timeout_s:g}"
        return env

    def start(self) -> None:
        """Start the server (raises ``OSError`` if the command cannot be run)."""
        self.child = subprocess.Popen(self.command, env=self.child_env())
        log.info("server started: pid %d: %s", self.child.pid, " ".join(self.command))

    # --- signals ----------------------------------------------------------------------------------
    def on_signal(self, sig: int, _frame) -> None:
        """Forward SIGTERM/SIGINT to the server (first: it drains; second: it stops at once).

        If the agent is already draining on a notice (e.g. GCP's shutdown script stops the unit while the agent
        drains), the first signal is not forwarded, so it does not cut the drain short; a second one is."""
        self._signals += 1
        name = signal.Signals(sig).name
        if self.child is None or self.child.poll() is not None:
            return
        if self._draining and self._signals == 1:
            log.info("agent got %s while draining: letting the drain finish (a second signal stops at once)", name)
            return
        log.info("agent got %s (#%d): forwarding to the server", name, self._signals)
        first = self._signals == 1 and not self._draining
        self.child.send_signal(signal.SIGTERM if first else signal.SIGINT)

    # --- run --------------------------------------------------------------------------------------
    def poll_once(self) -> list[Notice]:
        """One poll; metadata errors are logged (at most every 30 s) and count as no notice."""
        try:
            return self.poller.poll()
        except (httpx.HTTPError, ValueError) as exc:
            if time.monotonic() - self._last_error_log > 30:
                log.warning("metadata service: %s: %s", type(exc).__name__, exc)
                self._last_error_log = time.monotonic()
            return []

    def pick(self, notices: list[Notice]) -> Optional[Notice]:
        """The notice to act on, or ``None`` (a rebalance recommendation only logs unless configured)."""
        for n in notices:
            if n.kind in ("interruption", "scale-in"):
                return n
        for n in notices:
            if n.kind == "rebalance":
                if self.s.rebalance_action == "drain":
                    return n
                if not self._rebalance_logged:
                    log.info("rebalance recommendation (%s): logging only (SPOT_REBALANCE_ACTION=log); the "
                             "Auto Scaling group's Capacity Rebalancing launches a replacement", n.detail)
                    self._rebalance_logged = True
        return None

    def drain(self, n: Notice) -> int:
        """SIGTERM the server, wait for it (SIGKILL after the budget), then hook/ack. Returns its exit status."""
        assert self.child is not None
        left = n.seconds_left()
        need = self.budget.total_s - self.budget.poll_interval_s
        log.info("notice: %s %s (%s); %s", n.provider, n.kind, n.detail,
                 "no deadline given" if left is None else f"{left:.1f} s left")
        if left is not None and left < need:
            log.warning("notice shorter than the drain needs: %.1f s left < %.1f s (LB detection + drain delay + "
                        "longest request + margin); requests still in flight at the deadline will be cut and "
                        "must be retried by clients", left, need)
        t0 = time.monotonic()
        self._draining = True
        self.child.send_signal(signal.SIGTERM)
        # the server's own drain is bounded by delay + timeout; its process exit needs a little more. Until the
        # deadline the instance still exists, so waiting longer costs nothing: kill only when time is up.
        limit = self.s.drain_delay_s + self.s.drain_timeout_s + self.s.margin_s
        if left is not None:
            limit = max(limit, left - 0.25)
        try:
            rc = self.child.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            log.error("server still running %.1f s after SIGTERM: killing it", limit)
            self.child.kill()
            rc = self.child.wait()
        log.info("drained in %.3f s (server exit status %d)", time.monotonic() - t0, rc)
        self.after_drain(n)
        return rc

    def after_drain(self, n: Notice) -> None:
        """AWS: complete the lifecycle hook when configured. Azure: acknowledge the event."""
        if isinstance(self.poller, AwsImds) and self.s.lifecycle_hook_name and self.s.asg_name \
                and n.kind in ("interruption", "scale-in"):
            from .lifecycle import complete_lifecycle_action
            try:
                iid = self.poller.instance_id()
                region = self.s.aws_region or self.poller.region()
                complete_lifecycle_action(self.s.asg_name, self.s.lifecycle_hook_name, iid or "", region,
                                          self.s.aws_endpoint_url)
            except Exception as exc:  # noqa: BLE001 - the hook times out on its own; log and go on
                log.error("could not complete the lifecycle hook: %s: %s", type(exc).__name__, exc)
        if isinstance(self.poller, AzureScheduledEvents) and self.s.azure_ack and n.event_id:
            try:
                self.poller.ack(n.event_id)
                log.info("acknowledged Azure event %s", n.event_id)
            except httpx.HTTPError as exc:
                log.error("could not acknowledge Azure event %s: %s", n.event_id, exc)

    def run(self) -> int:
        """Budget check, start, poll until a notice or the server exits. Returns the exit status."""
        if not self.check_budget():
            return 2
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        self.start()
        assert self.child is not None
        while True:
            rc = self.child.poll()
            if rc is not None:
                log.info("server exited with status %d", rc)
                return rc
            if self._signals == 0:
                n = self.pick(self.poll_once())
                if n is not None:
                    return self.drain(n)
            if self.s.provider != "gcp":  # GCP's long poll already waits
                time.sleep(self.s.poll_interval_s)
            else:
                time.sleep(0.05)


def main(argv: Optional[list[str]] = None) -> int:
    """CLI entry point. ``argv``: ``['--', 'python', '-m', 'server', ...]`` (default ``sys.argv[1:]``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    check_only = "--check" in argv[: argv.index("--")] if "--" in argv else "--check" in argv
    command = argv[argv.index("--") + 1:] if "--" in argv else []
    s = AgentSettings()
    logging.basicConfig(level=s.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    agent = Agent(s, command)
    if check_only:
        return 0 if agent.check_budget() else 2
    if not command:
        log.error("usage: python -m spot_autoscaling.agent [--check] -- <model server command ...>")
        return 2
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
