"""Run the service with uvicorn and drain gracefully on SIGTERM/SIGINT (``servekit.Drain``).

Shutdown sequence (CONTRIBUTING.md, "Server conventions"; what a load balancer or Kubernetes expects):

1. First SIGTERM/SIGINT → ``/readyz`` answers 503 ``draining`` at once. For ``ONNX_EMB_DRAIN_DELAY_S`` new
   requests are still served, so the load balancer can notice and stop routing to us.
2. After the delay new embeddings requests get 503 + ``Retry-After``; the drain waits until no request is in
   flight or queued, at most ``ONNX_EMB_DRAIN_TIMEOUT_S``.
3. uvicorn closes the listener and idle keep-alive connections, runs the app's shutdown (the batcher
   finishes its queue) and the process exits with status 0. A second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .app import create_app
from .servekit import Drain, configure_logging
from .settings import Settings

log = logging.getLogger("onnx_embeddings")


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose exit signals go to a ``servekit.Drain`` wired to the app's in-flight count.

    Unlike the stock server it does not re-raise the signal after shutdown, so a drained exit is status 0.
    """

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay_s: float, timeout_s: float) -> None:
        super().__init__(config)
        service = app.state.service
        self.drain = Drain(delay_s, timeout_s, busy=service.busy, stop=self._stop, log=log)
        service.drain = self.drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Signal handler (main thread): the first signal starts the drain, a later one stops at once."""
        self.drain.begin(signal.Signals(sig).name)

    def _stop(self, force: bool) -> None:
        """Drain callback (drain thread): let uvicorn's main loop, which polls every 0.1 s, shut down.

        What is left of the drain timeout bounds uvicorn's own wait for open connections (at least 1 s).
        """
        d = self.drain
        if d.started_at is not None:
            left = d.started_at + d.delay_s + d.timeout_s - time.monotonic()
            self.config.timeout_graceful_shutdown = max(1, int(left + 0.999))
        self.force_exit = force
        self.should_exit = True


def main() -> None:
    """Entry point: ``python -m onnx_embeddings`` (settings from ``ONNX_EMB_*``)."""
    s = Settings()
    configure_logging(s.log_level)
    app = create_app(s)
    config = uvicorn.Config(app, host=s.host, port=s.port, log_level=s.log_level, loop="uvloop",
                            http="httptools", timeout_graceful_shutdown=max(1, int(s.drain_timeout_s + 0.999)),
                            access_log=False, log_config=None)
    DrainingServer(config, app, s.drain_delay_s, s.drain_timeout_s).run()


if __name__ == "__main__":
    main()
