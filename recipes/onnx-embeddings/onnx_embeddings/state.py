"""What the routes, the lifespan and the drain share: the loaded model, the batcher and the readiness state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .batcher import MicroBatcher
from .middleware import InFlight
from .model import Embedder
from .servekit import DRAINING, FAILED, LOADING, READY, Drain
from .settings import Settings


@dataclass
class ServiceState:
    """Mutable state of one app instance (all fields are touched on the event loop, except by ``busy``).

    embedder / batcher: set once the model is loaded; ready: warm-up done; failure: why loading failed, in
    words safe for a client; stopping: the ASGI lifespan is shutting down; drain: the ``servekit.Drain``
    the server attached (``None`` when the app runs under a plain ASGI server).
    """

    settings: Settings
    embedder: Embedder | None = None
    batcher: MicroBatcher | None = None
    ready: bool = False
    failure: str | None = None
    stopping: bool = False
    drain: Drain | None = None
    inflight: InFlight = field(default_factory=InFlight)

    @property
    def draining(self) -> bool:
        """True from the first SIGTERM/SIGINT (or lifespan shutdown) on: ``/readyz`` answers 503."""
        return self.stopping or (self.drain is not None and self.drain.draining)

    def accepting(self) -> bool:
        """Whether a new embeddings request is served: ready, and not past the drain delay.

        Policy (README, "Scale out"): during ``ONNX_EMB_DRAIN_DELAY_S`` new requests are still served, so
        traffic the load balancer sends before it notices the 503 readiness is not lost; after the delay new
        requests get 503 + ``Retry-After`` while the ones in flight finish.
        """
        if not self.ready or self.batcher is None or self.stopping:
            return False
        d = self.drain
        return not (d is not None and d.draining and d.started_at is not None
                    and time.monotonic() - d.started_at >= d.delay_s)

    def readiness(self) -> tuple[str, str | None]:
        """``(status, detail)`` for ``/readyz``: ready / draining / failed / loading, and why not ready."""
        if self.draining:
            return DRAINING, "shutting down"
        if self.failure:
            return FAILED, self.failure
        if self.ready:
            return READY, None
        return LOADING, "model is loading"

    def models(self) -> list[str]:
        """Served model ids: the model name once it is loaded and warm, else empty."""
        return [self.settings.model_name] if self.ready else []

    def queue_depth(self) -> int:
        """Sentences waiting in the batcher (0 before it exists)."""
        return self.batcher.depth if self.batcher else 0

    def busy(self) -> int:
        """Work a drain waits for: HTTP requests in flight plus sentences queued (thread-safe reads)."""
        return self.inflight() + self.queue_depth()
