"""The FastAPI app: OpenAI-compatible ``POST /v1/embeddings`` on ONNX Runtime with micro-batching.

Routes: ``POST /v1/embeddings``, ``GET /v1/models``, ``GET /v1/models/{id}``, ``GET /healthz`` (liveness),
``GET /readyz`` (model loaded and not draining), ``GET /metrics`` (Prometheus), ``GET /`` (a small page
that computes the similarity of two sentences through the API).

Errors use OpenAI's shape ``{"error": {"message", "type", "param", "code"}}`` so the ``openai`` client
raises its usual exceptions: 400 too many tokens / empty text, 401 bad API key, 404 unknown model,
413 body or input list too large, 422 malformed JSON or wrong types, 503 loading / draining / queue full
(with ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, Field, StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from .batcher import MicroBatcher, QueueFull, Stopped
from .settings import Settings

log = logging.getLogger("onnx_embeddings")
STATIC = Path(__file__).resolve().parent / "static"
CREATED = int(time.time())

# ----------------------------------------------------------------------------------------------
# Schemas (they are the OpenAPI document that clients and schemathesis see)
# ----------------------------------------------------------------------------------------------
Text = Annotated[str, StringConstraints(min_length=1)]


class EmbeddingRequest(BaseModel):
    """OpenAI ``CreateEmbeddingRequest`` (text inputs only; token-id arrays are not accepted)."""

    input: Text | Annotated[list[Text], Field(min_length=1)] = Field(
        ..., description="a string or a non-empty list of non-empty strings", examples=["A cat sits on the mat."])
    model: str | None = Field(None, description="must equal the served model id when given")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64 = little-endian float32 bytes, as OpenAI")
    dimensions: int | None = Field(None, ge=1, description="accepted only if equal to the model's dimension")
    user: str | None = Field(None, description="ignored")


class Embedding(BaseModel):
    """One vector: float32 values as a JSON list, or base64 of little-endian float32 bytes (4 × dim bytes)."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    """Token counts (tokenizer tokens including [CLS]/[SEP]); prompt_tokens == total_tokens for embeddings."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    """OpenAI ``CreateEmbeddingResponse``: ``data[i]`` is the embedding of ``input[i]``."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class ModelCard(BaseModel):
    """OpenAI ``Model`` object (``created`` = server start, Unix seconds)."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    """OpenAI ``ListModelsResponse``."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorDetail(BaseModel):
    """OpenAI error fields: human-readable ``message``, ``type``, offending ``param``, machine ``code``."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: ``{"error": {...}}``."""

    error: ErrorDetail


class Status(BaseModel):
    """Probe answer: ``ok`` / ``ready`` / ``loading`` / ``draining`` / ``failed: ...``."""

    status: str


def _err(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
         code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorResponse, "description": d} for c, d in {
        400: "too many tokens, or unsupported dimensions", 401: "missing or wrong API key",
        404: "unknown model", 413: "request body or input list too large",
        422: "malformed JSON or wrong types", 503: "loading, draining or queue full (see Retry-After)"}.items()}


class ApiError(Exception):
    """Raised inside handlers; rendered as an OpenAI-style error response."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.retry_after = retry_after


# ----------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------
class Metrics:
    """Prometheus metrics in a per-app registry (several apps can live in one process, e.g. in tests)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("onnx_emb_request_duration_seconds", "HTTP request latency (s)",
                                 ["route", "status"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.batch_size = Histogram("onnx_emb_batch_size", "sentences per ORT session.run", registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
        self.infer_seconds = Histogram("onnx_emb_inference_seconds", "duration of one ORT session.run (s)",
                                       registry=r, buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1))
        self.queue_depth = Gauge("onnx_emb_queue_depth", "sentences waiting for a batch", registry=r)
        self.tokens = Counter("onnx_emb_tokens", "input tokens embedded", registry=r)
        self.rejected = Counter("onnx_emb_rejected", "requests refused before inference", ["reason"], registry=r)


# ----------------------------------------------------------------------------------------------
# ASGI middleware: body-size limit + request latency (pure ASGI: cheaper than BaseHTTPMiddleware)
# ----------------------------------------------------------------------------------------------
class LimitAndMeasure:
    """Reject bodies over ``max_body`` bytes with 413 (before the app parses them) and time requests."""

    def __init__(self, app, max_body: int, metrics: Metrics) -> None:
        self.app, self.max_body, self.metrics = app, max_body, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        t0 = time.perf_counter()
        status_holder = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            await send(message)

        if scope["method"] in ("POST", "PUT", "PATCH"):
            too_big = False
            for k, v in scope["headers"]:
                if k == b"content-length":
                    try:
                        too_big = int(v) > self.max_body
                    except ValueError:
                        too_big = False
            body, more = b"", True
            if not too_big:
                while more:  # read the (bounded) body now, replay it to the app
                    msg = await receive()
                    if msg["type"] == "http.disconnect":
                        return
                    body += msg.get("body", b"")
                    more = msg.get("more_body", False)
                    if len(body) > self.max_body:
                        too_big = True
                        break
            if too_big:
                self.metrics.rejected.labels("body_too_large").inc()
                resp = _err(413, f"request body exceeds {self.max_body} bytes (ONNX_EMB_MAX_BODY_BYTES)",
                            code="body_too_large")
                await resp(scope, receive, send_wrapper)
                self._observe(path, status_holder[0], t0)
                return
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_wrapper)
        else:
            await self.app(scope, receive, send_wrapper)
        self._observe(path, status_holder[0], t0)

    def _observe(self, path: str, status: int, t0: float) -> None:
        if path != "/metrics":
            route = path if path in ("/v1/embeddings", "/v1/models", "/healthz", "/readyz", "/") else "other"
            self.metrics.latency.labels(route, str(status)).observe(time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------
# The app
# ----------------------------------------------------------------------------------------------
def _load_embedder(s: Settings):
    """Export if needed (``export_on_start``), then build the Embedder. Runs in a thread at startup."""
    from .model import Embedder

    model_dir = s.resolved_model_dir()
    onnx_path = s.resolved_onnx_path()
    if s.export_on_start and s.onnx_path is None:
        from .export import export_all

        export_all(model_dir, s.onnx_dir)
    if not onnx_path.exists():
        raise FileNotFoundError(f"{onnx_path} not found: run `make export` or set ONNX_EMB_EXPORT_ON_START=1")
    return Embedder(onnx_path, model_dir, s.execution_provider, s.intra_op_threads, s.graph_optimization,
                    s.max_tokens, s.intra_op_spinning)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """Turn pydantic's error list into one clear sentence (and the offending parameter)."""
    errs = exc.errors()
    if not errs:
        return "invalid request", None
    if any(e.get("type") == "json_invalid" for e in errs):
        e = next(e for e in errs if e.get("type") == "json_invalid")
        return f"request body is not valid JSON: {e.get('ctx', {}).get('error', e.get('msg'))}", None
    e = max(errs, key=lambda x: len(x.get("loc", ())))  # the most specific error
    loc = [str(x) for x in e.get("loc", ()) if x != "body"]
    if not loc:
        return ("request body must be a JSON object such as {\"input\": \"text\"}, sent with "
                f"Content-Type: application/json ({e.get('msg')})"), None
    if loc[0] == "input":
        where = "".join(f"[{x}]" for x in loc[1:] if x.isdigit())
        return ("'input' must be a non-empty string or a non-empty list of non-empty strings; "
                f"input{where}: {e.get('msg')}"), "input"
    return f"{'.'.join(loc)}: {e.get('msg')}", loc[0]


def create_app(settings: Settings | None = None, embedder: Any = None) -> FastAPI:
    """Build the app. ``embedder`` (an ``Embedder``) may be passed in; otherwise it is loaded at startup
    in a background thread while ``/readyz`` answers 503 ("loading").
    """
    s = settings or Settings()
    metrics = Metrics()
    bearer = HTTPBearer(auto_error=False, description="ONNX_EMB_API_KEY")
    api_key = s.api_key.get_secret_value() if s.api_key else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        st = app.state
        st.ready, st.draining, st.load_error, st.embedder, st.batcher = False, False, None, embedder, None

        async def load() -> None:
            try:
                if st.embedder is None:
                    st.embedder = await asyncio.to_thread(_load_embedder, s)
                emb = st.embedder
                st.batcher = MicroBatcher(emb.run, s.max_batch_size, s.max_wait_ms, s.max_queue,
                                          on_batch=on_batch)
                st.batcher.start()
                await st.batcher.submit(emb.tokenize(["warm up"]))  # first run allocates; keep it off users
                st.ready = True
                log.info("ready: %s on %s (%s)", emb.onnx_path.name, s.execution_provider, s.model_name)
            except Exception as exc:  # noqa: BLE001 - reported by /readyz, logged
                st.load_error = f"{type(exc).__name__}: {exc}"
                log.exception("model load failed")

        def on_batch(n: int, seconds: float) -> None:
            metrics.batch_size.observe(n)
            metrics.infer_seconds.observe(seconds)

        metrics.queue_depth.set_function(lambda: app.state.batcher.depth if app.state.batcher else 0)
        loader = asyncio.create_task(load())
        yield
        st.ready = False
        st.draining = True
        loader.cancel()
        if st.batcher:
            await st.batcher.stop()

    # FastAPI's native OpenTelemetry hooks are off: metrics go to Prometheus (/metrics), and checking for
    # OTel providers on every request showed up in the profile under load
    app = FastAPI(title="onnx-embeddings", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  description="OpenAI-compatible text embeddings on ONNX Runtime with dynamic micro-batching.")
    app.state.settings = s
    app.state.metrics = metrics
    app.state.ready, app.state.draining, app.state.batcher, app.state.load_error = False, False, None, None

    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    async def check_key(creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        if creds is None or not secrets.compare_digest(creds.credentials.encode(), api_key.encode()):
            raise ApiError(401, "missing or wrong API key: send 'Authorization: Bearer <ONNX_EMB_API_KEY>'",
                           code="invalid_api_key")

    # the OpenAPI document declares Bearer auth (and 401) only when a key is configured
    auth = [Depends(check_key)] if api_key else []
    auth_err = {401: ERRORS[401]} if api_key else {}
    errors = {k: v for k, v in ERRORS.items() if k != 401 or api_key}

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return _err(exc.status, exc.message, exc.type, exc.param, exc.code, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.rejected.labels("validation").inc()
        msg, param = _validation_message(exc)
        return _err(422, msg, param=param, code="invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in msg:  # FastAPI's words for undecodable bytes
            msg = "request body could not be decoded: send UTF-8 JSON with Content-Type: application/json"
        return _err(exc.status_code, msg, headers=getattr(exc, "headers", None))

    def not_ready() -> ApiError:
        st = app.state
        why = "draining (shutting down)" if st.draining else (
            f"model failed to load: {st.load_error}" if st.load_error else "model is loading")
        return ApiError(503, f"not ready: {why}", "server_error", code="not_ready", retry_after=1)

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, responses=errors, dependencies=auth, summary="Create embeddings (OpenAI-compatible)")
    async def embeddings(req: EmbeddingRequest) -> Response:
        st = app.state
        if not st.ready or st.batcher is None:
            metrics.rejected.labels("not_ready").inc()
            raise not_ready()
        emb = st.embedder
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
            vectors = await st.batcher.submit(enc)
        except QueueFull as exc:
            metrics.rejected.labels("queue_full").inc()
            raise ApiError(503, f"overloaded: {exc}; retry later", "server_error", code="queue_full",
                           retry_after=1) from exc
        except Stopped as exc:
            raise not_ready() from exc
        n_tokens = sum(len(e) for e in enc)
        metrics.tokens.inc(n_tokens)
        if req.encoding_format == "base64":
            items = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors]
        else:
            items = list(vectors)  # float32 rows; orjson writes the shortest repr that round-trips to float32
        body = {"object": "list", "model": s.model_name,
                "data": [{"object": "embedding", "index": i, "embedding": x} for i, x in enumerate(items)],
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}
        # orjson + numpy: ~10x cheaper than json.dumps(list of floats), which dominated per-request CPU
        return Response(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")

    def card() -> ModelCard:
        return ModelCard(id=s.model_name, created=CREATED, owned_by="onnx-embeddings")

    @app.get("/v1/models", response_model=ModelList, dependencies=auth, responses=auth_err)
    async def models() -> ModelList:
        return ModelList(data=[card()])

    @app.get("/v1/models/{model_id}", response_model=ModelCard, dependencies=auth,
             responses={**auth_err, 404: ERRORS[404]})
    async def model(model_id: str) -> ModelCard:
        if model_id != s.model_name:
            raise ApiError(404, f"model '{model_id}' not found", param="model", code="model_not_found")
        return card()

    @app.get("/healthz", response_model=Status, summary="Liveness: the process answers")
    async def healthz() -> Status:
        return Status(status="ok")

    @app.get("/readyz", response_model=Status, responses={503: {"model": Status, "description": "not ready"}},
             summary="Readiness: model loaded and not draining")
    async def readyz() -> Response:
        st = app.state
        if st.ready and not st.draining:
            return JSONResponse({"status": "ready"})
        why = "draining" if st.draining else ("failed: " + st.load_error if st.load_error else "loading")
        return JSONResponse({"status": why}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/metrics", include_in_schema=False)
    async def prom() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    index_html = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(index_html)

    # outermost user middleware: body limit before parsing, latency of everything else
    app.add_middleware(LimitAndMeasure, max_body=s.max_body_bytes, metrics=metrics)
    return app
