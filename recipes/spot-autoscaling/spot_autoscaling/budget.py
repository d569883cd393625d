"""The agent's timing budget: can a drain finish inside the provider's notice?

    budget = poll interval + LB detection (check interval × unhealthy threshold) + drain delay
             + longest request (drain timeout) + margin                    (all seconds)

must be ≤ the notice. The notices, from the providers' documentation:

- AWS: 120 s. "A Spot Instance interruption notice is a warning that is issued two minutes before Amazon EC2
  stops or terminates your Spot Instance ... We recommend that you check for these interruption notices every
  5 seconds." https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
- GCP: 30 s. Compute Engine sends a preemption notice (ACPI G2 soft off) and the VM has about 30 seconds
  before it is stopped or deleted. https://cloud.google.com/compute/docs/instances/spot#preemption-process
- Azure: ≥ 30 s. A ``Preempt`` scheduled event is raised with a minimum notice of 30 seconds.
  https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Notice in seconds per provider, and where it is documented.
PROVIDER_NOTICE_S = {"aws": 120.0, "gcp": 30.0, "azure": 30.0}
NOTICE_SOURCES = {
    "aws": "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html",
    "gcp": "https://cloud.google.com/compute/docs/instances/spot#preemption-process",
    "azure": "https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events",
}


@dataclass(frozen=True)
class Budget:
    """Timing budget of one agent (all fields seconds, float)."""

    poll_interval_s: float
    lb_detection_s: float
    drain_delay_s: float
    longest_request_s: float
    margin_s: float
    notice_s: float

    @property
    def total_s(self) -> float:
        """Worst-case time from the notice appearing to the server having exited (seconds)."""
        return self.poll_interval_s + self.lb_detection_s + self.drain_delay_s + self.longest_request_s \
            + self.margin_s

    @property
    def fits(self) -> bool:
        """True when ``total_s`` ≤ ``notice_s``."""
        return self.total_s <= self.notice_s

    @property
    def slack_s(self) -> float:
        """``notice_s - total_s`` (negative: the drain does not fit)."""
        return self.notice_s - self.total_s

    def as_dict(self) -> dict[str, float | bool]:
        """Fields plus ``total_s``, ``slack_s`` and ``fits`` (for logs and results)."""
        return {**asdict(self), "total_s": round(self.total_s, 3), "slack_s": round(self.slack_s, 3),
                "fits": self.fits}

    def describe(self) -> str:
        """One line, e.g. ``poll 5 + LB 10 (5 × 2) + delay 15 + longest request 30 + margin 5 = 65 s ≤ 120 s``."""
        rel = "≤" if self.fits else ">"
        return (f"poll {self.poll_interval_s:g} + LB detection {self.lb_detection_s:g} + drain delay "
                f"{self.drain_delay_s:g} + longest request {self.longest_request_s:g} + margin {self.margin_s:g}"
                f" = {self.total_s:g} s {rel} notice {self.notice_s:g} s")


def compute_budget(poll_interval_s: float, lb_check_interval_s: float, lb_unhealthy_threshold: int,
                   drain_delay_s: float, longest_request_s: float, margin_s: float, notice_s: float) -> Budget:
    """Build a :class:`Budget`; LB detection = ``lb_check_interval_s × lb_unhealthy_threshold``.

    Raises ``ValueError`` for a negative time or a threshold below 1.
    """
    if min(poll_interval_s, lb_check_interval_s, drain_delay_s, longest_request_s, margin_s, notice_s) < 0 \
            or lb_unhealthy_threshold < 1:
        raise ValueError("times must be ≥ 0 and the unhealthy threshold ≥ 1")
    return Budget(poll_interval_s, lb_check_interval_s * lb_unhealthy_threshold, drain_delay_s,
                  longest_request_s, margin_s, notice_s)


def budget_from_settings(s) -> Budget:
    """The budget of an ``AgentSettings`` (notice: ``s.notice_s`` or the provider's documented one)."""
    notice = s.notice_s if s.notice_s is not None else PROVIDER_NOTICE_S[s.provider]
    return compute_budget(s.poll_interval_s, s.lb_check_interval_s, s.lb_unhealthy_threshold, s.drain_delay_s,
                          s.drain_timeout_s, s.margin_s, notice)
