"""A local metadata-service emulator for tests and the bench (test infrastructure, not the thing under test).

It serves, on 127.0.0.1, the responses the providers document (see ``providers`` for the links):

- AWS IMDSv2: ``PUT /latest/api/token`` (needs ``X-aws-ec2-metadata-token-ttl-seconds`` 1–21600, else 400);
  every ``GET /latest/meta-data/...`` needs ``X-aws-ec2-metadata-token`` (else 401);
  ``spot/instance-action`` 404 until :meth:`MetadataEmulator.aws_interrupt`, then
  ``{"action": "terminate", "time": "<UTC ISO 8601>"}``; ``events/recommendations/rebalance`` likewise with
  ``{"noticeTime": ...}``; ``autoscaling/target-lifecycle-state``, ``instance-id``, ``placement/region``.
- GCP: ``/computeMetadata/v1/instance/preempted`` (``Metadata-Flavor: Google`` required, else 403),
  ``FALSE``/``TRUE``, with ``wait_for_change=true`` and ``timeout_sec`` (long poll) and an ``ETag``.
- Azure: ``/metadata/scheduledevents?api-version=...`` (``Metadata: true`` required, else 400) with
  ``DocumentIncarnation`` and ``Events``; POST ``StartRequests`` records acknowledgements;
  ``/metadata/instance/compute/name``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _QuietServer(ThreadingHTTPServer):
    """A client that vanishes mid-request (a killed agent) is not an error worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class MetadataEmulator:
    """Emulated AWS/GCP/Azure metadata services on ``127.0.0.1:<port>`` (``port=0``: a free one).

    Use as a context manager or call :meth:`start`/:meth:`stop`. ``url`` is the base URL to give the agent.
    Thread-safe; the control methods may be called from any thread.
    """

    def __init__(self, port: int = 0, instance_id: str = "i-0123456789abcdef0", region: str = "us-east-1",
                 vm_name: str = "vmss_0") -> None:
        self.lock = threading.Condition()
        self.instance_id, self.region, self.vm_name = instance_id, region, vm_name
        self.instance_action: Optional[dict[str, str]] = None
        self.rebalance: Optional[dict[str, str]] = None
        self.lifecycle_state = "InService"
        self.gcp_preempted = False
        self.gcp_etag = 0
        self.azure_events: list[dict[str, Any]] = []
        self.azure_incarnation = 1
        self.azure_acks: list[str] = []
        self.tokens: dict[str, float] = {}
        self.hits: dict[str, int] = {}
        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, code: int, body: str | bytes = b"", ctype: str = "text/plain",
                      headers: Optional[dict[str, str]] = None) -> None:
                data = body.encode() if isinstance(body, str) else body
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:  # noqa: N802
                emu._count("PUT " + urlsplit(self.path).path)
                if urlsplit(self.path).path != "/latest/api/token":
                    return self._send(404, "Not Found")
                try:
                    ttl = int(self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", ""))
                except ValueError:
                    ttl = 0
                if not 1 <= ttl <= 21600:
                    return self._send(400, "Bad Request")
                tok = uuid.uuid4().hex
                with emu.lock:
                    emu.tokens[tok] = time.time() + ttl
                self._send(200, tok, headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})

            def do_GET(self) -> None:  # noqa: N802
                u = urlsplit(self.path)
                q = parse_qs(u.query)
                emu._count("GET " + u.path)
                if u.path.startswith("/latest/"):
                    return self._aws(u.path[len("/latest/"):])
                if u.path.startswith("/computeMetadata/v1/"):
                    return self._gcp(u.path[len("/computeMetadata/v1/"):], q)
                if u.path.startswith("/metadata/"):
                    return self._azure_get(u.path, q)
                self._send(404, "Not Found")

            def do_POST(self) -> None:  # noqa: N802
                u = urlsplit(self.path)
                emu._count("POST " + u.path)
                if u.path != "/metadata/scheduledevents" or self.headers.get("Metadata") != "true":
                    return self._send(400, "Bad Request")
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(n) or b"{}")
                    ids = [r["EventId"] for r in body.get("StartRequests", [])]
                except (ValueError, KeyError, TypeError, AttributeError):
                    return self._send(400, "Bad Request")
                with emu.lock:
                    emu.azure_acks += ids
                    emu.azure_events = [e for e in emu.azure_events if e["EventId"] not in ids]
                    emu.azure_incarnation += 1
                self._send(200, "")

            # --- AWS ---------------------------------------------------------------------------
            def _aws(self, path: str) -> None:
                tok = self.headers.get("X-aws-ec2-metadata-token")
                with emu.lock:
                    ok = tok is not None and emu.tokens.get(tok, 0) > time.time()
                if not ok:
                    return self._send(401, "Unauthorized")
                with emu.lock:
                    value: Optional[str] = {
                        "meta-data/instance-id": emu.instance_id,
                        "meta-data/placement/region": emu.region,
                        "meta-data/autoscaling/target-lifecycle-state": emu.lifecycle_state,
                        "meta-data/spot/instance-action":
                            json.dumps(emu.instance_action) if emu.instance_action else None,
                        "meta-data/events/recommendations/rebalance":
                            json.dumps(emu.rebalance) if emu.rebalance else None,
                    }.get(path)
                if value is None:
                    return self._send(404, "Not Found")
                self._send(200, value)

            # --- GCP ---------------------------------------------------------------------------
            def _gcp(self, path: str, q: dict[str, list[str]]) -> None:
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403, "Missing Metadata-Flavor:Google header.")
                if path != "instance/preempted":
                    return self._send(404, "Not Found")
                with emu.lock:
                    if q.get("wait_for_change", [""])[0] == "true":
                        last = q.get("last_etag", [str(emu.gcp_etag)])[0]
                        timeout = float(q.get("timeout_sec", ["30"])[0])
                        emu.lock.wait_for(lambda: str(emu.gcp_etag) != last, timeout=timeout)
                    val, etag = ("TRUE" if emu.gcp_preempted else "FALSE"), str(emu.gcp_etag)
                self._send(200, val, ctype="application/text", headers={"ETag": etag})

            # --- Azure -------------------------------------------------------------------------
            def _azure_get(self, path: str, q: dict[str, list[str]]) -> None:
                if self.headers.get("Metadata") != "true":
                    return self._send(400, json.dumps({"error": "Bad request. Required metadata header not "
                                                       "specified"}), "application/json")
                if not q.get("api-version"):
                    return self._send(400, json.dumps({"error": "Bad request. api-version was not specified"}),
                                      "application/json")
                if path == "/metadata/instance/compute/name":
                    return self._send(200, emu.vm_name)
                if path != "/metadata/scheduledevents":
                    return self._send(404, "Not Found")
                with emu.lock:
                    doc = {"DocumentIncarnation": emu.azure_incarnation, "Events": list(emu.azure_events)}
                self._send(200, json.dumps(doc), "application/json")

        self.server = _QuietServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: Optional[threading.Thread] = None

    def _count(self, key: str) -> None:
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1

    # --- control ---------------------------------------------------------------------------------
    def aws_interrupt(self, in_s: float = 120.0, action: str = "terminate") -> float:
        """Post a Spot interruption notice for ``in_s`` seconds from now; returns the deadline (Unix time).

        The documented ``time`` field has 1-second resolution, so the deadline is rounded down to a second.
        """
        deadline = float(int(time.time() + in_s))
        with self.lock:
            self.instance_action = {"action": action, "time": _iso(deadline)}
        return deadline

    def aws_rebalance(self) -> None:
        """Post a rebalance recommendation."""
        with self.lock:
            self.rebalance = {"noticeTime": _iso(time.time())}

    def aws_lifecycle(self, state: str = "Terminated") -> None:
        """Set ``autoscaling/target-lifecycle-state`` (``InService`` / ``Terminated``)."""
        with self.lock:
            self.lifecycle_state = state

    def gcp_preempt(self) -> None:
        """Flip ``instance/preempted`` to ``TRUE`` (wakes long polls)."""
        with self.lock:
            self.gcp_preempted = True
            self.gcp_etag += 1
            self.lock.notify_all()

    def azure_preempt(self, in_s: float = 30.0, event_type: str = "Preempt") -> str:
        """Schedule an Azure event for this VM ``in_s`` seconds from now; returns its ``EventId``."""
        eid = str(uuid.uuid4()).upper()
        nb = format_datetime(datetime.fromtimestamp(int(time.time() + in_s), timezone.utc), usegmt=True)
        with self.lock:
            self.azure_events.append({"EventId": eid, "EventStatus": "Scheduled", "EventType": event_type,
                                      "ResourceType": "VirtualMachine", "Resources": [self.vm_name],
                                      "NotBefore": nb, "Description": "", "EventSource": "Platform",
                                      "DurationInSeconds": -1})
            self.azure_incarnation += 1
        return eid

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> "MetadataEmulator":
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="imds-emulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        with self.lock:
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "MetadataEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
