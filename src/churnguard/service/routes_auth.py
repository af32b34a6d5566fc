"""Sign-in for the web (session cookie), the caller's identity, and the health check."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .. import __version__
from . import audit
from .auth import SESSION_COOKIE, Principal, authenticate_password
from .deps import AnyRole, request_id, settings_of
from .masking import sees_clear_text
from .schemas import Health, Me

__all__ = ["router"]

router = APIRouter()


def _safe_next(value: str | None) -> str | None:
    # only paths on this site: no open redirects
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return None


@router.post("/login", tags=["auth"], summary="Sign in with a password (sets the session cookie)")
def login(
    request: Request,
    user: Annotated[str, Form(min_length=1, max_length=64)],
    password: Annotated[str, Form(min_length=1, max_length=256)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    settings = settings_of(request)
    throttle = request.app.state.login_throttle
    wait = throttle.blocked_for(user)
    if wait > 0:
        return JSONResponse(
            status_code=429,
            content={
                "error": f"too many failed sign-ins for this user; try again in "
                f"{int(wait // 60) + 1} minute(s)",
                "request_id": request_id(request),
            },
            headers={"Retry-After": str(int(wait) + 1)},
        )
    principal = authenticate_password(settings, user, password)
    if principal is None:
        throttle.failed(user)
        audit.append(
            settings,
            actor=user[:64],
            role=None,
            action="login.failure",
            request_id=request_id(request),
        )
        return JSONResponse(
            status_code=401,
            content={"error": "wrong user name or password", "request_id": request_id(request)},
        )
    throttle.succeeded(user)
    audit.append(
        settings,
        actor=principal.name,
        role=principal.role,
        action="login.success",
        request_id=request_id(request),
    )
    target = _safe_next(next)
    response: Response
    if target is not None:
        response = RedirectResponse(target, status_code=303)
    else:
        response = JSONResponse({"name": principal.name, "role": principal.role})
    response.set_cookie(
        SESSION_COOKIE,
        request.app.state.signer.dumps(principal),
        max_age=request.app.state.signer.max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", tags=["auth"], summary="Sign out (clears the session cookie)")
def logout(request: Request, principal: Annotated[Principal, Depends(AnyRole)]) -> Response:
    audit.append(
        settings_of(request),
        actor=principal.name,
        role=principal.role,
        action="logout",
        request_id=request_id(request),
    )
    response = JSONResponse({"signed_out": principal.name})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/api/v1/me", tags=["auth"], response_model=Me, summary="Who am I")
def me(request: Request, principal: Annotated[Principal, Depends(AnyRole)]) -> Me:
    return Me(
        name=principal.name,
        role=principal.role,
        queues=list(principal.queues),
        via=principal.via,
        clear_text=sees_clear_text(principal, settings_of(request)),
    )


@router.get("/health", tags=["service"], response_model=Health, summary="Health of both databases")
def health(request: Request) -> Any:
    from ..errors import StateError
    from ..warehouse.analytical import connect
    from ..warehouse.operational import open_operational

    settings = settings_of(request)
    try:
        with open_operational(settings).connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
        operational = "ok"
    except Exception as exc:
        operational = f"unavailable ({type(exc).__name__})"
    if not settings.warehouse_path.exists():
        warehouse = "missing (nothing ingested)"
    else:
        try:
            backend = connect(settings, read_only=True)
            backend.disconnect()
            warehouse = "ok"
        except StateError:
            warehouse = "busy (a batch is writing)"  # readable again when it is done
        except Exception as exc:
            warehouse = f"unavailable ({type(exc).__name__})"
    good = operational == "ok" and warehouse in ("ok", "busy (a batch is writing)")
    body = Health(
        status="ok" if good else "degraded",
        operational=operational,
        warehouse=warehouse,
        version=__version__,
    )
    return JSONResponse(body.model_dump(), status_code=200 if good else 503)
