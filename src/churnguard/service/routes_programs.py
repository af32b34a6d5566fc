"""Win-back campaigns, care programs and team performance (挽回 · 客户关怀 · 团队绩效)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from . import audit
from .auth import Principal
from .deps import request_id, require, settings_of
from .schemas import CareRunIn, WinbackPlanIn

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")

Managers = Depends(require("admin", "manager"))
Readers = Depends(require("admin", "manager", "analyst"))


@router.get("/kpi/teams", tags=["kpi"], summary="Team performance by team, queue, region, agent")
def team_kpi(
    request: Request,
    _p: Annotated[Principal, Readers],
    by: Literal["team", "queue", "region", "agent"] = "team",
    months: Annotated[int, Query(ge=1, le=36)] = 3,
) -> dict[str, Any]:
    from ..retention.team_kpi import team_kpi_rows

    return {"by": by, "rows": team_kpi_rows(settings_of(request), by=by, months=months)}


@router.post(
    "/winback", status_code=201, tags=["campaigns"], summary="Plan a win-back campaign (manager)"
)
def plan_winback(
    body: WinbackPlanIn, request: Request, principal: Annotated[Principal, Managers]
) -> dict[str, Any]:
    from ..retention.winback import plan_winback as _plan

    settings = settings_of(request)
    result = _plan(
        settings,
        as_of=body.as_of,
        budget=body.budget,
        holdout=body.holdout,
        name=body.name,
        created_by=principal.name,
    )
    out = result.to_dict()
    audit.campaign_planned(
        settings,
        actor=principal.name,
        role=principal.role,
        plan=out,
        params={
            "purpose": "winback",
            "as_of": body.as_of,
            "budget": body.budget,
            "holdout": body.holdout,
        },
        request_id=request_id(request),
    )
    return out


@router.get("/care/programs", tags=["campaigns"], summary="The workspace's care programs")
def care_programs(request: Request, _p: Annotated[Principal, Readers]) -> list[dict[str, Any]]:
    from ..retention.care import load_programs

    return [p.model_dump(mode="json") for p in load_programs(settings_of(request)).programs]


@router.post(
    "/care/programs/{code}/runs",
    status_code=201,
    tags=["campaigns"],
    summary="Run a care program (manager)",
)
def run_care(
    code: str, body: CareRunIn, request: Request, principal: Annotated[Principal, Managers]
) -> dict[str, Any]:
    from ..retention.care import run_program

    settings = settings_of(request)
    run = run_program(
        settings,
        code,
        as_of=body.as_of,
        run_date=body.run_date,
        budget=body.budget,
        holdout=body.holdout,
        created_by=principal.name,
    )
    out = run.to_dict()
    audit.campaign_planned(
        settings,
        actor=principal.name,
        role=principal.role,
        plan=out,
        params={"purpose": "care", "program": code, "as_of": body.as_of},
        request_id=request_id(request),
    )
    return out
