"""The FastAPI app: OpenAI-compatible ``POST /v1/embeddings`` on ONNX Runtime with micro-batching.

``create_app`` wires the parts together: settings → state (``state``), metrics (``metrics``), error handlers
(``errors``), routes (``routes``), body limit + latency + in-flight count (``middleware``), and the lifespan
below, which loads the model in a worker thread while ``/readyz`` answers 503 ``loading``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from .batcher import MicroBatcher
from .errors import install_error_handlers
from .loader import LoadFailed, load_embedder
from .metrics import Metrics
from .middleware import LimitAndMeasure
from .model import Embedder
from .routes import auth_dependencies, register_embeddings, register_models, register_page, register_probes
from .settings import Settings
from .state import ServiceState

log = logging.getLogger("onnx_embeddings")

UNSAFE_FAILURE = "model failed to load; the server log has the cause"
"""Readiness detail for an unexpected load error (its message may hold a path, so only the log gets it)."""


async def start_model(state: ServiceState, metrics: Metrics) -> None:
    """Load the model (unless one was passed in), start the batcher, warm up, then mark the state ready.

    On failure sets ``state.failure`` to a client-safe reason (``/readyz`` → 503 ``failed``) and logs the
    full cause; never raises (except ``CancelledError`` at shutdown).
    """
    s = state.settings
    try:
        if state.embedder is None:
            state.embedder = await asyncio.to_thread(load_embedder, s)
        emb = state.embedder
        state.batcher = MicroBatcher(emb.run, s.max_batch_size, s.max_wait_ms, s.max_queue,
                                     on_batch=metrics.on_batch)
        state.batcher.start()
        await state.batcher.submit(emb.tokenize(["warm up"]))  # first run allocates; keep it off users
        state.ready = True
        log.info("ready: %s on %s (%s)", emb.onnx_path.name, s.execution_provider, s.model_name)
    except LoadFailed as exc:
        state.failure = str(exc)
        log.error("model load failed: %s", exc, exc_info=exc)
    except Exception:  # noqa: BLE001 - reported by /readyz in safe words, logged in full
        state.failure = UNSAFE_FAILURE
        log.exception("model load failed")


def make_lifespan(state: ServiceState, metrics: Metrics) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The ASGI lifespan: start loading at startup; at shutdown stop serving and finish the batcher's queue."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        metrics.track_queue(state.queue_depth)
        loader = asyncio.create_task(start_model(state, metrics))
        yield
        state.stopping = True
        state.ready = False
        loader.cancel()
        if state.batcher:
            await state.batcher.stop()

    return lifespan


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    """Build the app from ``settings`` (default: ``Settings()`` from ``ONNX_EMB_*``).

    ``embedder`` may be passed in; otherwise ``load_embedder(settings)`` runs at startup. The returned app
    carries ``app.state.service`` (``ServiceState``; ``server.DrainingServer`` attaches its drain there),
    ``app.state.settings`` and ``app.state.metrics``.
    """
    s = settings or Settings()
    metrics = Metrics()
    state = ServiceState(s, embedder=embedder)
    # FastAPI's native OpenTelemetry hooks are off: metrics go to Prometheus (/metrics), and checking for
    # OTel providers on every request showed up in the profile under load
    app = FastAPI(title="onnx-embeddings", version="0.1.0", lifespan=make_lifespan(state, metrics),
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description="OpenAI-compatible text embeddings on ONNX Runtime with dynamic micro-batching.")
    app.state.service, app.state.settings, app.state.metrics = state, s, metrics
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    install_error_handlers(app, metrics)
    auth = auth_dependencies(s.api_key.get_secret_value() if s.api_key else None)
    register_embeddings(app, state, metrics, auth)
    register_models(app, state, auth)
    register_probes(app, state, metrics)
    register_page(app)
    # outermost user middleware: body limit before parsing, latency and in-flight count of everything else
    app.add_middleware(LimitAndMeasure, max_body=s.max_body_bytes, metrics=metrics, inflight=state.inflight)
    return app
