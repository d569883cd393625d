"""OpenAI-shaped errors: the exception handlers raise, and the app's handlers render.

Every 4xx/5xx body is ``{"error": {"message", "type", "param", "code"}}`` (``servekit.openai_error``) so the
``openai`` client raises its usual exceptions: 400 too many tokens / unsupported dimensions, 401 bad API key,
404 unknown model, 413 body or input list too large, 422 malformed JSON or wrong types, 503 loading /
draining / queue full (with ``Retry-After``). No body carries a traceback, a file path or a class name.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .metrics import Metrics
from .servekit import openai_error

BODY_UNPARSABLE = ("request body could not be decoded: send UTF-8 JSON with Content-Type: application/json, "
                   "nested less than 1000 levels deep, integers of at most 4300 digits")
"""400 message when the body is not decodable JSON. The limits are Python's: ``json.loads`` recurses once per
nesting level (default recursion limit 1000) and ``int()`` refuses more than 4300 digits
(``sys.get_int_max_str_digits()``, Python ≥ 3.11)."""


def error_response(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """An OpenAI error object as a ``JSONResponse`` with HTTP ``status``."""
    return JSONResponse(openai_error(message, type_, param, code), status_code=status, headers=headers)


class ApiError(Exception):
    """Raised inside handlers; rendered by :func:`install_error_handlers` as an OpenAI-style error.

    ``status``: HTTP status; ``retry_after``: seconds for the ``Retry-After`` header (503), or ``None``.
    A 401 always carries ``WWW-Authenticate: Bearer``.
    """

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        """The error as a response, with ``Retry-After`` / ``WWW-Authenticate`` where they apply."""
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        if self.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(self.status, self.message, self.type, self.param, self.code, headers)


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """Turn pydantic's error list into one clear sentence and the offending parameter (or ``None``)."""
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


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Render ``ApiError``, schema errors (422) and Starlette's own HTTP errors in OpenAI's shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        metrics.rejected.labels("validation").inc()
        msg, param = validation_message(exc)
        return error_response(422, msg, param=param, code="invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        msg = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in msg:  # FastAPI's words when json.loads raised
            msg = BODY_UNPARSABLE
        return error_response(exc.status_code, msg, headers=getattr(exc, "headers", None))
