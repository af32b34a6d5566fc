"""Request dependencies: settings, the caller (API key or session cookie), role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .auth import (
    SESSION_COOKIE,
    Principal,
    authenticate_key,
    cached_key_principal,
    principal_by_id,
)

if TYPE_CHECKING:
    from ..config import Settings
    from .scoring import ScoreCache

__all__ = [
    "AnyRole",
    "current_principal",
    "request_id",
    "require",
    "require_async",
    "scores_of",
    "settings_of",
]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def scores_of(request: Request) -> ScoreCache:
    scores: ScoreCache = request.app.state.scores
    return scores


def request_id(request: Request) -> str | None:
    rid: str | None = request.scope.get("state", {}).get("request_id")
    return rid


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer KEY`` or the session cookie; else 401."""
    settings = settings_of(request)
    header = request.headers.get("authorization")
    principal: Principal | None
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise _unauthorized("send the API key as 'Authorization: Bearer KEY'")
        principal = authenticate_key(settings, key.strip())
        if principal is None:
            raise _unauthorized("the API key is not valid or was revoked")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        uid = request.app.state.signer.loads(cookie) if cookie else None
        principal = principal_by_id(settings, uid) if uid is not None else None
        if principal is None:
            raise _unauthorized(
                "sign in first: POST /login, or send 'Authorization: Bearer KEY' "
                "(keys: 'churnguard users create')"
            )
        _check_same_origin(request)
    request.scope.setdefault("state", {})["user"] = principal.name
    return principal


# Declared so that the OpenAPI docs show both ways to authenticate ("Authorize" in /docs);
# the checks themselves are in current_principal.
_BEARER = HTTPBearer(auto_error=False, description="API key from 'churnguard users create'")
_COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="session of POST /login")


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _check_same_origin(request: Request) -> None:
    """Cookie-authenticated writes must come from this site's own pages (CSRF defence).

    Browsers send ``Origin`` (else ``Referer``) with cross-origin writes; a foreign
    one is refused. ``SameSite=Lax`` already keeps the cookie off cross-site posts;
    this also covers other origins of the same site (sibling subdomains).
    """
    if request.method not in _UNSAFE:
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    if source != own and not source.startswith(own + "/"):
        raise HTTPException(403, "cross-site request refused: send it from this site's pages")


def _check_role(principal: Principal, roles: tuple[str, ...]) -> Principal:
    if principal.role not in roles:
        raise HTTPException(
            403, f"your role ({principal.role}) may not do this; allowed: {', '.join(roles)}"
        )
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency that admits only ``roles`` (401 when not signed in, 403 otherwise)."""

    def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _cookie: Annotated[str | None, Security(_COOKIE)] = None,
    ) -> Principal:
        return _check_role(current_principal(request), roles)

    return check


def _cached_principal(request: Request) -> Principal | None:
    """The caller when its API key is in the key cache (no query, no blocking), else ``None``."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    principal = cached_key_principal(settings_of(request), key.strip())
    if principal is not None:
        request.scope.setdefault("state", {})["user"] = principal.name
    return principal


def require_async(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """:func:`require` for ``async`` endpoints on the hot path (score by id).

    A key found in the key cache is checked on the event loop; anything else (a
    key not cached, a session cookie, no credentials) goes through
    :func:`current_principal` in the thread pool, with the same answers.
    """

    async def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
        _cookie: Annotated[str | None, Security(_COOKIE)] = None,
    ) -> Principal:
        principal = _cached_principal(request)
        if principal is None:
            principal = await run_in_threadpool(current_principal, request)
        return _check_role(principal, roles)

    return check


AnyRole: Any = require("admin", "manager", "analyst", "agent")
