"""Run the server with uvicorn, draining in-flight requests on SIGTERM (``servekit.Drain``).

Shutdown sequence on the first SIGTERM/SIGINT:

1. ``/readyz`` turns 503 ``draining`` and, from that moment, new generation requests get 503 +
   ``Retry-After`` (this recipe's policy: an LLM request can outlast the whole drain budget, so a
   request accepted late might be cut; refusing it lets the client retry another replica at once);
2. wait ``LLAMACPP_DRAIN_DELAY_S`` (default 0; raise it when a load balancer polls ``/readyz``);
3. requests already generating or queued finish, for up to ``LLAMACPP_DRAIN_TIMEOUT_S``;
   SSE streams end normally with ``data: [DONE]``;
4. uvicorn stops: streams still open after the timeout are closed by sse-starlette's
   shutdown hook (the client sees the stream end, not a hang); exit code 0.

A second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import uvicorn
from sse_starlette.sse import AppStatus

from . import servekit
from .app import create_server_app
from .guard import Guard
from .settings import Settings

log = logging.getLogger("llamacpp_server")


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose signal handler starts :class:`servekit.Drain` instead of stopping."""

    def __init__(self, config: uvicorn.Config, guard: Guard) -> None:
        super().__init__(config)
        self.guard = guard
        s = guard.rt.settings
        self.drain = servekit.Drain(s.drain_delay_s, s.drain_timeout_s, guard.rt.busy, self._stop, log)
        guard.rt.drain = self.drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # noqa: D102 - see class
        self.guard.rt.metrics.ready.set(0)
        self.drain.begin(signal.Signals(sig).name)

    def _stop(self, force: bool) -> None:
        # Set the flags directly instead of calling uvicorn's handler: that one records the
        # signal and re-raises it after shutdown, turning a clean drain into exit code 143.
        AppStatus.should_exit = True  # sse-starlette: close any stream still open
        if force or self.should_exit:
            self.force_exit = True
        self.should_exit = True


def serve(settings: Settings | None = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code (1 if the models failed to load)."""
    settings = settings or Settings()
    servekit.configure_logging(settings.log_level)
    guard = create_server_app(settings, background=True)
    config = uvicorn.Config(guard, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=5, lifespan="on", log_config=None)
    server = DrainingServer(config, guard)

    def stop_on_load_error() -> None:
        guard.rt.loaded.wait()
        if guard.rt.load_error:
            server.should_exit = True
        else:
            log.info("ready: models %s on http://%s:%d", guard.rt.aliases(), settings.host, settings.port)

    threading.Thread(target=stop_on_load_error, daemon=True).start()
    server.run()
    return 1 if guard.rt.load_error else 0
