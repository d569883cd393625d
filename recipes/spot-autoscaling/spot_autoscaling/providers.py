"""Metadata pollers: each ``poll()`` returns the notices that are up now (an empty list when none).

- **AWS IMDSv2** (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
  ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``, then GETs with
  ``X-aws-ec2-metadata-token``. ``/latest/meta-data/spot/instance-action`` is 404 until a notice, then
  ``{"action": "terminate"|"stop"|"hibernate", "time": "2026-12-01T20:00:00Z"}``;
  ``/latest/meta-data/events/recommendations/rebalance`` is 404 until ``{"noticeTime": "..."}``;
  ``/latest/meta-data/autoscaling/target-lifecycle-state`` says ``Terminated`` when the Auto Scaling group is
  taking the instance out (scale-in, rebalancing) and a lifecycle hook holds it in ``Terminating:Wait``.
- **GCP** (https://cloud.google.com/compute/docs/instances/create-manage-spot#detect-preemption):
  ``/computeMetadata/v1/instance/preempted`` with ``Metadata-Flavor: Google`` is ``FALSE`` until ``TRUE``;
  ``?wait_for_change=true`` makes the request hang until the value changes (bounded here by ``timeout_sec``).
- **Azure Scheduled Events** (https://learn.microsoft.com/en-us/azure/virtual-machines/linux/scheduled-events):
  ``/metadata/scheduledevents?api-version=2020-07-01`` with ``Metadata: true`` lists events; ``Preempt`` is a
  Spot eviction, ``Terminate`` a scale-set scale-in; ``NotBefore`` is when it may start. POSTing
  ``{"StartRequests": [{"EventId": ...}]}`` to the same URL acknowledges it (lets it start at once).
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import httpx

log = logging.getLogger("spot_autoscaling.providers")

AZURE_API = "2020-07-01"


@dataclass(frozen=True)
class Notice:
    """A notice from the metadata service.

    ``kind``: ``interruption`` (the instance goes away), ``rebalance`` (AWS: elevated risk, no deadline) or
    ``scale-in`` (the group removes the instance; a lifecycle hook waits for us). ``deadline`` is a Unix time in
    seconds (float) or ``None`` when the provider gives none. ``event_id``: Azure's ``EventId``.
    """

    provider: str
    kind: str
    deadline: Optional[float] = None
    detail: str = ""
    event_id: Optional[str] = None
    raw: Any = field(default=None, compare=False)

    def seconds_left(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds until ``deadline`` (may be negative), or ``None`` without a deadline."""
        return None if self.deadline is None else self.deadline - (time.time() if now is None else now)


def _iso_epoch(value: str) -> Optional[float]:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


class AwsImds:
    """AWS IMDSv2 poller (token cached and refreshed; a 401 forces a new one).

    ``base_url``: e.g. ``http://169.254.169.254``. Network errors are logged and reported as "no notice".
    """

    provider = "aws"

    def __init__(self, base_url: str, token_ttl_s: int = 21600, timeout_s: float = 1.0) -> None:
        self.base = base_url.rstrip("/")
        self.ttl = token_ttl_s
        self.client = httpx.Client(timeout=timeout_s)
        self._token: Optional[str] = None
        self._token_expiry = 0.0

    def _token_value(self, force: bool = False) -> str:
        if force or self._token is None or time.monotonic() > self._token_expiry - min(60.0, self.ttl / 10):
            r = self.client.put(f"{self.base}/latest/api/token",
                                headers={"X-aws-ec2-metadata-token-ttl-seconds": str(self.ttl)})
            r.raise_for_status()
            self._token, self._token_expiry = r.text.strip(), time.monotonic() + self.ttl
        return self._token

    def get(self, path: str) -> Optional[str]:
        """GET ``/latest/<path>`` with the token; ``None`` on 404. Raises ``httpx.HTTPError`` on other errors."""
        for attempt in range(2):
            r = self.client.get(f"{self.base}/latest/{path}",
                                headers={"X-aws-ec2-metadata-token": self._token_value(force=attempt > 0)})
            if r.status_code == 401 and attempt == 0:
                continue
            if r.status_code == 404:
                return None
            r.raise_for_status()
            return r.text
        return None

    def poll(self) -> list[Notice]:
        """Interruption, rebalance and lifecycle-state notices that are up now."""
        out: list[Notice] = []
        action = self.get("meta-data/spot/instance-action")
        if action:
            data = httpx.Response(200, content=action).json()
            out.append(Notice("aws", "interruption", _iso_epoch(data.get("time", "")),
                              f"spot/instance-action {data.get('action')} at {data.get('time')}", raw=data))
        state = self.get("meta-data/autoscaling/target-lifecycle-state")
        if state and state.strip() == "Terminated":
            out.append(Notice("aws", "scale-in", None, "autoscaling/target-lifecycle-state Terminated"))
        rebalance = self.get("meta-data/events/recommendations/rebalance")
        if rebalance:
            data = httpx.Response(200, content=rebalance).json()
            out.append(Notice("aws", "rebalance", None, f"rebalance recommendation at {data.get('noticeTime')}",
                              raw=data))
        return out

    def instance_id(self) -> Optional[str]:
        """``meta-data/instance-id`` (``None`` if absent)."""
        return (self.get("meta-data/instance-id") or "").strip() or None

    def region(self) -> Optional[str]:
        """``meta-data/placement/region`` (``None`` if absent)."""
        return (self.get("meta-data/placement/region") or "").strip() or None


class GcpMetadata:
    """GCP metadata-server poller: ``instance/preempted`` with ``wait_for_change`` bounded by ``wait_s``."""

    provider = "gcp"
    NOTICE_S = 30.0

    def __init__(self, base_url: str, wait_s: float = 5.0, timeout_s: float = 1.0) -> None:
        self.base = base_url.rstrip("/")
        self.wait_s = max(1, int(wait_s))
        self.client = httpx.Client(timeout=timeout_s + self.wait_s)
        self._etag: Optional[str] = None
        self._first = True

    def poll(self) -> list[Notice]:
        """One long poll: returns at once the first time, else when the value changes or after ``wait_s``."""
        params: dict[str, str] = {}
        if not self._first:
            params = {"wait_for_change": "true", "timeout_sec": str(self.wait_s)}
            if self._etag:
                params["last_etag"] = self._etag
        r = self.client.get(f"{self.base}/computeMetadata/v1/instance/preempted", params=params,
                            headers={"Metadata-Flavor": "Google"})
        r.raise_for_status()
        self._first = False
        self._etag = r.headers.get("ETag", self._etag)
        if r.text.strip().upper() == "TRUE":
            # GCP gives no timestamp: the ~30 s start when the flag flips (we see it within one long poll)
            return [Notice("gcp", "interruption", time.time() + self.NOTICE_S, "instance/preempted TRUE")]
        return []


class AzureScheduledEvents:
    """Azure Scheduled Events poller; ``ack(event_id)`` POSTs ``StartRequests``."""

    provider = "azure"

    def __init__(self, base_url: str, timeout_s: float = 1.0) -> None:
        self.base = base_url.rstrip("/")
        self.url = f"{self.base}/metadata/scheduledevents"
        self.client = httpx.Client(timeout=timeout_s, headers={"Metadata": "true"})
        self._name: Optional[str] = None

    def _vm_name(self) -> Optional[str]:
        if self._name is None:
            try:
                r = self.client.get(f"{self.base}/metadata/instance/compute/name",
                                    params={"api-version": "2021-02-01", "format": "text"})
                self._name = r.text.strip() if r.status_code == 200 else ""
            except httpx.HTTPError:
                return None
        return self._name or None

    def poll(self) -> list[Notice]:
        """``Preempt`` → interruption, ``Terminate`` → scale-in; events naming other VMs are ignored."""
        r = self.client.get(self.url, params={"api-version": AZURE_API})
        r.raise_for_status()
        me = self._vm_name()
        out = []
        for ev in r.json().get("Events", []):
            kind = {"Preempt": "interruption", "Terminate": "scale-in"}.get(ev.get("EventType"))
            if not kind or (me and ev.get("Resources") and me not in ev["Resources"]):
                continue
            nb = ev.get("NotBefore") or ""
            deadline = email.utils.parsedate_to_datetime(nb).timestamp() if nb else None
            out.append(Notice("azure", kind, deadline, f"{ev.get('EventType')} NotBefore {nb or '-'}",
                              event_id=ev.get("EventId"), raw=ev))
        return out

    def ack(self, event_id: str) -> None:
        """Acknowledge one event (``StartRequests``). Raises ``httpx.HTTPError`` on failure."""
        r = self.client.post(self.url, params={"api-version": AZURE_API},
                             json={"StartRequests": [{"EventId": event_id}]})
        r.raise_for_status()


def make_poller(s) -> AwsImds | GcpMetadata | AzureScheduledEvents:
    """The poller for an ``AgentSettings``' ``provider``."""
    if s.provider == "aws":
        return AwsImds(s.aws_imds_url, s.imds_token_ttl_s, s.metadata_timeout_s)
    if s.provider == "gcp":
        return GcpMetadata(s.gcp_metadata_url, s.poll_interval_s, s.metadata_timeout_s)
    return AzureScheduledEvents(s.azure_metadata_url, s.metadata_timeout_s)
