"""Campaigns: list, detail, plan, launch, KPIs, and contact outcomes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from . import audit
from .access import check_member
from .auth import Principal
from .deps import AnyRole, request_id, require, settings_of
from .schemas import CampaignPlanIn, ContactResultIn

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["campaigns"])

Managers = Depends(require("admin", "manager"))


@router.get("/campaigns", summary="Every campaign, newest first")
def campaigns(request: Request, _p: Annotated[Principal, Depends(AnyRole)]) -> list[dict[str, Any]]:
    from ..retention.views import list_campaigns

    return list_campaigns(settings_of(request))


@router.get("/campaigns/{campaign_id}", summary="One campaign: delivery, results, members")
def campaign(
    campaign_id: int, request: Request, principal: Annotated[Principal, Depends(AnyRole)]
) -> dict[str, Any]:
    from ..retention.views import show_campaign

    view = show_campaign(settings_of(request), campaign_id)
    if principal.role == "agent":
        # agents see the members of their own queues only
        view["members"] = [m for m in view["members"] if m.get("queue") in principal.queues]
    return view


@router.post("/campaigns", status_code=201, summary="Plan a campaign (manager, admin)")
def plan(
    body: CampaignPlanIn, request: Request, principal: Annotated[Principal, Managers]
) -> dict[str, Any]:
    from ..retention.planning import plan_campaign

    settings = settings_of(request)
    result = plan_campaign(
        settings,
        as_of=body.as_of,
        budget=body.budget,
        holdout=body.holdout,
        explore=body.explore,
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
            "as_of": body.as_of,
            "budget": body.budget,
            "holdout": body.holdout,
            "explore": body.explore,
        },
        request_id=request_id(request),
    )
    return out


@router.post(
    "/campaigns/{campaign_id}/launch", summary="Send a campaign's contacts (manager, admin)"
)
def launch(
    campaign_id: int, request: Request, principal: Annotated[Principal, Managers]
) -> dict[str, Any]:
    from ..retention.outbox import send_campaign

    settings = settings_of(request)
    report = send_campaign(settings, campaign_id)
    out = report.to_dict()
    audit.append(
        settings,
        actor=principal.name,
        role=principal.role,
        action="campaign.launched",
        target=f"campaign:{campaign_id}",
        details={
            k: out[k] for k in ("status", "delivered", "failed", "cancelled", "deferred", "pending")
        },
        request_id=request_id(request),
    )
    return out


@router.get("/campaigns/{campaign_id}/kpi", summary="A campaign's KPIs with intervals")
def campaign_kpi(
    campaign_id: int,
    request: Request,
    _p: Annotated[Principal, Depends(require("admin", "manager", "analyst"))],
) -> dict[str, Any]:
    from ..retention.kpi import kpi_report
    from ..retention.views import show_campaign

    settings = settings_of(request)
    show_campaign(settings, campaign_id)  # 404 for an unknown campaign
    return kpi_report(settings, campaign_id=campaign_id)


@router.post(
    "/campaigns/{campaign_id}/results",
    status_code=201,
    summary="Record a contact outcome (agents: their queue's customers)",
)
def record(
    campaign_id: int,
    body: ContactResultIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin", "manager", "agent"))],
) -> dict[str, Any]:
    from ..retention.outcomes import record_result

    settings = settings_of(request)
    check_member(settings, principal, campaign_id=campaign_id, subscriber_id=body.subscriber_id)
    out = record_result(
        settings,
        campaign_id=campaign_id,
        subscriber_id=body.subscriber_id,
        result=body.result,
        agent=principal.name,
        note=body.note,
    )
    audit.append(
        settings,
        actor=principal.name,
        role=principal.role,
        action="contact.result_recorded",
        target=f"campaign:{campaign_id}/subscriber:{body.subscriber_id}",
        # the note is free text about a customer: it stays out of the audit log
        details={"result": body.result, "cost": out["cost"], "note_given": body.note is not None},
        request_id=request_id(request),
    )
    return out
