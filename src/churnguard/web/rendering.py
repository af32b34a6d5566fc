"""Rendering pages: the Jinja2 environment, the page context, and errors as readable pages.

:class:`PageRoute` is the route class of the dashboard's router: the service's
errors (401 from the auth dependencies, 403 from the role checks, the library's
``NotFoundError``/``InputError``/``StateError``, request validation) become an
HTML page in the user's language instead of the API's JSON; an unauthenticated
page request is redirected to the login page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError, NotFoundError, StateError
from .i18n import LANG_COOKIE, LANGS, Translator, negotiate

__all__ = ["LOGIN_PATH", "PageRoute", "page_context", "render", "translator_for"]

log = logging.getLogger(__name__)

LOGIN_PATH = "/ui/login"

_ENV = Environment(
    loader=PackageLoader("churnguard.web", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["chart_json"] = lambda spec: json.dumps(spec, ensure_ascii=False, allow_nan=False)


def _pct(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.{digits}f}"


_ENV.filters["pct"] = _pct
_ENV.filters["num"] = _num


def translator_for(request: Request) -> Translator:
    """The request's language: the ``cg_lang`` cookie, else Accept-Language."""
    return Translator(
        negotiate(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
    )


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def page_context(request: Request, principal: Any = None) -> dict[str, Any]:
    """What every page's frame needs: texts, language links, the user and the navigation."""
    t = translator_for(request)
    here = _here(request)
    return {
        "t": t,
        "lang": t.lang,
        "langs": [(code, f"/ui/lang?set={code}&next={quote(here, safe='')}") for code in LANGS],
        "user": principal,
        "path": request.url.path,
        "request_id": request.scope.get("state", {}).get("request_id"),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    principal: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page from ``template`` with the frame's context and ``context``."""
    ctx = page_context(request, principal)
    ctx.update(context)
    html = _ENV.get_template(template).render(**ctx)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def error_page(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    """A readable error page; ``detail`` is the service's own (English, safe) message."""
    key = f"error.{status}" if status in (401, 403, 404, 409, 422) else "error.500"
    return render(
        request,
        "error.html",
        {"status": status, "message_key": key, "detail": detail},
        status_code=status,
    )


def _login_redirect(request: Request) -> RedirectResponse:
    # after signing in the browser GETs ``next``: a form post goes back to the page it came from
    here = _here(request) if request.method == "GET" else "/ui/"
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(here, safe='')}", status_code=303)


class PageRoute(APIRoute):
    """An API route whose errors are HTML pages (and 401 a redirect to the login page)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except StarletteHTTPException as exc:
                if exc.status_code == 401:
                    return _login_redirect(request)
                return error_page(request, exc.status_code, str(exc.detail))
            except NotFoundError as exc:
                return error_page(request, 404, str(exc))
            except (InputError, RequestValidationError, ValidationError) as exc:
                detail = str(exc) if isinstance(exc, InputError) else None
                return error_page(request, 422, detail)
            except StateError as exc:
                return error_page(request, 409, str(exc))
            except Exception:
                # the traceback goes to the log (request id only), the user gets a page
                rid = request.scope.get("state", {}).get("request_id")
                log.exception("unexpected error in page request %s", rid)
                return error_page(request, 500)

        return page_handler
