"""The HTTP routes, one registration function per responsibility.

``/v1/embeddings`` (the work), ``/v1/models`` and ``/v1/models/{id}`` (OpenAI model listing), ``/healthz`` /
``/readyz`` / ``/metrics`` (operations, open without a key), ``/`` (a small page that compares two sentences
through the API).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .batcher import QueueFull, Stopped
from .errors import ApiError
from .metrics import Metrics
from .schemas import ERRORS, EmbeddingRequest, EmbeddingResponse, Health, ModelCard, ModelList, Readiness
from .servekit import READY, bearer_ok, health_body, ready_body
from .state import ServiceState

STATIC = Path(__file__).resolve().parent / "static"
CREATED = int(time.time())
"""``created`` of the model card: when the process started (Unix seconds)."""


def auth_dependencies(api_key: str | None) -> list[Any]:
    """Route dependencies enforcing ``Authorization: Bearer <api_key>`` (empty list when no key is set).

    The ``HTTPBearer`` scheme only documents the requirement in OpenAPI; the check itself is
    ``servekit.bearer_ok`` (constant-time). Missing or wrong key → 401 ``invalid_api_key`` with
    ``WWW-Authenticate: Bearer``. Without a key the OpenAPI document declares no security.
    """
    if not api_key:
        return []
    bearer = HTTPBearer(auto_error=False, description="ONNX_EMB_API_KEY")

    async def check_key(request: Request, _: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if not bearer_ok(request.headers.get("authorization"), api_key):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <ONNX_EMB_API_KEY>'",
                           code="invalid_api_key")

    return [Depends(check_key)]


def not_ready(state: ServiceState) -> ApiError:
    """503 ``not_ready`` with ``Retry-After: 1``, saying (safely) why: draining, failed or loading."""
    status, detail = state.readiness()
    why = {"draining": "draining (shutting down)", "failed": f"model failed to load: {detail}"}.get(
        status, "model is loading")
    return ApiError(503, f"not ready: {why}", "server_error", code="not_ready", retry_after=1)


def register_embeddings(app: FastAPI, state: ServiceState, metrics: Metrics, auth: list[Any]) -> None:
    """``POST /v1/embeddings``: validate, tokenise, check limits, micro-batch, answer float or base64."""
    s = state.settings
    errors = {k: v for k, v in ERRORS.items() if k != 401 or auth}

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, responses=errors, dependencies=auth,
              summary="Create embeddings (OpenAI-compatible)")
    async def embeddings(req: EmbeddingRequest) -> Response:
        if not state.accepting():
            metrics.rejected.labels("not_ready").inc()
            raise not_ready(state)
        emb, batcher = state.embedder, state.batcher
        if req.model is not None and req.model != s.model_name:
            raise ApiError(404, f"model '{req.model}' not found; this server serves '{s.model_name}'",
                           param="model", code="model_not_found")
        if req.dimensions is not None and req.dimensions != emb.dim:
            raise ApiError(400, f"dimensions={req.dimensions} not supported; this model returns {emb.dim}",
                           param="dimensions", code="unsupported_dimensions")
        texts = [req.input] if isinstance(req.input, str) else req.input
        if len(texts) > s.max_inputs:
            metrics.rejected.labels("too_many_inputs").inc()
            raise ApiError(413, f"{len(texts)} inputs; the limit is {s.max_inputs} per request "
                                "(ONNX_EMB_MAX_INPUTS)", param="input", code="too_many_inputs")
        enc = emb.tokenize(texts)
        for i, e in enumerate(enc):
            if len(e) > emb.max_tokens:
                metrics.rejected.labels("too_many_tokens").inc()
                raise ApiError(400, f"input[{i}] has {len(e)} tokens; the limit is {emb.max_tokens} "
                                    "(the model's max_seq_length)", param="input", code="context_length_exceeded")
        try:
            vectors = await batcher.submit(enc)
        except QueueFull as exc:
            metrics.rejected.labels("queue_full").inc()
            raise ApiError(503, f"overloaded: {exc}; retry later", "server_error", code="queue_full",
                           retry_after=1) from exc
        except Stopped as exc:
            raise not_ready(state) from exc
        n_tokens = sum(len(e) for e in enc)
        metrics.tokens.inc(n_tokens)
        return Response(render_embeddings(vectors, req.encoding_format, s.model_name, n_tokens),
                        media_type="application/json")


def render_embeddings(vectors: Any, encoding_format: str, model: str, n_tokens: int) -> bytes:
    """The ``CreateEmbeddingResponse`` body for float32 ``vectors`` [n, dim] as JSON bytes.

    ``base64``: little-endian float32 bytes per row, as OpenAI. ``float``: orjson writes the shortest repr that
    round-trips to float32; with numpy rows it is ~10x cheaper than ``json.dumps`` of a list of floats, which
    dominated per-request CPU in the profile (README, "Measured results").
    """
    if encoding_format == "base64":
        items = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
    else:
        items = list(vectors)
    body = {"object": "list", "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": x} for i, x in enumerate(items)],
            "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def register_models(app: FastAPI, state: ServiceState, auth: list[Any]) -> None:
    """``GET /v1/models`` and ``GET /v1/models/{id}`` (404 for any other id)."""
    name = state.settings.model_name
    auth_err = {401: ERRORS[401]} if auth else {}

    def card() -> ModelCard:
        return ModelCard(id=name, created=CREATED, owned_by="onnx-embeddings")

    @app.get("/v1/models", response_model=ModelList, dependencies=auth, responses=auth_err)
    async def models() -> ModelList:
        return ModelList(data=[card()])

    @app.get("/v1/models/{model_id}", response_model=ModelCard, dependencies=auth,
             responses={**auth_err, 404: ERRORS[404]})
    async def model(model_id: str) -> ModelCard:
        if model_id != name:
            raise ApiError(404, f"model '{model_id}' not found", param="model", code="model_not_found")
        return card()


def register_probes(app: FastAPI, state: ServiceState, metrics: Metrics) -> None:
    """``/healthz`` (liveness), ``/readyz`` (readiness, 503 + ``Retry-After`` unless ready), ``/metrics``."""

    @app.get("/healthz", response_model=Health, summary="Liveness: the process answers")
    async def healthz() -> JSONResponse:
        return JSONResponse(health_body())

    @app.get("/readyz", response_model=Readiness,
             responses={503: {"model": Readiness, "description": "loading, draining or failed"}},
             summary="Readiness: model loaded and not draining")
    async def readyz() -> JSONResponse:
        status, detail = state.readiness()
        body = ready_body(status, state.models(), detail)
        if status == READY:
            return JSONResponse(body)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.get("/metrics", include_in_schema=False)
    async def prom() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)


def register_page(app: FastAPI) -> None:
    """``GET /``: the similarity page (static HTML whose script calls ``/v1/embeddings``)."""
    index_html = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html)
