"""Read-only views of campaigns for the CLI and the API: the list and one campaign's detail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from ..errors import NotFoundError
from ..warehouse.operational import session_scope
from .store import Campaign, CampaignMember, OutboxMessage

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["list_campaigns", "show_campaign"]

_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_O = cast(sa.Table, OutboxMessage.__table__)


def _plain(row: Any) -> dict[str, Any]:
    out = {}
    for k, v in dict(row).items():
        out[k] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


def list_campaigns(settings: Settings) -> list[dict[str, Any]]:
    """Every campaign, newest first."""
    with session_scope(settings) as session:
        rows = session.execute(sa.select(_C).order_by(_C.c.id.desc())).mappings().all()
    out = [_plain(r) for r in rows]
    for r in out:
        r["as_of"] = str(r["as_of"])[:7]
    return out


def _counts(session: Any, column: Any, *where: Any) -> dict[str, int]:
    q = sa.select(column, sa.func.count()).where(*where).group_by(column)
    return {str(k): int(n) for k, n in session.execute(q).all()}


def show_campaign(settings: Settings, campaign_id: int) -> dict[str, Any]:
    """One campaign with delivery, result and outcome counts and its members."""
    with session_scope(settings) as session:
        camp = session.execute(sa.select(_C).where(_C.c.id == campaign_id)).mappings().first()
        if camp is None:
            raise NotFoundError(
                f"no campaign {campaign_id}; 'churnguard campaign list' shows the campaigns"
            )
        delivery = _counts(session, _O.c.status, _O.c.campaign_id == campaign_id)
        results = _counts(
            session, _M.c.result, _M.c.campaign_id == campaign_id, _M.c.result.is_not(None)
        )
        outcomes = {
            f"{arm}:{outcome}": n
            for (arm, outcome), n in (
                ((a, o), int(n))
                for a, o, n in session.execute(
                    sa.select(_M.c.arm, _M.c.outcome, sa.func.count())
                    .where(_M.c.campaign_id == campaign_id, _M.c.outcome.is_not(None))
                    .group_by(_M.c.arm, _M.c.outcome)
                ).all()
            )
        }
        members = (
            session.execute(
                sa.select(
                    _M.c.subscriber_id,
                    _M.c.arm,
                    _M.c.stratum,
                    _M.c.level,
                    _M.c.value_tier,
                    _M.c.top_category,
                    _M.c.churn_probability,
                    _M.c.offer,
                    _M.c.channel,
                    _M.c.expected_value,
                    _M.c.queue,
                    _M.c.deadline,
                    _M.c.contact_status,
                    _M.c.result,
                    _M.c.outcome,
                )
                .where(_M.c.campaign_id == campaign_id)
                .order_by(_M.c.arm.desc(), _M.c.expected_value.desc())
            )
            .mappings()
            .all()
        )
    c = _plain(camp)
    c["as_of"] = str(c["as_of"])[:7]
    return {
        "campaign": c,
        "delivery": delivery,
        "results": results,
        "outcomes": outcomes,
        "members": [_plain(m) for m in members],
    }
