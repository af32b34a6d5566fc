"""Contact results recorded by agents, and outcomes resolved from the data.

An agent records what happened on a contact (reached, accepted, declined,
unreachable): the history goes to ``contact_results``, the latest result to the
member. Once the data covers a campaign's observation window, every member —
treated and control alike — is resolved from the same labels the model learns
(:func:`churnguard.features.labels.label_expr`): churned voluntarily, churned
passively (arrears), churned for other reasons, or retained.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

import ibis
import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..errors import InputError, NotFoundError, StateError
from ..warehouse.operational import session_scope
from .actions import offer_cost
from .catalog import load_catalog
from .store import CONTACT_RESULTS, Campaign, CampaignMember, ContactResult

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["ResolveReport", "close_campaign", "record_result", "resolve_outcomes"]

log = logging.getLogger(__name__)

_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_R = cast(sa.Table, ContactResult.__table__)
_CHUNK = 5000


def record_result(
    settings: Settings,
    *,
    campaign_id: int,
    subscriber_id: str,
    result: str,
    agent: str | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record an agent's result for one treated customer of a campaign."""
    if result not in CONTACT_RESULTS:
        raise InputError(f"unknown result {result!r}; use one of {', '.join(CONTACT_RESULTS)}")
    when = at or datetime.now(UTC)
    catalog = load_catalog(workspace=settings.workspace)
    with session_scope(settings) as session:
        member = session.execute(
            sa.select(_M).where(
                _M.c.campaign_id == campaign_id, _M.c.subscriber_id == subscriber_id
            )
        ).first()
        if member is None:
            exists = session.execute(sa.select(_C.c.id).where(_C.c.id == campaign_id)).first()
            if exists is None:
                raise NotFoundError(
                    f"no campaign {campaign_id}; 'churnguard campaign list' shows the campaigns"
                )
            raise NotFoundError(
                f"subscriber {subscriber_id} is not in campaign {campaign_id}; "
                f"'churnguard campaign show {campaign_id}' lists its members"
            )
        if member.arm != "treatment":
            raise StateError(
                f"subscriber {subscriber_id} is in the control group of campaign {campaign_id}: "
                "control customers are deliberately not contacted"
            )
        cost = catalog.channel(member.channel).contact_cost
        if result == "accepted":
            o = catalog.offer(member.offer)
            arpu = np.array([member.arpu_3m or 0.0])
            cost += float(offer_cost(o.cost.kind, o.cost.amount, o.cost.months, arpu)[0])
        session.execute(
            sa.insert(_R).values(
                campaign_id=campaign_id,
                member_id=member.id,
                subscriber_id=subscriber_id,
                result=result,
                agent=agent,
                note=note,
                recorded_at=when,
            )
        )
        values: dict[str, Any] = {"result": result, "result_at": when, "agent": agent, "cost": cost}
        if member.contacted_at is None:
            # a call made from the call list counts as the contact
            values.update(contacted_at=when, contact_status="sent")
        session.execute(sa.update(_M).where(_M.c.id == member.id).values(**values))
    return {
        "campaign_id": campaign_id,
        "subscriber_id": subscriber_id,
        "result": result,
        "agent": agent,
        "cost": round(cost, 2),
        "recorded_at": when.isoformat(),
    }


@dataclass
class ResolveReport:
    """Campaigns resolved in one run, and those still waiting for data."""

    resolved: dict[int, dict[str, int]] = field(default_factory=dict)
    waiting: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolved": {str(k): v for k, v in self.resolved.items()},
            "waiting": {str(k): v for k, v in self.waiting.items()},
        }


def _labels_for(settings: Settings, *, as_of: date, months: int, ids: list[str]) -> pd.DataFrame:
    from ..features.labels import label_expr
    from ..warehouse.analytical import connect

    labels = settings.labels.model_copy(update={"horizon_months": months})
    backend = connect(settings, read_only=True)
    try:
        t = label_expr(backend, as_of=as_of, labels=labels)
        t = t.semi_join(ibis.memtable({"subscriber_id": ids}), "subscriber_id")
        s = backend.table("subscribers")
        t = t.left_join(s.select("subscriber_id", "churn_date"), "subscriber_id")
        df: pd.DataFrame = t.select(
            "subscriber_id", "label_voluntary", "label_passive", "label_natural", "churn_date"
        ).execute()
    finally:
        backend.disconnect()
    return df


def resolve_outcomes(settings: Settings, *, campaign_id: int | None = None) -> ResolveReport:
    """Resolve the outcome of every member of campaigns whose observation window has data."""
    from ..features.labels import label_lag_months, labeled_as_ofs

    report = ResolveReport()
    with session_scope(settings) as session:
        cols = (_C.c.id, _C.c.as_of, _C.c.observation_end, _C.c.purpose)
        q = sa.select(*cols).where(_C.c.status != "resolved")
        if campaign_id is not None:
            q = sa.select(*cols).where(_C.c.id == campaign_id)
        campaigns = session.execute(q).all()
    if campaign_id is not None and not campaigns:
        raise NotFoundError(f"no campaign {campaign_id}; 'churnguard campaign list' shows them")
    for cid, as_of, obs_end, purpose in campaigns:
        if purpose == "winback":  # the outcome is a return, detected from new subscriptions
            from .winback import resolve_winback

            done = resolve_winback(settings, int(cid), as_of=as_of, observation_end=obs_end)
            if isinstance(done, str):
                report.waiting[int(cid)] = done
            else:
                report.resolved[int(cid)] = done
            continue
        months = max(1, (obs_end.year - as_of.year) * 12 + obs_end.month - as_of.month)
        labels = settings.labels.model_copy(update={"horizon_months": months})
        if as_of not in labeled_as_ofs(settings, date.max.replace(day=1), labels=labels):
            report.waiting[int(cid)] = (
                f"needs data through {label_lag_months(labels)} month(s) after {as_of:%Y-%m}"
            )
            continue
        report.resolved[int(cid)] = _resolve_one(settings, int(cid), as_of=as_of, months=months)
    return report


def close_campaign(session: Any, cid: int, *, now: datetime) -> None:
    """Settle a resolved campaign's costs and mark it resolved (retention, care, win-back).

    What the campaign cost: recorded results' actual cost, else the expected cost of a
    delivered contact, nothing for a contact that never went out.
    """
    session.execute(
        sa.update(_M)
        .where(_M.c.campaign_id == cid, _M.c.cost.is_(None), _M.c.arm == "treatment")
        .values(cost=sa.case((_M.c.contact_status == "sent", _M.c.expected_cost), else_=0.0))
    )
    session.execute(sa.update(_C).where(_C.c.id == cid).values(status="resolved", resolved_at=now))


def _resolve_one(settings: Settings, cid: int, *, as_of: date, months: int) -> dict[str, int]:
    with session_scope(settings) as session:
        members = pd.DataFrame(
            session.execute(
                sa.select(_M.c.id, _M.c.subscriber_id, _M.c.arm, _M.c.contact_status).where(
                    _M.c.campaign_id == cid
                )
            ).all(),
            columns=["id", "subscriber_id", "arm", "contact_status"],
        )
    lab = _labels_for(settings, as_of=as_of, months=months, ids=members["subscriber_id"].tolist())
    df = members.merge(lab, on="subscriber_id", how="left")
    outcome = np.select(
        [
            df["label_voluntary"].fillna(0).to_numpy() == 1,
            df["label_passive"].fillna(0).to_numpy() == 1,
            df["label_natural"].fillna(0).to_numpy() == 1,
            df["label_voluntary"].notna().to_numpy(),
        ],
        ["churned_voluntary", "churned_passive", "churned_other", "retained"],
        default="unknown",
    )
    df["outcome"] = outcome
    churn_month = pd.to_datetime(df["churn_date"]).dt.to_period("M").dt.start_time.dt.date
    df["outcome_month"] = np.where(df["outcome"].str.startswith("churned"), churn_month, None)
    now = datetime.now(UTC)
    with session_scope(settings) as session:
        for (value, month), part in df[df["outcome"] != "unknown"].groupby(
            ["outcome", df["outcome_month"].astype(str)], dropna=False
        ):
            ids = part["id"].astype(int).tolist()
            month_value = None if month in ("None", "NaT", "nan") else date.fromisoformat(month)
            for start in range(0, len(ids), _CHUNK):
                session.execute(
                    sa.update(_M)
                    .where(_M.c.id.in_(ids[start : start + _CHUNK]))
                    .values(outcome=value, outcome_month=month_value)
                )
        close_campaign(session, cid, now=now)
    counts = {str(k): int(v) for k, v in df["outcome"].value_counts().items()}
    log.info("campaign %d resolved: %s", cid, counts)
    return counts
