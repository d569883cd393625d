"""The retry policy of examples/retry_client.py against a local HTTP server whose answers the test scripts
(503 + Retry-After, 502, 400, a dropped connection). Policy tests only; the snippet's run against the real
fleet through a reclaim is tests/test_chaos.py."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from spot_autoscaling.chaos import load_retry_module

rc = load_retry_module()


@pytest.fixture
def scripted():
    """A server on 127.0.0.1 answering from a list: ints are statuses (503 with Retry-After: 1), 'drop' closes
    the socket without answering, 'ok' returns an embedding."""
    plan: list = []
    seen: list[float] = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(time.monotonic())
            step = plan.pop(0) if plan else "ok"
            if step == "drop":
                self.connection.close()
                return
            code, body, extra = 200, {"data": [{"embedding": [0.5, 0.5]}]}, {}
            if step != "ok":
                code, body = step, {"error": {"message": "x", "type": "server_error", "param": None, "code": None}}
                if step == 503:
                    extra = {"Retry-After": "1"}
            data = json.dumps(body).encode()
            self.send_response(code)
            for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **extra}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", plan, seen
    srv.shutdown()
    srv.server_close()


def test_honours_retry_after(scripted):
    url, plan, seen = scripted
    plan += [503, "ok"]
    with httpx.Client(base_url=url, timeout=5) as c:
        assert rc.embed(c, ["a"]) == [[0.5, 0.5]]
    assert len(seen) == 2 and seen[1] - seen[0] >= 0.95  # waited the server's Retry-After: 1


def test_retries_transport_errors_and_502_with_jittered_backoff(scripted):
    url, plan, seen = scripted
    plan += ["drop", 502, 504, "ok"]
    with httpx.Client(base_url=url, timeout=5) as c:
        assert rc.embed(c, ["a"], base_s=0.01, max_wait_s=0.2) == [[0.5, 0.5]]
    assert len(seen) == 4


def test_does_not_retry_client_errors(scripted):
    url, plan, seen = scripted
    plan += [400, "ok"]
    with httpx.Client(base_url=url, timeout=5) as c, pytest.raises(httpx.HTTPStatusError) as ei:
        rc.embed(c, ["a"])
    assert ei.value.response.status_code == 400 and len(seen) == 1


def test_gives_up_after_max_attempts(scripted):
    url, plan, seen = scripted
    plan += [502] * 10
    with httpx.Client(base_url=url, timeout=5) as c, pytest.raises(httpx.HTTPStatusError):
        rc.embed(c, ["a"], max_attempts=3, base_s=0.01)
    assert len(seen) == 3


def test_full_jitter_stays_within_the_cap():
    from tenacity import RetryCallState

    w = rc.WaitRetryAfter(base_s=0.1, max_wait_s=1.0)
    waits = []
    for n in range(1, 9):
        st = RetryCallState(None, None, (), {})
        st.attempt_number = n
        waits.append(w(st))
    assert all(0 <= x <= 1.0 for x in waits) and len(set(waits)) > 1
