"""Scoring: one subscriber by id (fast path), or a posted feature row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from ..months import parse_month
from .access import check_customer
from .auth import Principal
from .deps import require, scores_of, settings_of
from .schemas import ScoreOut, ScorePayloadOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["scoring"])


@router.get(
    "/customers/{subscriber_id}/score",
    response_model=ScoreOut,
    summary="Score one subscriber now (stored score of the month, else computed)",
)
def score_one(
    subscriber_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin", "manager", "analyst", "agent"))],
    as_of: Annotated[
        str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    ] = None,
    explain: Annotated[
        bool,
        Query(description="false: skip reasons that are not stored (always the fast path)"),
    ] = True,
) -> dict[str, Any]:
    check_customer(settings_of(request), principal, subscriber_id)
    month = parse_month(as_of) if as_of else None
    return scores_of(request).score_subscriber(subscriber_id, as_of=month, explain=explain)


@router.post(
    "/score",
    response_model=ScorePayloadOut,
    summary="Score a posted feature row (JSON object of feature values)",
)
def score_payload(
    request: Request,
    features: Annotated[dict[str, Any], Body(description="feature name → value")],
    _p: Annotated[Principal, Depends(require("admin", "manager", "analyst"))],
) -> dict[str, Any]:
    return scores_of(request).score_payload(features)
