"""Request validation: everything the library's routes would turn into a 500, a crash or a silent surprise.

Every POST body to a model endpoint goes through :func:`parse_json` (pathological JSON -> 400) and then
:func:`check_request` (generation routes) or :func:`check_extras` (``/extras/*``), which raise
:class:`ApiError`; the guard answers it in OpenAI's error shape and forwards only bodies that passed,
re-serialised. What the library 0.3.36 does without these checks is listed in README.md, "What and when".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .servekit import error_bytes

if TYPE_CHECKING:  # the guard's state object; imported for type hints only (no cycle at runtime)
    from .runtime import Runtime

#: Roles llama-cpp-python's chat request model accepts.
CHAT_ROLES = ("system", "user", "assistant", "tool", "function")

#: Deepest JSON nesting accepted. Requests of these APIs nest a few levels (a JSON schema in
#: ``response_format`` a dozen or so); the library's parsers and ``json_schema_to_gbnf`` recurse.
MAX_JSON_DEPTH = 64

#: Integers must fit in int64: larger ones overflow the C arguments they end up in (ctypes raises).
INT64_MAX = 2**63 - 1

#: ``logit_bias`` values: the OpenAI API reference allows -100..100.
MAX_LOGIT_BIAS = 100.0


@dataclass
class ApiError(Exception):
    """An error answered as OpenAI-style JSON: ``{"error": {message, type, param, code}}``.

    ``status`` is the HTTP status; ``retry_after`` (seconds) adds a ``Retry-After`` header.
    """

    status: int
    message: str
    code: str
    param: str | None = None
    type: str = "invalid_request_error"
    retry_after: int | None = None

    def body(self) -> bytes:
        """JSON body (UTF-8 bytes)."""
        return error_bytes(self.message, self.type, self.param, self.code)


def _bad_json(message: str) -> ApiError:
    return ApiError(400, f"Request body is not valid JSON: {message}", "invalid_json")


# --------------------------------------------------------------------------------------
# pathological JSON
# --------------------------------------------------------------------------------------

def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999999 parses as inf
        raise _bad_json(f"number {text[:20]}... is out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise _bad_json(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # parsers disagree on which copy wins: refuse instead of guessing
            raise _bad_json(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _check_tree(value: Any) -> None:
    """Depth <= MAX_JSON_DEPTH, integers within int64, strings encodable as UTF-8 (no lone surrogates)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _bad_json(f"nested deeper than {MAX_JSON_DEPTH} levels")
            items = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad_json("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff)") from None
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > INT64_MAX:
            raise _bad_json("an integer is out of the 64-bit range")


def parse_json(raw: bytes) -> Any:
    """Parse a request body strictly; raises :class:`ApiError` 400 ``invalid_json``.

    Refused: empty body, bytes that are not UTF-8, syntax errors, ``NaN``/``Infinity``, numbers that
    overflow a float (``1e999999``) or int64, duplicate keys, nesting deeper than ``MAX_JSON_DEPTH``
    (``[[[[...]]]]`` 100k deep would otherwise raise ``RecursionError``), lone surrogates.
    """
    if not raw.strip():
        raise _bad_json("the body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad_json(f"the body is not UTF-8 (byte {e.start})") from None
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant,
                           object_pairs_hook=_unique_keys)
    except ApiError:
        raise
    except RecursionError:
        raise _bad_json(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:  # JSONDecodeError, int over 4300 digits
        raise _bad_json(str(e).split(":")[0][:200]) from None
    _check_tree(value)
    return value


# --------------------------------------------------------------------------------------
# shared field checks
# --------------------------------------------------------------------------------------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def resolve_model(rt: Runtime, payload: dict) -> str:
    """The served alias a request names (default model if none); raises 400/404 :class:`ApiError`."""
    aliases = rt.aliases()
    model = payload.get("model")
    if model in (None, ""):
        model = aliases[0]
    elif not isinstance(model, str):
        raise ApiError(400, "model must be a string", "invalid_value", "model")
    elif model not in aliases:
        if rt.settings.strict_model_names:
            raise ApiError(404, f"The model `{model[:100]}` does not exist; served models: {', '.join(aliases)}",
                           "model_not_found", "model")
        model = aliases[0]
    payload["model"] = model
    return model


def _check_schema(cls: Any, payload: dict) -> None:
    """Validate against one of the library's own request models, strictly (no ``"5"`` -> 5).

    The library's routes wrap pydantic's validation error in a 500 whose message carries the
    route's source file path, so a wrong type or range must be caught here (422).
    """
    import pydantic

    try:
        cls.model_validate(payload, strict=True)
    except pydantic.ValidationError as e:
        found: dict[str, str] = {}  # field path -> message, first error per path
        for err in e.errors(include_url=False, include_context=False, include_input=False):
            where, union = _field_path(err["loc"])
            found.setdefault(where, "does not match any accepted form" if union else err["msg"])
        msg = "; ".join(f"{where or 'body'}: {text}" for where, text in list(found.items())[:3])
        raise ApiError(422, msg[:1000], "invalid_request", next(iter(found)) or None) from None


#: pydantic's tags for the members of a union in an error location (``prompt.str``, ``x.list[str]``).
_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none"}


def _field_path(loc: tuple) -> tuple[str, bool]:
    """``(dotted field path, cut at a union member)`` of a pydantic error location, without the
    library's internal class names (``messages.0.ChatCompletionRequestUserMessage.content`` ->
    ``messages.0``): a client needs the field, not our type names."""
    parts: list[str] = []
    for x in loc:
        if isinstance(x, str) and (x[:1].isupper() or x in _TYPE_TAGS or any(c in x for c in "[]()-")):
            return ".".join(parts), True
        parts.append(str(x))
    return ".".join(parts), False


def _not_object() -> ApiError:
    return ApiError(400, "Request body must be a JSON object", "invalid_json")


# --------------------------------------------------------------------------------------
# generation routes
# --------------------------------------------------------------------------------------

def count_prompt_tokens(rt: Runtime, alias: str, route: str, payload: dict) -> int | None:
    """Prompt length in tokens as the library will see it (``None``: a non-string prompt).

    Raises :class:`ApiError` 400 when the chat template cannot render the messages.

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
    except Exception:  # jinja2 raises TypeError, UndefinedError, TemplateError...: the library's 500
        raise ApiError(400, "The model's chat template cannot render these messages (e.g. a null or "
                       "non-text content)", "invalid_value", "messages") from None
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
        except Exception:  # the converter raises many types (KeyError, ValueError, ...) on odd schemas
            raise ApiError(400, "response_format schema is not supported by llama.cpp's JSON-schema grammar "
                           "converter", "invalid_schema", "response_format") from None
        if not _grammar_compiles(llama, gbnf):
            raise ApiError(400, "response_format schema does not compile to a grammar", "invalid_schema",
                           "response_format")


def _check_max_tokens(route: str, payload: dict, default: int, limit: int) -> None:
    if route == "chat" and payload.get("max_tokens") is None and payload.get("max_completion_tokens") is not None:
        payload["max_tokens"] = payload["max_completion_tokens"]
    payload.pop("max_completion_tokens", None)
    max_tokens = payload.get("max_tokens")
    if max_tokens is None:
        # chat: the server default; completions: OpenAI's default 16; never above the limit
        payload["max_tokens"] = min(default if route == "chat" else 16, limit)
    elif not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        raise ApiError(400, "max_tokens must be an integer", "invalid_value", "max_tokens")
    elif max_tokens < 1:
        raise ApiError(400, f"max_tokens must be >= 1 (got {max_tokens})", "invalid_value", "max_tokens")
    elif max_tokens > limit:
        raise ApiError(400, f"max_tokens must be <= {limit} on this server (got {max_tokens})",
                       "invalid_value", "max_tokens")


def _check_sampling(route: str, payload: dict, max_temperature: float) -> None:
    n = payload.get("n")
    if n not in (None, 1) or isinstance(n, bool):
        raise ApiError(400, "n > 1 is not supported: llama-cpp-python generates one sequence per request",
                       "unsupported_parameter", "n")
    temperature = payload.get("temperature")
    if temperature is not None and (not _is_number(temperature) or not math.isfinite(temperature)
                                    or not 0 <= temperature <= max_temperature):
        raise ApiError(400, f"temperature must be a number in [0, {max_temperature}] (got {str(temperature)[:40]})",
                       "invalid_value", "temperature")
    logprobs = payload.get("logprobs")
    # completions: any value, 0 included, makes the library raise (logits_all=False) -> was a 500
    if (logprobs is not None) if route == "completions" else (logprobs not in (None, False)):
        raise ApiError(400, "logprobs are not enabled on this server (models load with logits_all=False)",
                       "unsupported_parameter", "logprobs")


def _check_logit_bias(llama: Any, payload: dict) -> None:
    """``logit_bias`` keys are token ids in [0, n_vocab) (the library indexes an array with them:
    ``int("abc")`` or an id past the vocabulary is a 500), values numbers in [-100, 100]."""
    bias = payload.get("logit_bias")
    if bias is None or payload.get("logit_bias_type") == "tokens" or not isinstance(bias, dict):
        return  # "tokens": keys are text, tokenised by the library; non-dict: the schema check answers
    n_vocab = llama.n_vocab()
    for key, value in bias.items():
        if not (key.isascii() and key.isdigit() and int(key) < n_vocab):
            raise ApiError(400, f"logit_bias keys must be token ids in [0, {n_vocab}) (got {key[:40]!r})",
                           "invalid_value", "logit_bias")
        if not _is_number(value) or not -MAX_LOGIT_BIAS <= value <= MAX_LOGIT_BIAS:
            raise ApiError(400, f"logit_bias values must be numbers in [-{MAX_LOGIT_BIAS:g}, {MAX_LOGIT_BIAS:g}]",
                           "invalid_value", "logit_bias")


def _check_messages(payload: dict) -> None:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "invalid_value", "messages")
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role not in CHAT_ROLES:
            raise ApiError(400, f"messages[{i}].role must be one of {', '.join(CHAT_ROLES)} (got {str(role)[:40]!r})",
                           "invalid_value", f"messages[{i}].role")
        _flatten_text_parts(msg, i)


def _flatten_text_parts(msg: dict, i: int) -> None:
    """OpenAI content parts (``content: [{"type": "text", "text": ...}, ...]``) -> one string, in place.

    The OpenAI API accepts either form; the GGUF chat templates render only strings (a list makes the
    template fail). Text parts are joined with newlines, as vLLM does for text-only models
    (``vllm.entrypoints.chat_utils``). Any other part type (``image_url``, ``input_audio``, ``file``) is a
    400: the served models are text-only.
    """
    content = msg.get("content")
    if not isinstance(content, list):
        return
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "text" or not isinstance(part.get("text"), str):
            raise ApiError(400, f"messages[{i}].content[{j}]: only text content parts are supported by these "
                           f"text-only models (got type {str(kind)[:40]!r})", "invalid_value",
                           f"messages[{i}].content[{j}]")
        texts.append(part["text"])
    msg["content"] = "\n".join(texts)


def _check_response_format(payload: dict) -> None:
    """OpenAI structured outputs (``json_schema``) -> the library's ``json_object`` + ``schema``."""
    rf = payload.get("response_format")
    if not isinstance(rf, dict):
        return  # None, or a wrong type the schema check answers (422)
    kind = rf.get("type")
    if kind == "json_schema":
        spec = rf.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise ApiError(400, "response_format.json_schema must be an object with a `schema` object",
                           "invalid_value", "response_format")
        schema = spec.get("schema")
        payload["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    elif kind not in ("text", "json_object"):
        raise ApiError(400, f"response_format.type must be text, json_object or json_schema (got {str(kind)[:40]!r})",
                       "invalid_value", "response_format")


def _check_prompt(payload: dict) -> None:
    prompt = payload.get("prompt", "")
    if isinstance(prompt, list):
        if len(prompt) > 1:
            raise ApiError(400, "Only one prompt per request is supported", "unsupported_parameter", "prompt")
        if prompt and not isinstance(prompt[0], str):
            raise ApiError(400, "prompt must be a string (token-id prompts are not supported)",
                           "invalid_value", "prompt")


def _check_context(rt: Runtime, model: str, route: str, payload: dict) -> None:
    n_ctx = rt.settings.n_ctx
    n_prompt = count_prompt_tokens(rt, model, route, payload)
    if n_prompt == 0:  # a model without BOS and an empty prompt: the library asserts (500)
        raise ApiError(400, "prompt is empty (it has no tokens for this model)", "invalid_value", "prompt")
    if n_prompt is not None and n_prompt >= n_ctx:
        what = "messages" if route == "chat" else "prompt"
        raise ApiError(400, f"This model's maximum context length is {n_ctx} tokens. However, your prompt has "
                       f"{n_prompt} tokens. Please reduce the length of the {what}.",
                       "context_length_exceeded", what)


def check_request(rt: Runtime, route: str, payload: Any) -> dict:
    """Validate and normalise one generation request body (``route``: ``chat`` or ``completions``).

    Returns the body to forward. Raises :class:`ApiError` (400 bad value, 404 unknown model, 422
    schema). Sources of the limits: temperature range [0, 2], ``n``, ``max_tokens`` and
    ``logit_bias`` semantics follow the OpenAI API reference; the context check mirrors
    llama-cpp-python's own ``prompt_tokens >= n_ctx``.
    """
    from llama_cpp.server.types import CreateChatCompletionRequest, CreateCompletionRequest

    s = rt.settings
    if not isinstance(payload, dict):
        raise _not_object()
    model = resolve_model(rt, payload)
    _check_sampling(route, payload, s.max_temperature)
    _check_max_tokens(route, payload, s.default_max_tokens, s.max_tokens_limit)
    if route == "chat":
        _check_messages(payload)
        _check_response_format(payload)
    else:
        _check_prompt(payload)
    _check_schema(CreateChatCompletionRequest if route == "chat" else CreateCompletionRequest, payload)
    llama = rt.proxy.loaded[model]
    _check_logit_bias(llama, payload)
    _check_grammars(llama, payload)
    _check_context(rt, model, route, payload)
    return payload


# --------------------------------------------------------------------------------------
# /extras/*
# --------------------------------------------------------------------------------------

#: ``/extras/*`` routes -> which request model they take.
EXTRAS_ROUTES = {"/extras/tokenize": "tokenize", "/extras/tokenize/count": "tokenize",
                 "/extras/detokenize": "detokenize"}


def _check_tokens(llama: Any, tokens: list[int]) -> None:
    """Token ids in [0, n_vocab) that detokenize to whole UTF-8 text (the library decodes strictly: 500)."""
    n_vocab = llama.n_vocab()
    for i, t in enumerate(tokens):
        if not 0 <= t < n_vocab:
            raise ApiError(400, f"tokens[{i}] = {t} is not a token id of this model (0..{n_vocab - 1})",
                           "invalid_value", "tokens")
    try:
        llama.detokenize(tokens).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "these tokens do not decode to whole UTF-8 text (a multi-byte character is split "
                       "across the end or a special token); send the complete token sequence",
                       "invalid_value", "tokens") from None


def check_extras(rt: Runtime, kind: str, payload: Any) -> dict:
    """Validate a ``/extras/tokenize[/count]`` (``kind="tokenize"``) or ``/extras/detokenize`` body.

    Returns the body to forward; raises :class:`ApiError` (400, 404 unknown model, 422 schema).
    """
    from llama_cpp.server.types import DetokenizeInputRequest, TokenizeInputRequest

    if not isinstance(payload, dict):
        raise _not_object()
    model = resolve_model(rt, payload)
    _check_schema(TokenizeInputRequest if kind == "tokenize" else DetokenizeInputRequest, payload)
    if kind == "detokenize":
        _check_tokens(rt.proxy.loaded[model], payload["tokens"])
    return payload
