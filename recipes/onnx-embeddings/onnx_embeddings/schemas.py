"""Request, response and error models: the OpenAPI document that clients and schemathesis see.

Field names and shapes follow the OpenAI API reference (``CreateEmbeddingRequest``, ``CreateEmbeddingResponse``,
``Model``, ``ListModelsResponse``, the error object) so the official ``openai`` client works unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

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


class Health(BaseModel):
    """``GET /healthz`` answer: always ``{"status": "ok"}`` while the process answers."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """``GET /readyz`` answer (CONTRIBUTING.md, "Server conventions"): 200 only when ``status`` is ``ready``.

    ``models``: served model ids (empty until the model is loaded); ``detail``: why not ready, in words safe
    for a client (no path, no traceback), ``null`` when ready.
    """

    status: Literal["ready", "loading", "draining", "failed"]
    models: list[str]
    detail: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorResponse, "description": d} for c, d in {
        400: "too many tokens, or unsupported dimensions", 401: "missing or wrong API key",
        404: "unknown model", 413: "request body or input list too large",
        422: "malformed JSON or wrong types", 503: "loading, draining or queue full (see Retry-After)"}.items()}
"""OpenAPI ``responses`` entries: HTTP status → error model and when it happens."""
