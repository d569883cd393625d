"""The served OpenAPI document: the library's own, corrected to say what this server does.

Changes to ``app.openapi()`` of llama-cpp-python 0.3.36, each because a client or a fuzzer
(schemathesis) reads the document as a promise:

* security: the library declares HTTP bearer auth on every operation even when no key is set.
  Without ``LLAMACPP_API_KEY`` the document declares none; with a key, every model endpoint
  (``/v1/*``, ``/extras/*``) declares it and documents the 401;
* error responses: the guard's answers (400, 404, 413, 422, 429, 503, and 401 with a key) are
  documented with OpenAI's error schema; the library's 422 ``HTTPValidationError`` (``{"detail"}``)
  is replaced because the guard never answers in that shape;
* removed routes (``/v1/embeddings``: models load without ``embedding=True``) are left out.
"""

from __future__ import annotations

import copy
from typing import Any

ERROR_SCHEMA_NAME = "OpenAIError"

#: OpenAI's error object (API reference, "Error codes"); ``param`` and ``code`` may be null.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["message", "type", "param", "code"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                       "code": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }},
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}

#: status -> description of every error the guard answers on a model endpoint.
_ERRORS = {
    "400": "Bad value (e.g. temperature out of range, prompt over the context, invalid JSON)",
    "404": "Unknown model",
    "413": "Request body too large",
    "422": "Wrong type or range (the library's request schema)",
    "503": "Models loading, server draining, or no generation slot in time",
}
_GENERATION_ERRORS = {"429": "Queue full"}


def _error_response(description: str, retry_after: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}}}
    if retry_after:
        out["headers"] = copy.deepcopy(_RETRY_AFTER)
    return out


def _document_errors(path: str, method: str, op: dict[str, Any], with_key: bool) -> None:
    errors = dict(_ERRORS)
    if path in ("/v1/chat/completions", "/v1/completions"):
        errors.update(_GENERATION_ERRORS)
    if method == "get":  # no body: only loading/draining and an unknown route apply
        errors = {"503": _ERRORS["503"]}
    if with_key:
        errors["401"] = "Missing or wrong API key"
    responses = op.setdefault("responses", {})
    for status, description in errors.items():
        responses[status] = _error_response(description, status in ("429", "503"))


def rewrite(doc: dict[str, Any], with_key: bool, removed: set[str]) -> dict[str, Any]:
    """A corrected copy of the library's OpenAPI document ``doc`` (see the module docstring).

    ``with_key``: an API key is configured. ``removed``: paths not served. Returns a new dict.
    """
    doc = copy.deepcopy(doc)
    doc["paths"] = {p: ops for p, ops in doc.get("paths", {}).items() if p not in removed}
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    components["schemas"].pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    if with_key:
        components["securitySchemes"] = {"HTTPBearer": {"type": "http", "scheme": "bearer"}}
    else:
        components.pop("securitySchemes", None)
    for path, ops in doc["paths"].items():
        model_endpoint = path.startswith(("/v1/", "/extras/"))
        for method, op in ops.items():
            op.pop("security", None)
            if model_endpoint:
                if with_key:
                    op["security"] = [{"HTTPBearer": []}]
                _document_errors(path, method, op, with_key)
    return doc
