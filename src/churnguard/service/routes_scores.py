"""Scoring: one subscriber by id (fast path), or a posted feature row."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ..months import parse_month
from .access import check_customer
from .auth import Principal
from .deps import require, require_async, scores_of, settings_of
from .schemas import ScoreOut, ScorePayloadOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["scoring"])


@router.get(
    "/customers/{subscriber_id}/score",
    response_model=ScoreOut,
    summary="Score one subscriber now (stored score of the month, else computed)",
)
async def score_one(
    subscriber_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require_async("admin", "manager", "analyst", "agent"))],
    as_of: Annotated[
        str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    ] = None,
    explain: Annotated[
        bool,
        Query(description="false: skip reasons that are not stored (always the fast path)"),
    ] = True,
) -> dict[str, Any]:
    # The hot path: the answer is in memory and the caller needs no queue check (agents'
    # check reads the operational database) -> answered on the event loop, no thread hop.
    # Anything else runs in the thread pool as a plain endpoint would.
    month = parse_month(as_of) if as_of else None
    scores = scores_of(request)
    if principal.role != "agent":
        hit = scores.score_cached(subscriber_id, as_of=month, explain=explain)
        if hit is not None:
            return hit

    def slow() -> dict[str, Any]:
        check_customer(settings_of(request), principal, subscriber_id)
        return scores.score_subscriber(subscriber_id, as_of=month, explain=explain)

    return await run_in_threadpool(slow)


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
