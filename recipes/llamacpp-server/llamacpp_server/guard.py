"""What llama-cpp-python's server lacks, as one ASGI layer in front of it.

The library's OpenAI-compatible FastAPI app (``llama_cpp.server.app.create_app``) does the
serving: ``/v1/chat/completions`` and ``/v1/completions`` (SSE streaming), ``/v1/models``,
``/extras/tokenize[/count]``, ``/extras/detokenize``, grammars, ``response_format``.
:class:`Guard` wraps it and adds:

* probes (``/healthz``, ``/readyz``) and Prometheus ``/metrics``, open without a key;
* auth on every model endpoint (``/v1/*``, ``/extras/*``): constant-time bearer check, 401 with
  ``WWW-Authenticate: Bearer`` (the library checks only its own routes' dependency, with ``==``);
* for every POST body to a model endpoint: a size limit (413), strict JSON parsing and request
  checks (:mod:`.checks`: 400/404/422), then the re-serialised body is forwarded;
* for the two generation routes: the admission :class:`~.gate.Gate` (429/503 + ``Retry-After``),
  draining (503 + ``Retry-After`` from the first signal), latency/TTFT/token metrics;
* an error layer: every 4xx/5xx answer is OpenAI's ``{"error": {...}}``; a 500 never carries the
  library's message (it can hold a traceback or file path): a generic message goes to the client
  and the details to the server log.

Models load in a background thread so liveness answers during load.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import servekit
from .checks import EXTRAS_ROUTES, ApiError, check_extras, check_request, parse_json
from .metrics import Metrics
from .runtime import ASGIApp, Receive, Runtime, Send

log = logging.getLogger("llamacpp_server")


#: Generation routes guarded here -> short route label for metrics.
GEN_ROUTES = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}

#: Paths that need the API key when one is set (every model endpoint).
MODEL_PREFIXES = ("/v1/", "/extras/")

#: Library routes this server does not serve (removed from the app and its OpenAPI document).
REMOVED_ROUTES = {
    "/v1/embeddings": "Embeddings are not enabled on this server: its models load for generation "
                      "(llama-cpp-python embedding=False). Use an embeddings server, e.g. the onnx-embeddings recipe.",
    "/v1/engines/copilot-codex/completions": "This legacy route is not served; use /v1/completions.",
}

#: Bodies up to this size are checked on the event loop (template render + tokenise: ~0.3 ms
#: for a short chat); larger ones in a worker thread.
INLINE_CHECK_BYTES = 16_384

#: Largest error body from the library that is rewritten; error bodies are a few hundred bytes.
MAX_ERROR_BODY = 65_536

#: Headers of a library error response kept when its body is rewritten.
_KEEP_HEADERS = (b"retry-after", b"allow", b"www-authenticate")


# --------------------------------------------------------------------------------------
# small ASGI helpers
# --------------------------------------------------------------------------------------

async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None,
                     content_type: bytes = b"application/json") -> None:
    hdrs = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())] + (headers or [])
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """Whole request body, or ``None`` if the client disconnected. Raises ApiError 413 over ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"Request body over {limit} bytes", "body_too_large")
        chunks.append(chunk)
        if not msg.get("more_body", False):
            return b"".join(chunks)


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _preflight(scope: dict) -> bool:
    """A CORS preflight (browsers send it without credentials; the CORS layer answers it, no route runs)."""
    return scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None


def _replay(scope: dict, receive: Receive, payload: dict) -> tuple[dict, Receive]:
    """A scope + receive that hand ``payload`` (re-serialised JSON) to the library as the body."""
    body = json.dumps(payload).encode()
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-type")]
    inner = dict(scope, headers=headers + [(b"content-length", str(len(body)).encode()),
                                           (b"content-type", b"application/json")])
    replayed = False

    async def replay() -> dict:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner, replay


def _error_message(status: int, body: bytes) -> tuple[str, str | None, str | None]:
    """(message, param, code) for a library 4xx body, in words safe to show (no tracebacks, no paths)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str) and status < 500:
        return err["message"], err.get("param"), err.get("code")
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str) and status < 500:
        return detail[:500], None, None
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else f"HTTP {status}", None, None


_CODES = {400: "bad_request", 401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed",
          413: "body_too_large", 415: "unsupported_media_type", 422: "invalid_request"}


async def _send_openai_error(send: Send, start: dict, body: bytes) -> None:
    """Answer a library error response (``start`` + ``body``) in OpenAI's error shape."""
    status = start["status"]
    kept = [(k, v) for k, v in start.get("headers", []) if k.lower() in _KEEP_HEADERS]
    if status >= 500:
        log.error("library answered %d: %s", status, body[:2000].decode("utf-8", "replace"))
        err = ApiError(status, "Internal server error; the server log has the details", "internal_error",
                       type="server_error")
    else:
        message, param, code = _error_message(status, body)
        err = ApiError(status, message, code or _CODES.get(status, f"http_{status}"), param)
    await _send_json(send, status, err.body(), kept)


async def call_shielded(app: ASGIApp, scope: dict, receive: Receive, send: Send) -> None:
    """Run ``app``; rewrite its 4xx/5xx answers to OpenAI's error shape (5xx: generic message);
    an exception before the response started becomes a generic 500 (logged with its traceback)."""
    held: dict | None = None
    chunks: list[bytes] = []
    started = False

    async def shield_send(message: dict) -> None:
        nonlocal held, started
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held = message
            return
        if held is not None and message["type"] == "http.response.body":
            if sum(map(len, chunks)) < MAX_ERROR_BODY:
                chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                started = True
                await _send_openai_error(send, held, b"".join(chunks))
            return
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, receive, shield_send)
    except Exception:
        if started:
            raise
        log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
        await _send_json(send, 500, ApiError(500, "Internal server error; the server log has the details",
                                             "internal_error", type="server_error").body())


# --------------------------------------------------------------------------------------
# the ASGI layer
# --------------------------------------------------------------------------------------

class Guard:
    """ASGI app: probes, metrics, auth, body checks, gate and drain around the library's app.

    ``rt.app`` is ``None`` until the models are loaded; until then every route other than
    ``/healthz``, ``/readyz`` and ``/metrics`` answers 503 with ``Retry-After``.
    """

    def __init__(self, rt: Runtime, on_startup: Callable[[], None] | None = None,
                 on_shutdown: Callable[[], None] | None = None) -> None:
        self.rt = rt
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            if self.rt.app is not None:
                return await self.rt.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._http(scope, receive, tracked)
        except Exception:  # last line: our own bug; never a traceback to the client
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(send, 500, ApiError(500, "Internal server error; the server log has the details",
                                                     "internal_error", type="server_error").body())

    async def _http(self, scope: dict, receive: Receive, send: Send) -> None:
        rt, path = self.rt, scope["path"]
        if path == "/healthz":
            return await _send_json(send, 200, json.dumps(servekit.health_body()).encode())
        if path == "/readyz":
            return await self._readyz(send)
        if path == "/metrics":
            return await self._metrics(send)
        if path.startswith(MODEL_PREFIXES) and not _preflight(scope) and \
                not servekit.bearer_ok(_header(scope, b"authorization"), rt.settings.key()):
            return await self._reject(send, ApiError(401, "Invalid or missing API key (Authorization: Bearer <key>)",
                                                     "invalid_api_key"), "unauthorized",
                                      [(b"www-authenticate", b"Bearer")])
        if rt.app is None:
            message = "Model load failed; see the server log" if rt.load_error else "Models are loading; retry shortly"
            return await self._reject(send, ApiError(503, message, "not_ready", type="server_error", retry_after=5),
                                      "not_ready")
        if path in REMOVED_ROUTES:
            return await self._reject(send, ApiError(404, REMOVED_ROUTES[path], "not_found"), "invalid")
        if scope["method"] == "POST" and path in GEN_ROUTES:
            return await self._generate(scope, receive, send, GEN_ROUTES[path])
        if scope["method"] == "POST" and path in EXTRAS_ROUTES:
            return await self._extras(scope, receive, send, EXTRAS_ROUTES[path])
        return await call_shielded(rt.app, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                if self.on_startup:
                    self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _readyz(self, send: Send) -> None:
        rt = self.rt
        status = rt.status()
        detail = {servekit.LOADING: "models are loading", servekit.DRAINING: "shutting down (signal received)",
                  servekit.FAILED: "model load failed; see the server log"}.get(status)
        body = json.dumps(servekit.ready_body(status, rt.aliases(), detail)).encode()
        headers = [] if status == servekit.READY else [(b"retry-after", b"5")]
        await _send_json(send, 200 if status == servekit.READY else 503, body, headers)

    async def _metrics(self, send: Send) -> None:
        m, gate = self.rt.metrics, self.rt.gate
        m.ready.set(1 if self.rt.ready else 0)
        m.in_flight.set(gate.running)
        m.queued.set(gate.waiting)
        await _send_json(send, 200, generate_latest(m.registry), content_type=CONTENT_TYPE_LATEST.encode())

    async def _reject(self, send: Send, err: ApiError, reason: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.rt.metrics.rejected.labels(reason).inc()
        hdrs = list(headers or [])
        if err.retry_after is not None:
            hdrs.append((b"retry-after", str(err.retry_after).encode()))
        await _send_json(send, err.status, err.body(), hdrs)

    async def _validated(self, receive: Receive, check: Callable[[Any], dict]) -> dict | None:
        """Read, parse and check a body (``None``: the client left). Raises :class:`ApiError`."""
        raw = await _read_body(receive, self.rt.settings.max_body_bytes)
        if raw is None:
            return None

        def run() -> dict:
            return check(parse_json(raw))

        if len(raw) <= INLINE_CHECK_BYTES:  # ~0.3 ms: a thread hop would cost more than it saves
            return run()
        return await anyio.to_thread.run_sync(run)  # long prompts take ms to tokenise

    async def _extras(self, scope: dict, receive: Receive, send: Send, kind: str) -> None:
        try:
            payload = await self._validated(receive, lambda p: check_extras(self.rt, kind, p))
        except ApiError as err:
            return await self._reject(send, err, "invalid")
        if payload is None:
            self.rt.metrics.rejected.labels("client_gone").inc()
            return
        inner, replay = _replay(scope, receive, payload)
        await call_shielded(self.rt.app, inner, replay, send)  # type: ignore[arg-type]

    async def _generate(self, scope: dict, receive: Receive, send: Send, route: str) -> None:
        rt, m, gate = self.rt, self.rt.metrics, self.rt.gate
        t0 = time.perf_counter()
        if rt.draining:
            return await self._reject(send, ApiError(503, "Server is shutting down; retry another replica",
                                                     "draining", type="server_error",
                                                     retry_after=gate.retry_after()), "draining")
        try:
            payload = await self._validated(receive, lambda p: check_request(rt, route, p))
        except ApiError as err:
            m.requests.labels(route, str(err.status)).inc()
            return await self._reject(send, err, "invalid")
        if payload is None:
            m.rejected.labels("client_gone").inc()
            return
        if not await self._admit(receive, send, route):
            return
        m.queue_wait.observe(time.perf_counter() - t0)
        await self._run(scope, receive, send, route, payload, t0)

    async def _admit(self, receive: Receive, send: Send, route: str) -> bool:
        """Take a generation slot; on refusal answer 429/503 (or nothing if the client left)."""
        gate, m = self.rt.gate, self.rt.metrics
        reason = await gate.acquire(receive)
        if reason is None:
            return True
        if reason == "client_gone":
            m.rejected.labels(reason).inc()
            return False
        status = 429 if reason == "queue_full" else 503
        msg = ("Too many requests queued; retry later" if reason == "queue_full"
               else f"No generation slot within {self.rt.settings.queue_timeout_s:g} s; retry later")
        m.requests.labels(route, str(status)).inc()
        await self._reject(send, ApiError(status, msg, reason, type="server_error",
                                          retry_after=gate.retry_after()), reason)
        return False

    async def _run(self, scope: dict, receive: Receive, send: Send, route: str, payload: dict, t0: float) -> None:
        """Forward an admitted request to the library; release the slot and record metrics after."""
        rt, m, gate = self.rt, self.rt.metrics, self.rt.gate
        stream = bool(payload.get("stream"))
        inner, replay = _replay(scope, receive, payload)
        track = _StreamTracker(send)
        m.in_flight.set(gate.running)
        t_slot = time.perf_counter()
        try:
            await call_shielded(rt.app, inner, replay, track.send)  # type: ignore[arg-type]
        finally:
            gate.release(time.perf_counter() - t_slot)
            m.in_flight.set(gate.running)
            m.requests.labels(route, str(track.status)).inc()
            m.latency.labels(route, str(stream).lower()).observe(time.perf_counter() - t0)
            if track.first is not None:
                m.ttft.labels(route).observe(track.first - t0)
            if track.sse:
                m.tokens.labels("completion").inc(track.chunks)
            elif track.buf:
                _count_usage(m, b"".join(track.buf))


class _StreamTracker:
    """A ``send`` wrapper that notes the status, the first streamed token and the token count."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.sse = False
        self.first: float | None = None
        self.chunks = 0
        self.buf: list[bytes] = []

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            ctype = dict(message.get("headers", [])).get(b"content-type", b"")
            self.sse = ctype.startswith(b"text/event-stream")
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if self.sse:
                n = _count_content_events(chunk)
                if n:
                    if self.first is None:
                        self.first = time.perf_counter()
                    self.chunks += n
            elif chunk and sum(len(b) for b in self.buf) < 1_000_000:
                self.buf.append(chunk)
        await self._send(message)


def _count_content_events(chunk: bytes) -> int:
    """Number of SSE data events in ``chunk`` that carry generated text.

    A byte check, not a JSON parse (this runs once per token): the library serialises with
    ``json.dumps`` defaults, so text sits in ``"content": "..."`` (chat) or ``"text": "..."``.
    """
    n = 0
    for line in chunk.split(b"\n"):
        if line.startswith(b"data: {") and ((b'"content": "' in line and b'"content": ""' not in line)
                                            or (b'"text": "' in line and b'"text": ""' not in line)):
            n += 1
    return n


def _count_usage(m: Metrics, body: bytes) -> None:
    try:
        usage = json.loads(body).get("usage") or {}
    except (ValueError, AttributeError):
        return
    m.tokens.labels("prompt").inc(usage.get("prompt_tokens") or 0)
    m.tokens.labels("completion").inc(usage.get("completion_tokens") or 0)
