"""The server's mutable state, shared by the guard, the request checks, the health routes and the drain.

One :class:`Runtime` per served app (``app.create_server_app`` builds it): settings, metrics, the admission gate,
the library's app and model proxy once loaded, and the drain started by the first signal.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import servekit
from .gate import Gate
from .metrics import Metrics
from .settings import Settings

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[dict, Receive, Send], Awaitable[None]]


@dataclass
class Runtime:
    """Mutable server state shared by the guard, the health routes and the SIGTERM handler."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    gate: Gate | None = None
    app: ASGIApp | None = None             # the library's FastAPI app, once models are loaded
    proxy: Any = None                      # models.ResidentProxy
    formatters: dict[str, Any] = field(default_factory=dict)  # alias -> Jinja2ChatFormatter | None
    load_error: str | None = None          # server-side message (may hold a path: never sent to clients)
    drain: servekit.Drain | None = None    # set by server.serve()
    loaded: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        s = self.settings
        if self.gate is None:
            self.gate = Gate(s.max_concurrent, s.max_queue, s.queue_timeout_s)

    @property
    def draining(self) -> bool:
        """True from the first SIGTERM/SIGINT on."""
        return self.drain is not None and self.drain.draining

    @property
    def ready(self) -> bool:
        """Models loaded, no load error, not draining."""
        return self.app is not None and self.load_error is None and not self.draining

    def status(self) -> str:
        """Readiness status: one of servekit's READY, LOADING, DRAINING, FAILED."""
        if self.load_error:
            return servekit.FAILED
        if self.draining:
            return servekit.DRAINING
        return servekit.READY if self.app is not None else servekit.LOADING

    def busy(self) -> int:
        """Requests generating or waiting for a slot."""
        return self.gate.running + self.gate.waiting  # type: ignore[union-attr]

    def aliases(self) -> list[str]:
        """Served model names, default first."""
        return list(self.proxy.loaded) if self.proxy is not None else []
