"""Run the server with uvicorn, draining in-flight requests on SIGTERM.

Shutdown sequence on the first SIGTERM/SIGINT:

1. ``/readyz`` turns 503 and new generation requests get 503 + ``Retry-After``
   (a load balancer stops routing here; clients retry elsewhere);
2. requests already generating or queued finish, for up to ``LLAMACPP_DRAIN_TIMEOUT_S``;
   SSE streams end normally with ``data: [DONE]``;
3. uvicorn stops: streams still open after the timeout are closed by sse-starlette's
   shutdown hook (the client sees the stream end, not a hang); exit code 0.

A second signal skips the wait.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import Optional

import uvicorn
from sse_starlette.sse import AppStatus

from .app import create_server_app
from .guard import Guard
from .settings import Settings


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose signal handler drains before it stops (see module docstring)."""

    def __init__(self, config: uvicorn.Config, guard: Guard) -> None:
        super().__init__(config)
        self.guard = guard
        self._drain_started = False

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:  # noqa: D102 - see class
        rt = self.guard.rt
        if self._drain_started:
            self._stop()  # second signal: stop now
            return
        self._drain_started = True
        rt.draining = True
        rt.metrics.ready.set(0)
        print(f"signal {signal.Signals(sig).name}: draining {rt.busy()} request(s), "
              f"up to {rt.settings.drain_timeout_s:g} s", file=sys.stderr, flush=True)
        threading.Thread(target=self._drain_then_stop, name="drain", daemon=True).start()

    def _drain_then_stop(self) -> None:
        rt = self.guard.rt
        deadline = time.monotonic() + rt.settings.drain_timeout_s
        while rt.busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        if rt.busy():
            print(f"drain timeout: closing {rt.busy()} request(s)", file=sys.stderr, flush=True)
        self._stop()

    def _stop(self) -> None:
        # Set the flags directly instead of calling uvicorn's handler: that one records the
        # signal and re-raises it after shutdown, turning a clean drain into exit code 143.
        AppStatus.should_exit = True  # sse-starlette: close any stream still open
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def serve(settings: Optional[Settings] = None) -> int:
    """Serve until SIGTERM/SIGINT; returns the process exit code (1 if the models failed to load)."""
    settings = settings or Settings()
    guard = create_server_app(settings, background=True)
    config = uvicorn.Config(guard, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=5, lifespan="on")
    server = DrainingServer(config, guard)

    def stop_on_load_error() -> None:
        guard.rt.loaded.wait()
        if guard.rt.load_error:
            server.should_exit = True
        else:
            print(f"ready: models {guard.rt.aliases()} on http://{settings.host}:{settings.port}",
                  file=sys.stderr, flush=True)

    threading.Thread(target=stop_on_load_error, daemon=True).start()
    server.run()
    return 1 if guard.rt.load_error else 0
