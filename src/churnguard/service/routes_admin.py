"""KPIs, the model registry, the audit log and warning rules."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request

from . import audit
from .auth import Principal
from .deps import request_id, require, scores_of, settings_of
from .schemas import Page, RuleChangeIn

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

Readers = Depends(require("admin", "manager", "analyst"))


@router.get("/kpi", tags=["kpi"], summary="Campaign KPIs, warning accuracy, churn rates")
def kpi(
    request: Request,
    _p: Annotated[Principal, Readers],
    by: Literal["queue", "region", "agent"] | None = None,
    months: Annotated[int, Query(ge=1, le=36)] = 6,
) -> dict[str, Any]:
    from ..retention.kpi import kpi_report

    return kpi_report(settings_of(request), by=by, months=months)


@router.get("/models", tags=["models"], summary="The model registry, newest first")
def models(
    request: Request,
    _p: Annotated[Principal, Readers],
    status: Literal["champion", "challenger", "retired"] | None = None,
) -> list[dict[str, Any]]:
    from ..models.registry import list_versions

    return list_versions(settings_of(request), status=status)


@router.get(
    "/models/{version}", tags=["models"], summary="One model ('champion' for the current one)"
)
def model(version: str, request: Request, _p: Annotated[Principal, Readers]) -> dict[str, Any]:
    from ..models.registry import champion, get_version

    settings = settings_of(request)
    row = champion(settings) if version == "champion" else get_version(settings, version)
    if version == "champion":
        _row, m = scores_of(request).champion()
        row["features"] = {"numeric": list(m.plan.numeric), "categorical": list(m.plan.categorical)}
    return row


@router.post(
    "/models/{version}/promote", tags=["models"], summary="Make a model the champion (admin)"
)
def promote_model(
    version: str, request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    from ..models.registry import promote

    settings = settings_of(request)
    out = promote(settings, version)
    scores_of(request).forget_model()
    audit.append(
        settings,
        actor=principal.name,
        role=principal.role,
        action="model.promoted",
        target=f"model:{version}",
        details=out,
        request_id=request_id(request),
    )
    return out


@router.get("/audit", tags=["audit"], response_model=Page, summary="The audit log (admin, manager)")
def audit_log(
    request: Request,
    _p: Annotated[Principal, Depends(require("admin", "manager"))],
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=48)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    total, items = audit.list_events(
        settings_of(request),
        actor=actor,
        action=action,
        target=target,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return Page(total=total, limit=limit, offset=offset, items=items)


@router.put("/rules/{code}", tags=["rules"], summary="Mute/unmute or retune a warning rule (admin)")
def put_rule(
    code: Annotated[str, Path(pattern=r"^[A-Z]\d{3}$")],
    body: RuleChangeIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    from .rules_edit import change_rule

    settings = settings_of(request)
    out = change_rule(settings, code, body.model_dump(exclude_none=True))
    audit.append(
        settings,
        actor=principal.name,
        role=principal.role,
        action="rule.changed",
        target=f"rule:{code}",
        details={"before": out["before"], "after": out["after"]},
        request_id=request_id(request),
    )
    return out
