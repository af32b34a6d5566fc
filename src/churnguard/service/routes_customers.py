"""Warnings (the worklist) and the customer 360 view."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from ..months import parse_month
from . import audit
from .access import check_customer
from .auth import Principal
from .customers import customer_360
from .deps import AnyRole, request_id, scores_of, settings_of
from .masking import sees_clear_text
from .schemas import Page
from .worklist import query_warnings, summarize_warnings

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["customers"])


@router.get("/warnings", response_model=Page, summary="Warnings with filters and paging")
def list_warnings(
    request: Request,
    principal: Annotated[Principal, Depends(AnyRole)],
    level: Literal["red", "orange", "yellow"] | None = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[
        str | None, Query(max_length=16, description="value tier: high, medium, low")
    ] = None,
    value_tier: Annotated[str | None, Query(max_length=16, description="same as segment")] = None,
    reason: Annotated[
        str | None, Query(pattern=r"^[A-Z]\d{3}$", description="rule code, e.g. W008")
    ] = None,
    category: Annotated[str | None, Query(max_length=32, description="reason category")] = None,
    churn_type: Annotated[str | None, Query(max_length=16)] = None,
    raised_from: date | None = None,
    raised_to: date | None = None,
    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
    status: Literal["open", "closed", "all"] = "open",
    sort: Annotated[
        Literal["urgency", "probability", "clv", "deadline", "raised_on"],
        Query(
            description="urgency (level, deadline, probability; the default), probability, "
            "clv, deadline, raised_on (newest first)"
        ),
    ] = "urgency",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    settings = settings_of(request)
    queues: tuple[str, ...] | None = None
    if principal.role == "agent":
        if queue is not None and queue not in principal.queues:
            raise HTTPException(
                403, f"you work the queues {', '.join(principal.queues) or '(none)'}"
            )
        queues = (queue,) if queue else principal.queues
    elif queue is not None:
        queues = (queue,)
    filters: dict[str, Any] = {
        "status": None if status == "all" else status,
        "level": level,
        "queues": queues,
        "value_tier": value_tier or segment,
        "rule": reason,
        "category": category,
        "churn_type": churn_type,
        "raised_from": raised_from,
        "raised_to": raised_to,
        "as_of": parse_month(as_of) if as_of else None,
    }
    clear = sees_clear_text(principal, settings)
    total, items = query_warnings(
        settings, filters, limit=limit, offset=offset, clear=clear, sort=sort
    )
    if clear and items:
        audit.append(
            settings,
            actor=principal.name,
            role=principal.role,
            action="warnings.viewed_clear_text",
            details={"rows": len(items), "offset": offset},
            request_id=request_id(request),
        )
    return Page(total=total, limit=limit, offset=offset, items=items)


@router.get("/warnings/summary", summary="Warning counts by level, queue, tier; tier × level")
def warnings_summary(
    request: Request,
    principal: Annotated[Principal, Depends(AnyRole)],
    status: Literal["open", "closed", "all"] = "open",
    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
) -> dict[str, Any]:
    filters: dict[str, Any] = {
        "status": None if status == "all" else status,
        "as_of": parse_month(as_of) if as_of else None,
        "queues": principal.queues if principal.role == "agent" else None,
    }
    return summarize_warnings(settings_of(request), filters)


@router.get("/customers/{subscriber_id}", summary="Customer 360 view")
def customer(
    subscriber_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(AnyRole)],
) -> dict[str, Any]:
    settings = settings_of(request)
    check_customer(settings, principal, subscriber_id)
    clear = sees_clear_text(principal, settings)
    view = customer_360(settings, subscriber_id, scores=scores_of(request), clear=clear)
    if clear:
        # PIPL: reads of personal data in clear text are recorded
        audit.append(
            settings,
            actor=principal.name,
            role=principal.role,
            action="customer.viewed_clear_text",
            target=subscriber_id,
            request_id=request_id(request),
        )
    return view
