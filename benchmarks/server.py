"""Start one recipe's server by its own ``make <target>`` on free 127.0.0.1 ports; sample its RSS; stop it.

``make -C recipes/<name> serve`` runs in a new session (its own process group) so that SIGTERM reaches make
and the server together; :meth:`Served.stop` waits, then SIGKILLs the group and any process of the server
that is still alive: its process tree as sampled while it ran, plus every process that carries the server's
token in its environment (:data:`MARK`; a recipe may start helpers in their own sessions or daemons that
leave the tree, e.g. the gateway's proxy or Ray's GCS and raylet).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from .config import Target

log = logging.getLogger("benchmarks")


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Environment variable set (to a per-server token) in every server the runner starts: daemons that leave the
#: process tree (``ray start`` forks its GCS and raylet off to init) still carry it, so they are found too.
MARK = "COOKBOOK_BENCH_SERVER"


def marked(token: str) -> list[psutil.Process]:
    """Every process whose environment has ``MARK=token`` (needs permission to read ``/proc/<pid>/environ``)."""
    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(MARK) == token:
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            pass
    return out


def tree_rss_bytes(root: psutil.Process, seen: dict[int, psutil.Process]) -> int:
    """Sum of RSS (bytes) of ``root``, all its descendants and every live process already in ``seen``; adds
    the processes found to ``seen``. RSS counts shared pages once per process, so the sum is an upper bound."""
    total = 0
    try:
        for p in [root, *root.children(recursive=True)]:
            seen.setdefault(p.pid, p)
    except psutil.NoSuchProcess:
        pass
    for p in list(seen.values()):
        try:
            if p.is_running():
                total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total


class Served:
    """One running backend. ``env``: the overrides (recorded); ``url``: its base URL on 127.0.0.1."""

    def __init__(self, target: Target, extra_env: dict[str, str] | None = None) -> None:
        self.t = target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        over = dict(target.env)
        if target.address_env:
            over[target.address_env] = f"127.0.0.1:{self.port}"
        else:
            over[f"{target.env_prefix}HOST"] = "127.0.0.1"
            over[f"{target.env_prefix}PORT"] = str(self.port)
        for name in target.extra_port_envs:
            over[name] = str(free_port())
        over.update(extra_env or {})
        self.overrides = over
        self.token = uuid.uuid4().hex
        self.log = Path(tempfile.mkstemp(prefix=f"bench-{target.id}-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None
        self.cold_start_s: float | None = None
        self.peak_rss_bytes = 0
        self._seen: dict[int, psutil.Process] = {}
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self, ready_timeout_s: float = 600) -> "Served":
        """``make -C <recipe> <target>``; wait for the first 200 from ``ready_path``. Records ``cold_start_s``
        (launch to that 200). Raises ``RuntimeError`` (with the log tail) if it exits or is not ready in time."""
        env = {**os.environ, **self.overrides, MARK: self.token}
        cmd = ["make", "-C", str(self.t.dir), self.t.target]
        log.info("%s: %s (%s)", self.t.id, " ".join(cmd), ", ".join(f"{k}={v}" for k, v in self.overrides.items()))
        t0 = time.monotonic()
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        deadline = t0 + ready_timeout_s
        with httpx.Client(timeout=5, trust_env=False) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.t.id}: `make {self.t.target}` exited with {self.proc.returncode}:\n"
                                       f"{self.logs()}")
                try:
                    if c.get(self.url + self.t.ready_path).status_code == 200:
                        self.cold_start_s = round(time.monotonic() - t0, 2)
                        log.info("%s: ready after %.1f s", self.t.id, self.cold_start_s)
                        return self
                except httpx.HTTPError:
                    pass
                time.sleep(0.25)
        raise RuntimeError(f"{self.t.id}: not ready after {ready_timeout_s:g} s:\n{self.logs()}")

    def make(self, target: str, timeout_s: float = 900) -> None:
        """``make -C <recipe> <target>`` with the server's environment (e.g. Ollama's ``make model``);
        raises ``subprocess.CalledProcessError`` / ``TimeoutExpired``."""
        with open(self.log, "ab") as fh:
            subprocess.run(["make", "-C", str(self.t.dir), target], env={**os.environ, **self.overrides}, stdout=fh,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=timeout_s, check=True)

    def _sample(self) -> None:
        assert self.proc is not None
        root = psutil.Process(self.proc.pid)
        i = 0
        while not self._stop_sampling.is_set():
            if i % 4 == 0:  # every 2 s: processes that left the tree (daemons) but carry the token
                for p in marked(self.token):
                    self._seen.setdefault(p.pid, p)
            self.peak_rss_bytes = max(self.peak_rss_bytes, tree_rss_bytes(root, self._seen))
            i += 1
            self._stop_sampling.wait(0.5)

    def logs(self) -> str:
        """The last 4,000 characters the server wrote."""
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout_s: float = 90) -> int | None:
        """SIGTERM to the process group, wait up to ``timeout_s``; then SIGKILL the group and every process of
        the tree seen while it ran. Returns make's exit status."""
        self._stop_sampling.set()
        if self.proc is None:
            return None
        if self._sampler:
            self._sampler.join(5)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s: still running %g s after SIGTERM: SIGKILL", self.t.id, timeout_s)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        for p in marked(self.token):
            self._seen.setdefault(p.pid, p)
        alive = []
        for p in self._seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(alive, timeout=min(timeout_s, 30))
        for p in alive:
            try:
                log.warning("%s: pid %d (%s) outlived the server: SIGKILL", self.t.id, p.pid, p.name())
                p.kill()
            except psutil.NoSuchProcess:
                pass
        return self.proc.returncode

    def info(self) -> dict[str, Any]:
        """What the results record about the run of this server."""
        return {"url": self.url, "overrides": self.overrides, "cold_start_s": self.cold_start_s,
                "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
                "command": f"make -C recipes/{self.t.recipe} {self.t.target}"}
