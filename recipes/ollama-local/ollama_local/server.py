"""Run the web app with uvicorn and drain on SIGTERM/SIGINT (``servekit.Drain``).

1. First signal: ``/readyz`` answers 503 ``draining`` at once; for ``CHATAPP_DRAIN_DELAY_S`` new chats are still
   accepted (a load balancer polling readiness stops routing meanwhile).
2. After the delay new chats get 503 + ``Retry-After``; streaming chats continue, at most
   ``CHATAPP_DRAIN_TIMEOUT_S``.
3. uvicorn closes the listener and the process exits with status 0. A second signal stops at once.
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType
from typing import Optional

import uvicorn
from fastapi import FastAPI

from .servekit import Drain, configure_logging
from .settings import Settings
from .webapp import create_app

log = logging.getLogger("ollama_local.server")


class DrainingServer(uvicorn.Server):
    """``uvicorn.Server`` whose exit signals start a ``servekit.Drain`` on the app's in-flight chats."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, delay_s: float, timeout_s: float) -> None:
        super().__init__(config)
        state = app.state.chat
        self.drain = Drain(delay_s, timeout_s, busy=state.busy, stop=self._stop, log=log)
        state.drain = self.drain

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        """Signal handler: the first signal drains, a second one stops at once."""
        self.drain.begin(signal.Signals(sig).name)

    def _stop(self, force: bool) -> None:
        d = self.drain
        if d.started_at is not None:
            left = d.started_at + d.delay_s + d.timeout_s - time.monotonic()
            self.config.timeout_graceful_shutdown = max(1, int(left + 0.999))
        self.force_exit = force
        self.should_exit = True


def main() -> None:
    """``python -m ollama_local``: the chat page and proxy on CHATAPP_HOST:CHATAPP_PORT."""
    s = Settings()
    configure_logging(s.log_level)
    app = create_app(s)
    config = uvicorn.Config(app, host=s.host, port=s.port, log_level=s.log_level, access_log=False, log_config=None,
                            timeout_graceful_shutdown=max(1, int(s.drain_timeout_s + 0.999)))
    log.info("chat app on http://%s:%d, Ollama at %s, model %s", s.host, s.port, s.ollama_url, s.model)
    DrainingServer(config, app, s.drain_delay_s, s.drain_timeout_s).run()
