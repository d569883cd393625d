"""What llama-cpp-python's server lacks, as one ASGI layer in front of it.

The library's OpenAI-compatible FastAPI app (``llama_cpp.server.app.create_app``) does the
serving: ``/v1/chat/completions`` and ``/v1/completions`` (SSE streaming), ``/v1/models``,
grammars, ``response_format``. :class:`Guard` wraps it and adds, for the two generation routes:

* request checks the library misses (it accepts ``temperature=1e9``, negative chat
  ``max_tokens`` meaning "until the context is full", ``n>1`` silently ignored, an empty
  ``messages`` list; and a prompt longer than the context fails *inside* the SSE stream
  after a 200 has been sent) -> OpenAI-style 4xx JSON errors;
* a bounded admission gate (``max_concurrent`` slots + ``max_queue`` waiting, FIFO):
  full queue -> 429, queue wait over ``queue_timeout_s`` -> 503, both with ``Retry-After``;
  a client that disconnects while queued gives its place back;
* OpenAI ``response_format={"type": "json_schema", ...}`` translated to the library's
  ``{"type": "json_object", "schema": ...}`` (grammar-constrained JSON);
* draining: after SIGTERM new generation requests get 503 + ``Retry-After``;

and for every route: ``/healthz`` (liveness), ``/readyz`` (models loaded and not draining),
Prometheus ``/metrics``. Models load in a background thread so liveness answers during load.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import Metrics
from .settings import Settings

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

#: Generation routes guarded here -> short route label for metrics.
GEN_ROUTES = {"/v1/chat/completions": "chat", "/v1/completions": "completions"}

#: Bodies up to this size are checked on the event loop (template render + tokenise: ~0.3 ms
#: for a short chat); larger ones in a worker thread.
INLINE_CHECK_BYTES = 16_384

#: Roles llama-cpp-python's chat request model accepts.
CHAT_ROLES = ("system", "user", "assistant", "tool", "function")


@dataclass
class ApiError(Exception):
    """An error answered as OpenAI-style JSON: ``{"error": {message, type, param, code}}``."""

    status: int
    message: str
    code: str
    param: Optional[str] = None
    type: str = "invalid_request_error"
    retry_after: Optional[int] = None

    def body(self) -> bytes:
        """JSON body (UTF-8 bytes)."""
        return json.dumps({"error": {"message": self.message, "type": self.type,
                                     "param": self.param, "code": self.code}}).encode()


class Gate:
    """Bounded FIFO admission: ``slots`` requests run at once, at most ``max_queue`` wait.

    Wait order is FIFO (``anyio.Semaphore`` wakes waiters in arrival order).
    ``acquire`` returns ``None`` when a slot is held, else a rejection reason:
    ``"queue_full"`` (answer 429), ``"queue_timeout"`` (503) or ``"client_gone"``.
    """

    def __init__(self, slots: int, max_queue: int, queue_timeout_s: float) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.running = 0
        self.waiting = 0
        self._sem: Optional[anyio.Semaphore] = None
        self._ewma_s = 1.0  # smoothed service time (s) of one request, for Retry-After

    def _semaphore(self) -> anyio.Semaphore:
        if self._sem is None:  # created lazily inside the event loop
            self._sem = anyio.Semaphore(self.slots)
        return self._sem

    async def acquire(self, receive: Callable[[], Awaitable[dict]]) -> Optional[str]:
        """Take a slot, waiting if needed; ``receive`` is watched for ``http.disconnect`` meanwhile."""
        sem = self._semaphore()
        if self.waiting == 0:
            try:
                sem.acquire_nowait()  # free slot, nobody ahead: no waiting, no watcher
                self.running += 1
                return None
            except anyio.WouldBlock:
                pass
        if self.waiting >= self.max_queue:
            return "queue_full"
        self.waiting += 1
        acquired = gone = False
        try:
            with anyio.move_on_after(self.queue_timeout_s):
                async with anyio.create_task_group() as tg:
                    async def watch() -> None:
                        nonlocal gone
                        while True:
                            if (await receive())["type"] == "http.disconnect":
                                gone = True
                                tg.cancel_scope.cancel()
                                return

                    tg.start_soon(watch)
                    await sem.acquire()
                    acquired = True
                    tg.cancel_scope.cancel()
        finally:
            self.waiting -= 1
        if acquired and gone:
            sem.release()
            return "client_gone"
        if acquired:
            self.running += 1
            return None
        return "client_gone" if gone else "queue_timeout"

    def release(self, service_s: float) -> None:
        """Give the slot back; ``service_s`` (seconds held) updates the Retry-After estimate."""
        self.running -= 1
        self._ewma_s = 0.8 * self._ewma_s + 0.2 * service_s
        self._semaphore().release()

    def retry_after(self) -> int:
        """Seconds a rejected client should wait: queue ahead x smoothed service time / slots, 1..120."""
        est = (self.waiting + self.running) * self._ewma_s / self.slots
        return int(min(120, max(1, math.ceil(est))))


@dataclass
class Runtime:
    """Mutable server state shared by the guard, the health routes and the SIGTERM handler."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    gate: Optional[Gate] = None
    app: Optional[ASGIApp] = None          # the library's FastAPI app, once models are loaded
    proxy: Any = None                      # models.ResidentProxy
    formatters: Dict[str, Any] = field(default_factory=dict)  # alias -> Jinja2ChatFormatter | None
    load_error: Optional[str] = None
    draining: bool = False
    loaded: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        s = self.settings
        if self.gate is None:
            self.gate = Gate(s.max_concurrent, s.max_queue, s.queue_timeout_s)

    @property
    def ready(self) -> bool:
        """Models loaded, no load error, not draining."""
        return self.app is not None and self.load_error is None and not self.draining

    def busy(self) -> int:
        """Requests generating or waiting for a slot."""
        return self.gate.running + self.gate.waiting  # type: ignore[union-attr]

    def aliases(self) -> List[str]:
        """Served model names, default first."""
        return list(self.proxy.loaded) if self.proxy is not None else []


# --------------------------------------------------------------------------------------
# request checks
# --------------------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def count_prompt_tokens(rt: Runtime, alias: str, route: str, payload: dict) -> Optional[int]:
    """Prompt length in tokens as the library will see it, or ``None`` if it cannot be rendered.

    Chat: the model's own chat template (GGUF ``tokenizer.chat_template``) rendered with the
    messages, tokenised without an extra BOS (the template adds it), as
    ``llama_chat_format.chat_formatter_to_chat_completion_handler`` does. Completions: the
    prompt tokenised with BOS. Tokenising only reads the vocabulary, so it is safe while
    another thread decodes with the same model.
    """
    llama = rt.proxy.loaded[alias]
    if route == "completions":
        prompt = payload.get("prompt", "")
        if isinstance(prompt, list):
            prompt = prompt[0] if prompt else ""
        if not isinstance(prompt, str):
            return None
        return len(llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
    formatter = rt.formatters.get(alias)
    messages = payload.get("messages")
    if formatter is None:
        # No template in the GGUF: a lower bound from the message texts alone.
        text = "".join(m.get("content") or "" for m in messages if isinstance(m, dict)
                       and isinstance(m.get("content"), str))
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    try:
        rendered = formatter(messages=messages).prompt
    except Exception:  # malformed messages: the library's own validation answers (422)
        return None
    return len(llama.tokenize(rendered.encode("utf-8"), add_bos=False, special=True))


def _grammar_compiles(llama: Any, gbnf: str) -> bool:
    """True if llama.cpp's GBNF parser accepts ``gbnf`` (start symbol ``root``).

    ``LlamaGrammar.from_string`` does not parse; the C sampler does, at generation time, and
    llama-cpp-python 0.3.36 then adds the NULL sampler it returns for a bad grammar to the
    chain, which kills the whole server process. So compile it once here and free it.
    """
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(llama._model.vocab, gbnf.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


def _check_grammars(llama: Any, payload: dict) -> None:
    """Reject a ``grammar`` (GBNF) or ``response_format`` schema that llama.cpp cannot compile (400)."""
    from llama_cpp import llama_grammar

    grammar = payload.get("grammar")
    if grammar is not None:
        if not isinstance(grammar, str) or not _grammar_compiles(llama, grammar):
            raise ApiError(400, "grammar is not a valid GBNF grammar with a `root` rule", "invalid_grammar",
                           "grammar")
    rf = payload.get("response_format")
    if isinstance(rf, dict) and rf.get("schema") is not None:
        try:
            gbnf = llama_grammar.json_schema_to_gbnf(json.dumps(rf["schema"]))
        except Exception as e:
            raise ApiError(400, f"response_format schema is not supported: {e}", "invalid_schema",
                           "response_format") from None
        if not _grammar_compiles(llama, gbnf):
            raise ApiError(400, "response_format schema does not compile to a grammar", "invalid_schema",
                           "response_format")


def _check_schema(route: str, payload: dict) -> None:
    """Validate against the library's own request models: its route wraps pydantic's
    validation error in a 500, so a wrong type or range must be caught here (422)."""
    import pydantic
    from llama_cpp.server.types import CreateChatCompletionRequest, CreateCompletionRequest

    cls = CreateChatCompletionRequest if route == "chat" else CreateCompletionRequest
    try:
        cls.model_validate(payload)
    except pydantic.ValidationError as e:
        errs = e.errors()
        where = ".".join(str(x) for x in errs[0]["loc"])
        msg = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in errs[:3])
        raise ApiError(422, msg, "invalid_request", where) from None


def check_request(rt: Runtime, route: str, payload: Any) -> dict:
    """Validate and normalise one generation request body; returns the body to forward.

    Raises :class:`ApiError` (400 bad field, 404 unknown model). Sources of the limits:
    temperature range [0, 2] and ``n``/``max_tokens`` semantics follow the OpenAI API
    reference; the context check mirrors llama-cpp-python's own ``prompt_tokens >= n_ctx``.
    """
    s = rt.settings
    if not isinstance(payload, dict):
        raise ApiError(400, "Request body must be a JSON object", "invalid_json")
    aliases = rt.aliases()
    model = payload.get("model")
    if model in (None, ""):
        model = aliases[0]
    elif model not in aliases:
        if s.strict_model_names:
            raise ApiError(404, f"The model `{model}` does not exist; served models: {', '.join(aliases)}",
                           "model_not_found", "model")
        model = aliases[0]
    payload["model"] = model

    n = payload.get("n")
    if n not in (None, 1):
        raise ApiError(400, "n > 1 is not supported: llama-cpp-python generates one sequence per request",
                       "unsupported_parameter", "n")

    if route == "chat" and payload.get("max_tokens") is None and payload.get("max_completion_tokens") is not None:
        payload["max_tokens"] = payload["max_completion_tokens"]
    payload.pop("max_completion_tokens", None)
    max_tokens = payload.get("max_tokens")
    if max_tokens is None:
        payload["max_tokens"] = s.default_max_tokens if route == "chat" else 16  # OpenAI completions default
    elif not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise ApiError(400, "max_tokens must be an integer", "invalid_value", "max_tokens")
    elif max_tokens < 1:
        raise ApiError(400, f"max_tokens must be >= 1 (got {max_tokens})", "invalid_value", "max_tokens")
    elif max_tokens > s.max_tokens_limit:
        raise ApiError(400, f"max_tokens must be <= {s.max_tokens_limit} on this server (got {max_tokens})",
                       "invalid_value", "max_tokens")

    temperature = payload.get("temperature")
    if temperature is not None and (not _is_number(temperature) or not math.isfinite(temperature)
                                    or not 0 <= temperature <= s.max_temperature):
        raise ApiError(400, f"temperature must be a number in [0, {s.max_temperature}] (got {temperature!r})",
                       "invalid_value", "temperature")

    logprobs = payload.get("logprobs")
    if logprobs not in (None, False) and not (route == "completions" and logprobs == 0):
        raise ApiError(400, "logprobs are not enabled on this server (models load with logits_all=False)",
                       "unsupported_parameter", "logprobs")

    if route == "chat":
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "messages must be a non-empty list", "invalid_value", "messages")
        for i, msg in enumerate(messages):
            role = msg.get("role") if isinstance(msg, dict) else None
            if role not in CHAT_ROLES:
                raise ApiError(400, f"messages[{i}].role must be one of {', '.join(CHAT_ROLES)} (got {role!r})",
                               "invalid_value", f"messages[{i}].role")
        rf = payload.get("response_format")
        if isinstance(rf, dict):
            kind = rf.get("type")
            if kind == "json_schema":  # OpenAI structured outputs -> the library's schema grammar
                schema = (rf.get("json_schema") or {}).get("schema")
                payload["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
            elif kind not in ("text", "json_object"):
                raise ApiError(400, f"response_format.type must be text, json_object or json_schema (got {kind!r})",
                               "invalid_value", "response_format")
    else:
        prompt = payload.get("prompt", "")
        if isinstance(prompt, list):
            if len(prompt) > 1:
                raise ApiError(400, "Only one prompt per request is supported", "unsupported_parameter", "prompt")
            if prompt and not isinstance(prompt[0], str):
                raise ApiError(400, "prompt must be a string (token-id prompts are not supported)",
                               "invalid_value", "prompt")

    _check_schema(route, payload)
    _check_grammars(rt.proxy.loaded[model], payload)
    n_prompt = count_prompt_tokens(rt, model, route, payload)
    if n_prompt is not None and n_prompt >= s.n_ctx:
        raise ApiError(400, f"This model's maximum context length is {s.n_ctx} tokens. However, your prompt has "
                       f"{n_prompt} tokens. Please reduce the length of the "
                       f"{'messages' if route == 'chat' else 'prompt'}.",
                       "context_length_exceeded", "messages" if route == "chat" else "prompt")
    return payload


# --------------------------------------------------------------------------------------
# the ASGI layer
# --------------------------------------------------------------------------------------

async def _send_json(send: Callable, status: int, body: bytes, headers: Optional[List[tuple]] = None,
                     content_type: bytes = b"application/json") -> None:
    hdrs = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())] + (headers or [])
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


async def _read_body(receive: Callable, limit: int) -> Optional[bytes]:
    """Whole request body, or ``None`` if the client disconnected. Raises _BodyTooLarge."""
    chunks: List[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            return None
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge()
        chunks.append(chunk)
        if not msg.get("more_body", False):
            return b"".join(chunks)


class Guard:
    """ASGI app: health/ready/metrics routes + checks, gate and drain around the library's app.

    ``rt.app`` is ``None`` until the models are loaded; until then every route other than
    ``/healthz``, ``/readyz`` and ``/metrics`` answers 503 with ``Retry-After``.
    """

    def __init__(self, rt: Runtime, on_startup: Optional[Callable[[], None]] = None,
                 on_shutdown: Optional[Callable[[], None]] = None) -> None:
        self.rt = rt
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            if self.rt.app is not None:
                return await self.rt.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/healthz":
            return await _send_json(send, 200, b'{"status":"ok"}')
        if path == "/readyz":
            return await self._readyz(send)
        if path == "/metrics":
            m = self.rt.metrics
            m.ready.set(1 if self.rt.ready else 0)
            m.in_flight.set(self.rt.gate.running)
            m.queued.set(self.rt.gate.waiting)
            return await _send_json(send, 200, generate_latest(m.registry), content_type=CONTENT_TYPE_LATEST.encode())
        if self.rt.app is None:
            err = ApiError(503, self.rt.load_error or "Models are loading", "not_ready", type="server_error",
                           retry_after=5)
            return await self._reject(send, err, "not_ready")
        if scope["method"] == "POST" and path in GEN_ROUTES:
            return await self._generate(scope, receive, send, GEN_ROUTES[path])
        return await self.rt.app(scope, receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
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

    async def _readyz(self, send: Callable) -> None:
        rt = self.rt
        body = {"ready": rt.ready, "models": rt.aliases(), "draining": rt.draining, "in_flight": rt.gate.running,
                "queued": rt.gate.waiting}
        if rt.load_error:
            body["error"] = rt.load_error
        await _send_json(send, 200 if rt.ready else 503, json.dumps(body).encode())

    async def _reject(self, send: Callable, err: ApiError, reason: str) -> None:
        self.rt.metrics.rejected.labels(reason).inc()
        headers = [(b"retry-after", str(err.retry_after).encode())] if err.retry_after is not None else []
        await _send_json(send, err.status, err.body(), headers)

    def _authorized(self, scope: dict) -> bool:
        key = self.rt.settings.api_key
        if not key:
            return True
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                return value.decode("latin-1") == f"Bearer {key}"
        return False

    async def _generate(self, scope: dict, receive: Callable, send: Callable, route: str) -> None:
        rt, m, gate = self.rt, self.rt.metrics, self.rt.gate
        t0 = time.perf_counter()
        if not self._authorized(scope):
            return await self._reject(send, ApiError(401, "Invalid API key", "invalid_api_key",
                                                     type="authentication_error"), "unauthorized")
        if rt.draining:
            return await self._reject(send, ApiError(503, "Server is shutting down; retry another replica",
                                                     "draining", type="server_error",
                                                     retry_after=gate.retry_after()), "draining")
        try:
            raw = await _read_body(receive, rt.settings.max_body_bytes)
        except _BodyTooLarge:
            return await self._reject(send, ApiError(413, f"Request body over {rt.settings.max_body_bytes} bytes",
                                                     "body_too_large"), "invalid")
        if raw is None:
            m.rejected.labels("client_gone").inc()
            return
        try:
            try:
                payload = json.loads(raw)
            except ValueError as e:
                raise ApiError(400, f"Request body is not valid JSON: {e}", "invalid_json") from None
            if len(raw) <= INLINE_CHECK_BYTES:  # ~0.3 ms: a thread hop would cost more than it saves
                payload = check_request(rt, route, payload)
            else:  # long prompts take ms to tokenise: keep the event loop free
                payload = await anyio.to_thread.run_sync(check_request, rt, route, payload)
        except ApiError as err:
            m.requests.labels(route, str(err.status)).inc()
            return await self._reject(send, err, "invalid")
        stream = bool(payload.get("stream"))

        reason = await gate.acquire(receive)
        waited = time.perf_counter() - t0
        if reason == "client_gone":
            m.rejected.labels(reason).inc()
            return
        if reason is not None:
            status = 429 if reason == "queue_full" else 503
            msg = ("Too many requests queued; retry later" if reason == "queue_full"
                   else f"No generation slot within {rt.settings.queue_timeout_s:g} s; retry later")
            m.requests.labels(route, str(status)).inc()
            return await self._reject(send, ApiError(status, msg, reason, type="server_error",
                                                     retry_after=gate.retry_after()), reason)
        m.queue_wait.observe(waited)

        body = json.dumps(payload).encode()
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        inner_scope = dict(scope, headers=headers + [(b"content-length", str(len(body)).encode())])
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        state = {"status": 500, "sse": False, "first": None, "chunks": 0, "buf": []}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                ctype = dict(message.get("headers", [])).get(b"content-type", b"")
                state["sse"] = ctype.startswith(b"text/event-stream")
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if state["sse"]:
                    n = _count_content_events(chunk)
                    if n:
                        if state["first"] is None:
                            state["first"] = time.perf_counter()
                        state["chunks"] += n
                elif chunk and sum(len(b) for b in state["buf"]) < 1_000_000:
                    state["buf"].append(chunk)
            await send(message)

        m.in_flight.set(gate.running)
        t_slot = time.perf_counter()
        try:
            await rt.app(inner_scope, replay, tracking_send)  # type: ignore[misc]
        finally:
            gate.release(time.perf_counter() - t_slot)
            m.in_flight.set(gate.running)
            m.requests.labels(route, str(state["status"])).inc()
            m.latency.labels(route, str(stream).lower()).observe(time.perf_counter() - t0)
            if state["first"] is not None:
                m.ttft.labels(route).observe(state["first"] - t0)
            if state["sse"]:
                m.tokens.labels("completion").inc(state["chunks"])
            elif state["buf"]:
                _count_usage(m, b"".join(state["buf"]))


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
