"""The hostile-input matrix and the response checks of the conformance suite, as plain data and functions.

Standard library + httpx only: the suite imports this module in the repo's venv (black-box, over HTTP) and
``inprocess.py`` imports it in a recipe's own venv (in-process, through ``httpx.ASGITransport``), so both tiers
send byte-identical requests and judge them by the same rules.

A :class:`Case` is one request: its conformance check id (``cookbook.recipes.CONFORMANCE_CHECKS``), a short
name, and the raw bytes to send. Bodies are built as bytes on purpose: several cases are not valid JSON, or not
valid UTF-8, or repeat keys, which no JSON library would write.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

#: The body limit the suite gives every server (``<PREFIX>MAX_BODY_BYTES``), bytes.
MAX_BODY_BYTES = 262_144
#: Nesting depth of the deep-nesting case: 100,000 bytes of brackets, well under MAX_BODY_BYTES.
DEPTH = 50_000
#: Words in the context-overflow case: ~20,000 tokens for any tokenizer, over every served context here.
OVERFLOW_WORDS = 20_000
#: Inputs in the too-many-inputs case (OpenAI's own embeddings limit is 2,048 inputs per request).
MANY = 5_000

#: What no error body may contain: a traceback, a source path, an absolute file path, an internal class name.
LEAK_PATTERNS = {
    "traceback": re.compile(r"Traceback \(most recent call last\)"),
    "source file": re.compile(r'File "[^"]+", line \d+|\b[\w/.-]+\.py\b'),
    "absolute path": re.compile(r"(?<![\w.:/])/(?:usr|home|root|opt|tmp|work|var|etc|srv|app|lib|proc)/[\w./-]+"),
    "site-packages": re.compile(r"site-packages|dist-packages"),
    "class name": re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b|\b(?:pydantic_core|starlette|uvicorn)\b"),
}


@dataclass
class Case:
    """One request of the matrix: ``method path`` with ``body`` bytes; 4xx expected unless ``expect_ok``."""

    check: str
    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})
    expect_ok: bool = False

    @property
    def id(self) -> str:
        """``<check>:<name>``, unique within a recipe's matrix."""
        return f"{self.check}:{self.name}"


@dataclass
class Outcome:
    """What the server answered to one case, and whether it still answered its liveness probe afterwards."""

    id: str
    status: int | None          # None: no HTTP response (connection reset, timeout)
    body: str                   # first 4,000 characters, decoded with replacement
    content_type: str
    retry_after: str | None
    alive_after: bool
    transport_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _j(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _splice(valid: dict[str, Any], key: str, raw: str) -> bytes:
    """``valid`` as JSON with ``key``'s value replaced by the raw JSON text ``raw`` (may be invalid JSON)."""
    placeholder = "__CONFORMANCE_PLACEHOLDER__"
    return _j({**valid, key: placeholder}).replace(f'"{placeholder}"'.encode(), raw.encode())


def _json_api_cases(path: str, valid: dict[str, Any], main: str, number_field: str,
                    wrong_types: dict[str, Any], out_of_range: dict[str, Any],
                    overflow: dict[str, Any] | None, many: dict[str, Any] | None,
                    unknown_model: tuple[str, bytes] | None) -> list[Case]:
    """Cases shared by every JSON API; ``main`` is the field that carries the text (messages, prompt, input)."""
    P = "POST"
    cases = [
        Case("hostile.malformed-json", "truncated", P, path, _j(valid)[:-7]),
        Case("hostile.malformed-json", "not-json", P, path, b"this is not json"),
        Case("hostile.malformed-json", "trailing-comma", P, path, _j(valid)[:-1] + b",}"),
        Case("hostile.deep-nesting", "arrays", P, path, _splice(valid, main, "[" * DEPTH + "]" * DEPTH)),
        Case("hostile.deep-nesting", "objects", P, path,
             _splice(valid, main, '{"a":' * (DEPTH // 3) + "1" + "}" * (DEPTH // 3))),
        Case("hostile.huge-number", "float-overflow", P, path, _splice(valid, number_field, "1e999999")),
        Case("hostile.huge-number", "5000-digit-int", P, path, _splice(valid, number_field, "1" + "0" * 5000)),
        Case("hostile.huge-number", "nan", P, path, _splice(valid, number_field, "NaN")),
        Case("hostile.duplicate-keys", "last-invalid", P, path,
             _j(valid)[:-1] + b', "' + main.encode() + b'": 5}'),
        Case("hostile.non-utf8", "invalid-bytes", P, path,
             _splice(valid, main, '"\xff\xfe"').replace("\xff\xfe".encode(), b"\xff\xfe")
             if main != "messages" else
             _splice(valid, main, '[{"role": "user", "content": "\xff\xfe"}]').replace("\xff\xfe".encode(),
                                                                                       b"\xff\xfe")),
        Case("hostile.non-utf8", "lone-surrogate", P, path,
             _splice(valid, main, '"\\ud800"' if main != "messages"
                     else '[{"role": "user", "content": "\\ud800"}]')),
        Case("hostile.empty-body", "no-bytes", P, path, b""),
        Case("hostile.empty-body", "empty-object", P, path, b"{}"),
        Case("hostile.empty-body", "null", P, path, b"null"),
        Case("hostile.empty-body", "array", P, path, b"[]"),
        Case("hostile.oversized-body", "over-limit", P, path,
             _splice(valid, "padding", json.dumps("x" * (MAX_BODY_BYTES + 50_000)))),
    ]
    cases += [Case("hostile.wrong-types", f"{k}", P, path, _j({**valid, k: v})) for k, v in wrong_types.items()]
    cases += [Case("hostile.sampling-range", f"{k}={v}", P, path, _j({**valid, k: v}))
              for k, v in out_of_range.items()]
    if overflow is not None:
        cases.append(Case("hostile.context-overflow", "20k-words", P, path, _j({**valid, **overflow})))
    if many is not None:
        cases.append(Case("hostile.too-many-inputs", f"{MANY}-inputs", P, path, _j({**valid, **many})))
    if unknown_model is not None:
        cases.append(Case("hostile.unknown-model", "no-such-model", P, unknown_model[0], unknown_model[1]))
    cases.append(Case("valid", "control", P, path, _j(valid), expect_ok=True))
    return cases


def cases_for(api: str, model: str, kserve_input: str | None = None) -> list[Case]:
    """The matrix for one declared API (``openai-chat``, ``openai-completions``, ``openai-embeddings``,
    ``kserve-v2``, ``ollama``), addressed to ``model``. ``kserve_input``: the model's first input tensor name.
    Raises ``ValueError`` for an unknown API."""
    words = " ".join(["hello"] * OVERFLOW_WORDS)
    if api == "openai-chat":
        valid = {"model": model, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 2,
                 "temperature": 0}
        return _json_api_cases(
            "/v1/chat/completions", valid, "messages", "max_tokens",
            wrong_types={"messages": "hi", "max_tokens": "ten", "temperature": "hot", "stream": [1],
                         "stop": {"a": 1}},
            out_of_range={"temperature": -1, "max_tokens": -5, "top_p": 7, "n": 100, "presence_penalty": 100},
            overflow={"messages": [{"role": "user", "content": words}]}, many=None,
            unknown_model=("/v1/chat/completions", _j({**valid, "model": "no-such-model-xyz"})))
    if api == "openai-completions":
        valid = {"model": model, "prompt": "Say hi", "max_tokens": 2, "temperature": 0}
        return _json_api_cases(
            "/v1/completions", valid, "prompt", "max_tokens",
            wrong_types={"prompt": {"a": 1}, "max_tokens": "ten", "temperature": "hot", "echo": [1]},
            out_of_range={"temperature": -1, "max_tokens": -5, "top_p": 7, "n": 100, "frequency_penalty": 100},
            overflow={"prompt": words}, many={"prompt": ["hi"] * MANY},
            unknown_model=("/v1/completions", _j({**valid, "model": "no-such-model-xyz"})))
    if api == "openai-embeddings":
        valid = {"model": model, "input": "A cat sits on the mat."}
        return _json_api_cases(
            "/v1/embeddings", valid, "input", "dimensions",
            wrong_types={"input": {"a": 1}, "encoding_format": "png", "dimensions": "x"},
            out_of_range={"dimensions": -1}, overflow={"input": words}, many={"input": ["hi"] * MANY},
            unknown_model=("/v1/embeddings", _j({**valid, "model": "no-such-model-xyz"})))
    if api == "kserve-v2":
        name = kserve_input or "TEXT"
        path = f"/v2/models/{model}/infer"

        def body(data: list[Any], shape: list[Any] | None = None, dtype: str = "BYTES") -> dict[str, Any]:
            return {"inputs": [{"name": name, "shape": shape or [len(data), 1], "datatype": dtype, "data": data}]}

        valid = body(["A cat sits on the mat."])
        return _json_api_cases(
            path, valid, "inputs", "inputs",
            wrong_types={"inputs": "text"},
            out_of_range={}, overflow=body([words]), many=body(["hi"] * MANY),
            unknown_model=("/v2/models/no-such-model-xyz/infer", _j(valid))) + [
            Case("hostile.wrong-types", "dtype-mismatch", "POST", path, _j(body([1.5], dtype="FP32"))),
            Case("hostile.wrong-types", "shape-mismatch", "POST", path, _j(body(["a", "b"], shape=[1, 1]))),
            Case("hostile.wrong-types", "missing-input", "POST", path, _j({"inputs": []})),
            Case("hostile.wrong-types", "unknown-dtype", "POST", path, _j(body(["a"], dtype="BANANA"))),
        ]
    if api == "ollama":
        valid = {"model": model, "messages": [{"role": "user", "content": "Say hi"}], "stream": False,
                 "options": {"num_predict": 2, "temperature": 0}}
        return _json_api_cases(
            "/api/chat", valid, "messages", "options",
            wrong_types={"messages": "hi", "options": "fast", "stream": [1]},
            out_of_range={"options": {"temperature": -1}}, overflow=None, many=None,
            unknown_model=("/api/chat", _j({**valid, "model": "no-such-model-xyz"})))
    raise ValueError(f"unknown api {api!r}")


def leaks(body: str) -> list[str]:
    """Names of the LEAK_PATTERNS found in ``body`` (empty: nothing internal shown)."""
    return [name for name, rx in LEAK_PATTERNS.items() if rx.search(body)]


def error_shape_problem(api: str, status: int | None, body: str, content_type: str) -> str | None:
    """Why an error response is not in the API's own error shape (None: it is).

    OpenAI-compatible APIs: ``{"error": {"message": str, "type": str, "param": str|null, "code": str|null}}``
    (OpenAI API reference, "Error codes"). KServe v2 (Triton) and Ollama: ``{"error": str}`` (KServe v2
    protocol, "HTTP/REST"; Ollama docs/api.md, "Errors").
    """
    if status is None:
        return "no HTTP response"
    if "json" not in content_type:
        return f"content-type {content_type!r} is not JSON"
    try:
        doc = json.loads(body)
    except ValueError:
        return "body is not JSON"
    if not isinstance(doc, dict) or "error" not in doc:
        return 'no top-level "error"'
    err = doc["error"]
    if api.startswith("openai-"):
        if not isinstance(err, dict):
            return '"error" is not an object with message/type/param/code'
        missing = [k for k in ("message", "type", "param", "code") if k not in err]
        if missing:
            return f'"error" lacks {missing}'
        if not isinstance(err["message"], str) or not err["message"].strip():
            return '"error.message" is not a non-empty string'
        if not isinstance(err["type"], str):
            return '"error.type" is not a string'
        return None
    if not isinstance(err, str) or not err.strip():
        return '"error" is not a non-empty string'
    return None


async def run_cases(client: Any, cases: list[Case], live_path: str, timeout_s: float = 60) -> list[Outcome]:
    """Send every case with ``client`` (an ``httpx.AsyncClient``), one at a time; after each, GET ``live_path``.

    A transport error (reset connection, timeout) is recorded, not raised: it is a finding.
    """
    import httpx

    out = []
    for c in cases:
        status, body, ctype, retry, err = None, "", "", None, None
        try:
            r = await client.request(c.method, c.path, content=c.body, headers=c.headers, timeout=timeout_s)
            status, body = r.status_code, r.content[:4000].decode("utf-8", "replace")
            ctype, retry = r.headers.get("content-type", ""), r.headers.get("retry-after")
        except httpx.HTTPError as exc:
            err = type(exc).__name__
        try:
            alive = (await client.get(live_path, timeout=10)).status_code == 200
        except httpx.HTTPError:
            alive = False
        out.append(Outcome(c.id, status, body, ctype, retry, alive, err))
    return out
