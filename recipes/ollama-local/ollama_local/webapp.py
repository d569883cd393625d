"""A small web app in front of Ollama: a chat page plus a proxy that adds what Ollama lacks.

Ollama has no authentication and should never listen on a public address (its docs: bind with OLLAMA_HOST; the
maintainers point to a reverse proxy for auth, ollama/ollama#849). The browser therefore talks to this app, and
this app talks to Ollama on 127.0.0.1:

* ``GET /`` the chat page (``static/index.html``: ``fetch`` + a stream reader, no framework);
* ``POST /api/chat`` the body of Ollama's ``/api/chat`` (``messages``, ``options.num_predict``/``temperature``),
  checked, forced to one model, and streamed back unchanged as Ollama's NDJSON; needs ``Authorization: Bearer
  <CHATAPP_API_KEY>`` when a key is set (constant-time compare, ``servekit.bearer_ok``);
* ``/healthz``, ``/readyz`` (ready when Ollama answers and has the model), ``/metrics`` (Prometheus), open.

Errors use Ollama's own shape, ``{"error": "message"}``: 400 malformed JSON, 401 key, 404 unknown model,
413 body too large, 422 wrong fields, 429 too many chats (``Retry-After``), 502/503 Ollama failed or is not
reachable (``Retry-After``), never a traceback or an internal address. Drain on SIGTERM: ``server.py``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, AsyncIterator, Literal, Optional

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .servekit import DRAINING, FAILED, LOADING, READY, bearer_ok, health_body, ready_body
from .settings import Settings

log = logging.getLogger("ollama_local.webapp")
STATIC = Path(__file__).resolve().parent / "static"


class ChatMessage(BaseModel):
    """One message: ``role`` system/user/assistant, ``content`` text."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class ChatOptions(BaseModel):
    """The options clients may set (others are the Modelfile's)."""

    model_config = ConfigDict(extra="forbid")
    num_predict: Optional[int] = Field(None, ge=1)
    temperature: Optional[float] = Field(None, ge=0, le=2)


class ChatBody(BaseModel):
    """Request body of ``POST /api/chat`` (a subset of Ollama's)."""

    model_config = ConfigDict(extra="forbid")
    model: Optional[str] = None
    messages: list[ChatMessage] = Field(min_length=1)
    options: ChatOptions = Field(default_factory=ChatOptions)
    stream: bool = True


def error(status: int, message: str, retry_after: Optional[int] = None, **headers: str) -> JSONResponse:
    """An error response in Ollama's shape ``{"error": message}``."""
    h = dict(headers)
    if retry_after is not None:
        h["Retry-After"] = str(retry_after)
    return JSONResponse({"error": message}, status_code=status, headers=h)


class AppState:
    """Counters the drain and the metrics read. ``busy()``: chats in flight (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self.drain: Any = None  # servekit.Drain, attached by server.py

    def enter(self) -> None:
        """A chat starts streaming."""
        with self._lock:
            self.in_flight += 1

    def leave(self) -> None:
        """A chat finished (or its client went away)."""
        with self._lock:
            self.in_flight -= 1

    def busy(self) -> int:
        """Chats streaming now."""
        with self._lock:
            return self.in_flight

    @property
    def draining(self) -> bool:
        """True from the first SIGTERM on (``/readyz`` answers 503)."""
        return bool(self.drain and self.drain.draining)

    @property
    def refusing(self) -> bool:
        """True once the drain delay is over: new chats get 503."""
        d = self.drain
        return bool(d and d.draining and d.started_at is not None and time.monotonic() - d.started_at >= d.delay_s)


def _validation_message(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(x) for x in e["loc"]) or "body"
    return f"{where}: {e['msg']}"


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    """The FastAPI app. Settings default to the environment (``CHATAPP_*``)."""
    s = settings or Settings()
    key = s.api_key.get_secret_value() if s.api_key else None
    state = AppState()
    registry = CollectorRegistry()
    requests = Counter("chatapp_requests_total", "Chat requests by status code", ["code"], registry=registry)
    in_flight = Gauge("chatapp_in_flight_chats", "Chats streaming now", registry=registry)
    in_flight.set_function(state.busy)
    ttfc = Histogram("chatapp_time_to_first_chunk_seconds", "Request start to Ollama's first chunk",
                     registry=registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
    upstream = httpx.AsyncClient(base_url=s.ollama_url, timeout=httpx.Timeout(s.upstream_timeout_s, connect=5))

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.aclose()

    app = FastAPI(title="ollama-local chat", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.chat = state
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/healthz")
    async def healthz() -> dict:
        return health_body()

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if state.draining:
            return JSONResponse(ready_body(DRAINING, [], "shutting down"), 503, headers={"Retry-After": "5"})
        try:
            r = await upstream.get("/api/tags", timeout=3)
            names = [m.get("name", "") for m in r.json().get("models", [])] if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            names = None
        if names is None:
            return JSONResponse(ready_body(FAILED, [], "Ollama is not reachable"), 503, headers={"Retry-After": "5"})
        if not any(n == s.model or n == f"{s.model}:latest" for n in names):
            return JSONResponse(ready_body(LOADING, [], f"model {s.model} is not in Ollama yet (make model)"), 503,
                                headers={"Retry-After": "5"})
        return JSONResponse(ready_body(READY, [s.model]))

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/chat")
    async def chat(request: Request) -> Response:
        resp = await _chat(request)
        requests.labels(str(resp.status_code)).inc()
        return resp

    async def _chat(request: Request) -> Response:
        if not bearer_ok(request.headers.get("authorization"), key):
            return error(401, "invalid api key", **{"WWW-Authenticate": "Bearer"})
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > s.max_body_bytes:
            return error(413, f"request body larger than {s.max_body_bytes} bytes")
        raw = b""
        async for part in request.stream():
            raw += part
            if len(raw) > s.max_body_bytes:
                return error(413, f"request body larger than {s.max_body_bytes} bytes")
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            return error(400, "request body is not valid JSON")
        try:
            body = ChatBody.model_validate(data)
        except ValidationError as exc:
            return error(422, _validation_message(exc))
        if body.model not in (None, "", s.model, f"{s.model}:latest"):
            return error(404, f"model '{body.model}' not found")
        if len(body.messages) > s.max_messages:
            return error(422, f"messages: at most {s.max_messages} messages")
        if any(len(m.content) > s.max_content_chars for m in body.messages):
            return error(422, f"messages: content longer than {s.max_content_chars} characters")
        if (body.options.num_predict or 0) > s.max_predict:
            return error(422, f"options.num_predict: at most {s.max_predict}")
        if state.refusing:
            return error(503, "shutting down", retry_after=5)
        if state.busy() >= s.max_concurrent:
            return error(429, f"{s.max_concurrent} chats are already streaming; retry shortly", retry_after=1)
        options = {"num_predict": body.options.num_predict or s.default_predict}
        if body.options.temperature is not None:
            options["temperature"] = body.options.temperature
        payload = {"model": s.model, "messages": [m.model_dump() for m in body.messages], "stream": body.stream,
                   "options": options}
        state.enter()
        t0 = time.perf_counter()
        try:
            up = await upstream.send(upstream.build_request("POST", "/api/chat", json=payload), stream=True)
        except httpx.HTTPError:
            state.leave()
            log.warning("Ollama at %s is not reachable", s.ollama_url)
            return error(503, "ollama is not reachable", retry_after=5)
        if up.status_code != 200:
            text = (await up.aread()).decode("utf-8", "replace")
            await up.aclose()
            state.leave()
            try:
                msg = str(json.loads(text).get("error", text))
            except (ValueError, AttributeError):
                msg = text
            status = up.status_code if 400 <= up.status_code < 500 else 502
            return error(status, f"ollama: {msg[:500]}", retry_after=5 if status == 502 else None)

        async def relay() -> AsyncIterator[bytes]:
            first = True
            try:
                async for line in up.aiter_lines():
                    if first:
                        ttfc.observe(time.perf_counter() - t0)
                        first = False
                    if line:
                        yield line.encode() + b"\n"
            except httpx.HTTPError:
                yield json.dumps({"error": "ollama stopped answering"}).encode() + b"\n"
            finally:
                await up.aclose()
                state.leave()

        media = "application/x-ndjson" if body.stream else "application/json"
        return StreamingResponse(relay(), media_type=media)

    return app
