"""Retention KPIs: campaigns against their control groups, warning accuracy, churn rates.

Campaign figures come from the operational database (members, results,
outcomes); warning accuracy and churn rates compare the stored warnings with the
labels computed from the warehouse, for every month whose labels are known.

Incremental retention is the difference of retention rates between treated and
control customers, with Newcombe's hybrid score interval (from two Wilson
intervals), which keeps its coverage for small groups and rates near 0 or 1.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import sqlalchemy as sa

from ..errors import InputError, NotFoundError
from ..warehouse.operational import session_scope
from .store import Campaign, CampaignMember

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "campaign_kpis",
    "churn_rates",
    "kpi_report",
    "newcombe_interval",
    "warning_accuracy",
    "wilson_interval",
    "winback_kpis",
]

_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, *, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (``(nan, nan)`` when ``n`` is 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(
    s1: int, n1: int, s2: int, n2: int, *, z: float = _Z95
) -> tuple[float, float, float]:
    """Difference ``s1/n1 − s2/n2`` with Newcombe's 95 % hybrid score interval."""
    if n1 <= 0 or n2 <= 0:
        return (math.nan, math.nan, math.nan)
    p1, p2 = s1 / n1, s2 / n2
    l1, u1 = wilson_interval(s1, n1, z=z)
    l2, u2 = wilson_interval(s2, n2, z=z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (d, lower, upper)


def _rate(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


def _members(settings: Settings, campaign_id: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    with session_scope(settings) as session:
        cq = sa.select(_C)
        if campaign_id is not None:
            cq = cq.where(_C.c.id == campaign_id)
        campaigns = pd.DataFrame(session.execute(cq).mappings().all())
        if campaigns.empty:
            if campaign_id is not None:
                raise NotFoundError(
                    f"no campaign {campaign_id}; 'churnguard campaign list' shows the campaigns"
                )
            return campaigns, pd.DataFrame()
        mq = sa.select(
            _M.c.campaign_id,
            _M.c.subscriber_id,
            _M.c.arm,
            _M.c.queue,
            _M.c.region,
            _M.c.agent,
            _M.c.clv,
            _M.c.deadline,
            _M.c.contact_status,
            _M.c.contacted_at,
            _M.c.result,
            _M.c.outcome,
            _M.c.cost,
            _M.c.expected_cost,
        ).where(_M.c.campaign_id.in_(campaigns["id"].astype(int).tolist()))
        members = pd.DataFrame(session.execute(mq).mappings().all())
    return campaigns, members


def _group_kpis(m: pd.DataFrame, *, purpose: str = "retention") -> dict[str, Any]:
    """KPIs of one group of members (one campaign, or one team across campaigns).

    Retention and care count a member kept when its outcome is ``retained``; win-back
    when it is ``returned`` (see :func:`winback_kpis`).
    """
    if purpose == "winback":
        return winback_kpis(m)
    t = m[m["arm"] == "treatment"]
    c = m[m["arm"] == "control"]
    sent = t["contact_status"] == "sent"
    contacted_day = pd.to_datetime(t["contacted_at"], utc=True).dt.date
    within = sent & (contacted_day <= pd.to_datetime(t["deadline"]).dt.date)
    answered = t["result"].isin(["reached", "accepted", "declined"])
    accepted = t["result"] == "accepted"
    t_res = t[t["outcome"].notna()]
    c_res = c[c["outcome"].notna()]
    t_kept = int((t_res["outcome"] == "retained").sum())
    c_kept = int((c_res["outcome"] == "retained").sum())
    diff, lo, hi = newcombe_interval(t_kept, len(t_res), c_kept, len(c_res))
    # costs are empty (object dtype) until contacts are sent: compare as numbers
    actual = pd.to_numeric(t["cost"], errors="coerce")
    expected = pd.to_numeric(t["expected_cost"], errors="coerce").where(sent, 0.0)
    cost = float(actual.fillna(expected).fillna(0).sum())
    saved = None if math.isnan(diff) else diff * len(t_res)
    revenue = None if math.isnan(diff) else diff * float(t_res["clv"].fillna(0).sum())
    out: dict[str, Any] = {
        "treated": len(t),
        "control": len(c),
        "contacted": int(sent.sum()),
        "contact_within_deadline_rate": _rate(float(within.sum()), len(t)),
        "results_recorded": int(t["result"].notna().sum()),
        "acceptance_rate": _rate(float(accepted.sum()), float(answered.sum())),
        "resolved_treated": len(t_res),
        "resolved_control": len(c_res),
        "retention_rate_treated": _rate(t_kept, len(t_res)),
        "retention_rate_control": _rate(c_kept, len(c_res)),
        "incremental_retention": None if math.isnan(diff) else diff,
        "incremental_ci95": None if math.isnan(diff) else [lo, hi],
        "customers_saved": saved,
        "cost": cost,
        "revenue_saved": revenue,
        "roi": None if revenue is None or cost <= 0 else (revenue - cost) / cost,
    }
    return out


def winback_kpis(m: pd.DataFrame) -> dict[str, Any]:
    """Win-back KPIs of a group of members: return rates, lift vs control with its
    Newcombe interval, cost per returned customer, value regained."""
    t = m[m["arm"] == "treatment"]
    c = m[m["arm"] == "control"]
    sent = t["contact_status"] == "sent"
    t_res = t[t["outcome"].notna()]
    c_res = c[c["outcome"].notna()]
    t_back = t_res["outcome"] == "returned"
    c_back = int((c_res["outcome"] == "returned").sum())
    diff, lo, hi = newcombe_interval(int(t_back.sum()), len(t_res), c_back, len(c_res))
    actual = pd.to_numeric(t["cost"], errors="coerce")
    expected = pd.to_numeric(t["expected_cost"], errors="coerce").where(sent, 0.0)
    cost = float(actual.fillna(expected).fillna(0).sum())
    lift = None if math.isnan(diff) else diff
    extra = None if lift is None else lift * len(t_res)
    clv = pd.to_numeric(t_res["clv"], errors="coerce").fillna(0)
    incremental_value = None if lift is None else lift * float(clv.sum())
    accepted = t["result"] == "accepted"
    answered = t["result"].isin(["reached", "accepted", "declined"])
    return {
        "treated": len(t),
        "control": len(c),
        "contacted": int(sent.sum()),
        "acceptance_rate": _rate(float(accepted.sum()), float(answered.sum())),
        "resolved_treated": len(t_res),
        "resolved_control": len(c_res),
        "returned_treated": int(t_back.sum()),
        "returned_control": c_back,
        "winback_rate_treated": _rate(float(t_back.sum()), len(t_res)),
        "winback_rate_control": _rate(c_back, len(c_res)),
        "incremental_winback": lift,
        "incremental_ci95": None if lift is None else [lo, hi],
        "customers_won_back": extra,
        "cost": cost,
        "cost_per_returned": _rate(cost, float(t_back.sum())),
        "cost_per_incremental_return": None if not extra or extra <= 0 else cost / extra,
        "value_regained": float(clv[t_back.to_numpy()].sum()),
        "incremental_value": incremental_value,
        "roi": None
        if incremental_value is None or cost <= 0
        else (incremental_value - cost) / cost,
    }


def campaign_kpis(
    settings: Settings, *, campaign_id: int | None = None, by: str | None = None
) -> list[dict[str, Any]]:
    """KPIs per campaign (or per ``by`` = queue | region | agent across campaigns)."""
    campaigns, members = _members(settings, campaign_id)
    if campaigns.empty:
        return []
    if by is not None:
        if by not in ("queue", "region", "agent"):
            raise InputError(f"cannot group KPIs by {by!r}; use queue, region or agent")
        rows = []
        # agents only exist on treated members: the control of their queue is the baseline
        purpose = members["campaign_id"].map(campaigns.set_index("id")["purpose"])
        members = members[purpose.to_numpy() != "winback"]  # team_kpis covers win-back
        key = members[by].fillna("(none)")
        for value, part in members.groupby(key):
            row = {by: str(value), **_group_kpis(part)}
            rows.append(row)
        return rows
    rows = []
    for _, camp in campaigns.sort_values("id").iterrows():
        part = members[members["campaign_id"] == camp["id"]] if not members.empty else members
        rows.append(
            {
                "campaign_id": int(camp["id"]),
                "name": camp["name"],
                "purpose": camp["purpose"],
                "as_of": f"{camp['as_of']:%Y-%m}",
                "status": camp["status"],
                "budget": float(camp["budget"]),
                "effect_source": camp["effect_source"],
                "expected_net_value": float(camp["objective"]),
                **_group_kpis(part, purpose=str(camp["purpose"])),
            }
        )
    return rows


def _known_months(settings: Settings, last: int) -> list[date]:
    from ..features.labels import labeled_as_ofs

    return labeled_as_ofs(settings, date.max.replace(day=1))[-last:]


def warning_accuracy(settings: Settings, *, months: int = 6) -> list[dict[str, Any]]:
    """Per month: share of the month's voluntary churners warned in advance, and precision."""
    from ..features.labels import label_expr
    from ..warehouse.analytical import connect
    from ..warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    out = []
    for month in _known_months(settings, months):
        with session_scope(settings) as session:
            warned = {
                r[0]
                for r in session.execute(
                    sa.select(w.c.subscriber_id).where(
                        w.c.as_of <= month,
                        w.c.last_seen_as_of >= month,
                        w.c.retention_target.is_(True),
                    )
                )
            }
        if not warned:
            continue
        backend = connect(settings, read_only=True)
        try:
            lab = label_expr(backend, as_of=month, labels=settings.labels)
            df = lab.select("subscriber_id", "label_voluntary").execute()
        finally:
            backend.disconnect()
        churners = df["label_voluntary"] == 1
        is_warned = df["subscriber_id"].isin(warned)
        out.append(
            {
                "as_of": f"{month:%Y-%m}",
                "churners": int(churners.sum()),
                "warned": int(is_warned.sum()),
                "warned_churners": int((churners & is_warned).sum()),
                "accuracy": _rate(float((churners & is_warned).sum()), float(churners.sum())),
                "precision": _rate(float((churners & is_warned).sum()), float(is_warned.sum())),
            }
        )
    return out


def churn_rates(settings: Settings, *, months: int = 6) -> list[dict[str, Any]]:
    """Voluntary churn rate per labelled month, by service type and customer type."""
    from ..features.labels import label_expr
    from ..warehouse.analytical import connect

    rows: list[dict[str, Any]] = []
    backend = connect(settings, read_only=True)
    try:
        s = backend.table("subscribers").select("subscriber_id", "service_type", "customer_type")
        for month in _known_months(settings, months):
            lab = label_expr(backend, as_of=month, labels=settings.labels)
            lab = lab.filter(~lab.excluded).join(s, "subscriber_id")
            for dim in ("service_type", "customer_type", None):
                keys = [dim] if dim else []
                agg = (
                    lab.group_by(keys).aggregate(
                        base=lab.count(),
                        churned=lab.label_voluntary.sum(),
                        passive=lab.label_passive.sum(),
                    )
                    if keys
                    else lab.aggregate(
                        base=lab.count(),
                        churned=lab.label_voluntary.sum(),
                        passive=lab.label_passive.sum(),
                    )
                ).execute()
                for rec in agg.to_dict(orient="records"):
                    rows.append(
                        {
                            "as_of": f"{month:%Y-%m}",
                            "by": dim or "all",
                            "segment": str(rec[dim]) if dim else "all",
                            "base": int(rec["base"]),
                            "churn_rate": _rate(float(rec["churned"] or 0), float(rec["base"])),
                            "passive_rate": _rate(float(rec["passive"] or 0), float(rec["base"])),
                        }
                    )
    finally:
        backend.disconnect()
    return rows


def kpi_report(
    settings: Settings, *, campaign_id: int | None = None, by: str | None = None, months: int = 6
) -> dict[str, Any]:
    """Everything ``churnguard kpi`` shows."""
    report: dict[str, Any] = {
        "campaigns": campaign_kpis(settings, campaign_id=campaign_id, by=by),
    }
    if campaign_id is None and by is None:
        report["warning_accuracy"] = warning_accuracy(settings, months=months)
        report["churn_rates"] = churn_rates(settings, months=months)
    return report
