"""Run the service with uvicorn, draining gracefully on SIGTERM/SIGINT.

Shutdown sequence (what a load balancer or Kubernetes expects):

1. SIGTERM arrives → ``/readyz`` answers 503 at once; requests are still accepted and served for
   ``ONNX_EMB_DRAIN_SECONDS`` so the load balancer can notice and stop routing to us.
2. Then uvicorn stops accepting connections, lets in-flight requests finish (up to 30 s), closes idle
   keep-alive connections, and runs the app's shutdown (the batcher finishes its queue).
3. The process exits with status 0. A second SIGTERM/SIGINT skips the drain wait.
"""

from __future__ import annotations

import logging
import signal
import threading

import uvicorn

from .app import create_app
from .settings import Settings

log = logging.getLogger("onnx_embeddings")


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose first exit signal flips readiness and waits ``drain_seconds`` before exiting.

    Unlike the stock server it does not re-raise the signal after shutdown, so a drained exit is status 0.
    """

    def __init__(self, config: uvicorn.Config, app, drain_seconds: float) -> None:
        super().__init__(config)
        self._app = app
        self.drain_seconds = drain_seconds
        self._draining = False

    def handle_exit(self, sig: int, frame) -> None:  # called from the signal handler (main thread)
        if self._draining:  # second signal: stop waiting
            self.should_exit = True
            if sig == signal.SIGINT:
                self.force_exit = True
            return
        self._draining = True
        self._app.state.draining = True
        log.info("signal %s: readiness → 503, draining for %.1f s", signal.Signals(sig).name, self.drain_seconds)
        timer = threading.Timer(self.drain_seconds, self._stop)
        timer.daemon = True
        timer.start()

    def _stop(self) -> None:
        self.should_exit = True  # uvicorn's main loop polls this every 0.1 s


def main() -> None:
    """Entry point: ``python -m onnx_embeddings`` (settings from ``ONNX_EMB_*``)."""
    s = Settings()
    logging.basicConfig(level=s.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(s)
    config = uvicorn.Config(app, host=s.host, port=s.port, log_level=s.log_level, loop="uvloop",
                            http="httptools", timeout_graceful_shutdown=30, access_log=False)
    DrainingServer(config, app, s.drain_seconds).run()


if __name__ == "__main__":
    main()
