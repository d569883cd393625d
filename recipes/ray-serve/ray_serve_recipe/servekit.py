"""Engine-agnostic plumbing that every cookbook HTTP server shares: probes, errors, auth, CORS, logging, drain.

This file is copied byte for byte into every recipe package that runs its own HTTP layer as ``servekit.py``
(recipes are copyable and may import nothing from outside their folder). ``tests/test_recipe_contract.py``
fails when a copy drifts from ``cookbook/servekit_template.py``: edit the template, then ``make sync-vendored``.
Standard library only, so it fits any recipe. The conventions it implements are CONTRIBUTING.md, "Server
conventions"; ``tests/conformance/`` checks them black-box against every recipe server.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any, Callable

#: Readiness states, the ``status`` field of ``GET /readyz`` (200 only for ``READY``).
READY, LOADING, DRAINING, FAILED = "ready", "loading", "draining", "failed"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def health_body() -> dict[str, str]:
    """Body of ``GET /healthz`` (liveness, always 200 while the process answers): ``{"status": "ok"}``."""
    return {"status": "ok"}


def ready_body(status: str, models: list[str], detail: str | None = None) -> dict[str, Any]:
    """Body of ``GET /readyz``: ``{"status": READY|LOADING|DRAINING|FAILED, "models": [...], "detail": str|None}``.

    ``models`` are the served model ids (empty while loading). ``detail`` says why a server is not ready, in
    words safe to show a client (no traceback, no file path). Answer 200 for ``READY``, else 503 with
    ``Retry-After``. Raises ``ValueError`` on an unknown status.
    """
    if status not in (READY, LOADING, DRAINING, FAILED):
        raise ValueError(f"unknown readiness status {status!r}")
    return {"status": status, "models": list(models), "detail": detail}


def openai_error(message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``.

    Source: the OpenAI API reference, "Error codes"; ``type`` is ``invalid_request_error`` for 4xx caused by
    the request, ``server_error`` for 5xx/503.
    """
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_bytes(message: str, type_: str = "invalid_request_error", param: str | None = None,
                code: str | None = None) -> bytes:
    """:func:`openai_error` serialised as UTF-8 JSON bytes."""
    return json.dumps(openai_error(message, type_, param, code)).encode()


def bearer_ok(authorization: str | None, key: str | None) -> bool:
    """True if no key is configured, or ``authorization`` is exactly ``Bearer <key>``.

    Constant-time comparison (``secrets.compare_digest``), so the time taken does not reveal how many leading
    characters of a guess were right.
    """
    if not key:
        return True
    if not authorization or not authorization.startswith("Bearer "):
        return False
    return secrets.compare_digest(authorization[7:].encode("utf-8", "surrogateescape"),
                                  key.encode("utf-8", "surrogateescape"))


def split_origins(value: object) -> object:
    """``<PREFIX>_CORS_ORIGINS``: a comma-separated string -> list of origins (empty: CORS off).

    Use as a pydantic ``mode="before"`` validator on a ``NoDecode`` ``list[str]`` field; lists pass through.
    """
    if isinstance(value, str):
        return [o.strip() for o in value.split(",") if o.strip()]
    return value


def configure_logging(level: str) -> None:
    """Root logging to stderr in the cookbook's one format (``LOG_FORMAT``); ``level`` e.g. ``"info"``."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, force=True)


class Drain:
    """The cookbook's shutdown protocol, engine-agnostic (CONTRIBUTING.md, "Server conventions").

    First SIGTERM/SIGINT (:meth:`begin`): ``draining`` turns true at once (``/readyz`` answers 503), then

    1. wait ``delay_s`` seconds, so a load balancer that polls readiness stops routing here (the recipe decides
       whether new requests are still served meanwhile, and its page says why);
    2. wait until ``busy()`` (requests in flight or queued) is 0, at most ``timeout_s`` seconds;
    3. call ``stop(False)``: the server closes its listener and exits with status 0.

    A second signal calls ``stop(True)`` at once. ``delay_s``, ``timeout_s`` are seconds (>= 0); ``busy`` must
    be cheap and thread-safe (it is polled every 50 ms from the drain thread).
    """

    def __init__(self, delay_s: float, timeout_s: float, busy: Callable[[], int],
                 stop: Callable[[bool], None], log: logging.Logger | None = None) -> None:
        self.delay_s, self.timeout_s = delay_s, timeout_s
        self.busy, self.stop = busy, stop
        self.log = log or logging.getLogger("servekit")
        self.draining = False
        self.started_at: float | None = None
        self.done = threading.Event()

    def begin(self, signame: str = "SIGTERM") -> None:
        """Start draining (first call) or stop at once (any later call). Safe from a signal handler."""
        if self.draining:
            self.log.info("%s again: stopping now", signame)
            self.stop(True)
            return
        self.draining = True
        self.started_at = time.monotonic()
        self.log.info("%s: draining (readiness 503; %d request(s) busy; delay %.1f s, timeout %.1f s)",
                      signame, self.busy(), self.delay_s, self.timeout_s)
        threading.Thread(target=self._run, name="drain", daemon=True).start()

    def _run(self) -> None:
        time.sleep(self.delay_s)
        deadline = time.monotonic() + self.timeout_s
        while self.busy() > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        left = self.busy()
        if left:
            self.log.warning("drain timeout after %.1f s: %d request(s) still busy", self.timeout_s, left)
        else:
            self.log.info("drained in %.2f s", time.monotonic() - (self.started_at or 0.0))
        self.done.set()
        self.stop(False)
