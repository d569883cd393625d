"""Pure ASGI middleware (cheaper than ``BaseHTTPMiddleware``): body-size limit, request latency, in-flight count."""

from __future__ import annotations

import time
from typing import Any

from .errors import error_response
from .metrics import Metrics

ROUTES = ("/v1/embeddings", "/v1/models", "/healthz", "/readyz", "/")
"""Paths with their own ``route`` label on the latency histogram; every other path is ``other``."""

UNCOUNTED = ("/healthz", "/readyz", "/metrics")
"""Paths not counted as in-flight work: probes and scrapes carry no work a drain must wait for."""


class InFlight:
    """A count of requests in flight, written by the middleware on the event loop, read by the drain thread."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        """Requests in flight now."""
        return self.n


class LimitAndMeasure:
    """Outermost middleware of the app.

    - Rejects bodies over ``max_body`` bytes with 413 before the app parses them: by ``Content-Length``, or
      while reading a chunked body (the body is read here, at most ``max_body`` + one chunk, and replayed).
    - Observes every request's latency (seconds) on ``metrics.latency`` (not ``/metrics`` itself).
    - Counts requests in flight on ``inflight`` (what a drain waits for), except probes and scrapes.
    """

    def __init__(self, app: Any, max_body: int, metrics: Metrics, inflight: InFlight) -> None:
        self.app, self.max_body, self.metrics, self.inflight = app, max_body, metrics, inflight

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        counted = path not in UNCOUNTED
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if counted:
            self.inflight.n += 1
        try:
            answered = True
            if scope["method"] in ("POST", "PUT", "PATCH"):
                answered = await self._with_body(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            if counted:
                self.inflight.n -= 1
        if answered:
            self._observe(path, status[0], t0)

    async def _with_body(self, scope: dict, receive: Any, send: Any) -> bool:
        """Read the (bounded) body, answer 413 if it is too large, else replay it to the app.

        Returns False if the client disconnected before sending its whole body (nothing was answered).
        """
        too_big = False
        for k, v in scope["headers"]:
            if k == b"content-length":
                try:
                    too_big = int(v) > self.max_body
                except ValueError:
                    too_big = False
        body, more = b"", True
        if not too_big:
            while more:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return False
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > self.max_body:
                    too_big = True
                    break
        if too_big:
            self.metrics.rejected.labels("body_too_large").inc()
            resp = error_response(413, f"request body exceeds {self.max_body} bytes (ONNX_EMB_MAX_BODY_BYTES)",
                                  code="body_too_large")
            await resp(scope, receive, send)
            return True
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
        return True

    def _observe(self, path: str, status: int, t0: float) -> None:
        if path != "/metrics":
            route = path if path in ROUTES else "other"
            self.metrics.latency.labels(route, str(status)).observe(time.perf_counter() - t0)
