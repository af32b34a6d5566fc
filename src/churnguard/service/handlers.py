"""Errors to HTTP: the library's errors, validation errors in plain words, and bugs.

InputError → 422, NotFoundError → 404, StateError → 409, ConfigError → 500 with a
safe message; request validation → 422 ``{"error", "fields"}``; anything else →
500 with the request id (the traceback goes to the log, never to the caller).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ConfigError, InputError, NotFoundError, StateError
from .scoring import PayloadError

__all__ = ["install_handlers", "plain_field_errors"]

log = logging.getLogger(__name__)


def _rid(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid


def _body(error: str, request: Request, **extra: Any) -> dict[str, Any]:
    return {"error": error, **extra, "request_id": _rid(request)}


_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "is not an accepted field",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "json_invalid": "is not valid JSON",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_parsing": "must be a date, YYYY-MM-DD",
}


def _plain_message(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "string_pattern_mismatch":
        return "has the wrong format (months are written YYYY-MM)"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    if kind == "enum":
        return f"must be one of {ctx.get('expected', '')}".replace("'", "")
    msg = str(err.get("msg", "is not valid"))
    return msg.replace("Input should be", "must be").replace("Value error, ", "")


def plain_field_errors(errors: list[Any]) -> dict[str, str]:
    """Pydantic errors as ``{"field.path": "plain message"}`` (body/query prefixes dropped)."""
    out: dict[str, str] = {}
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        name = ".".join(loc) or "body"
        out.setdefault(name, _plain_message(err))
    return out


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = plain_field_errors(list(exc.errors()))
        listed = "; ".join(f"{k} {v}" for k, v in fields.items())
        return JSONResponse(
            status_code=422,
            content=_body(f"the request is not valid: {listed}", request, fields=fields),
        )

    @app.exception_handler(PayloadError)
    async def _payload(request: Request, exc: PayloadError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body(str(exc), request, fields=exc.fields))

    @app.exception_handler(ConfigError)
    async def _config(request: Request, exc: ConfigError) -> JSONResponse:
        log.error("configuration error (request %s): %s", _rid(request), type(exc).__name__)
        return JSONResponse(
            status_code=500,
            content=_body(
                "the service's workspace configuration is invalid; an administrator should "
                "run 'churnguard config' on the server and fix churnguard.toml or the YAML files",
                request,
            ),
        )

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(status_code=422, content=_body(str(exc), request, fields={}))

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse(status_code=404, content=_body(str(exc), request))

    @app.exception_handler(StateError)
    async def _state(request: Request, exc: StateError) -> JSONResponse:
        return JSONResponse(status_code=409, content=_body(str(exc), request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content=_body(str(exc.detail), request),
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in request %s", _rid(request))
        return JSONResponse(
            status_code=500,
            content=_body("internal error; give the request id to the administrator", request),
        )
