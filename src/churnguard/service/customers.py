"""The customer 360 view: profile, 6-month trends, complaints, reasons, value, offer, contacts."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import sqlalchemy as sa

from ..errors import ChurnguardError, NotFoundError
from ..months import add_months
from ..retention.store import Campaign, CampaignMember, ContactResult
from ..warehouse.operational import open_operational
from ..warnings.store import CustomerWarning
from .masking import mask_records

if TYPE_CHECKING:
    from ..config import Settings
    from .scoring import ScoreCache

__all__ = ["customer_360", "recommended_offer"]

log = logging.getLogger(__name__)

_W = cast(sa.Table, CustomerWarning.__table__)
_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_R = cast(sa.Table, ContactResult.__table__)

TREND_MONTHS = 6
_USAGE = ("voice_minutes", "data_mb", "sms", "viewing_hours", "active_days", "device_offline_days")
_BILLING = ("amount_due", "amount_paid", "arrears_balance")
_COMPLAINTS = (
    "complaint_id",
    "created_at",
    "category",
    "channel",
    "text",
    "resolved_at",
    "satisfied",
)


def _json(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, datetime | date | pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json(v) for k, v in r.items()} for r in df.to_dict("records")]


def _warehouse_part(
    settings: Settings, subscriber_id: str, *, last_month: date
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Profile, monthly trend (usage ⨝ billing) and complaints from the warehouse."""
    from ..warehouse.analytical import connect, raw, table_exists

    backend = connect(settings, read_only=True)
    try:
        con = raw(backend)
        prof = con.execute(
            "SELECT * FROM subscribers WHERE subscriber_id = ?", [subscriber_id]
        ).df()
        if prof.empty:
            raise NotFoundError(f"no customer {subscriber_id}")
        prof = prof[[c for c in prof.columns if not c.startswith("_")]]  # load bookkeeping
        first = add_months(last_month, -(TREND_MONTHS - 1))
        months = pd.DataFrame({"month": pd.date_range(first, last_month, freq="MS").date})
        trend = months
        for table, cols in (("usage", _USAGE), ("billing", _BILLING)):
            if not table_exists(con, table):
                continue
            have = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            pick = [c for c in cols if c in have]
            part = con.execute(
                f"SELECT month, {', '.join(pick)} FROM {table} "
                "WHERE subscriber_id = ? AND month BETWEEN ? AND ?",
                [subscriber_id, first, last_month],
            ).df()
            part["month"] = pd.to_datetime(part["month"]).dt.date
            trend = trend.merge(part, on="month", how="left")
        complaints = pd.DataFrame(columns=list(_COMPLAINTS))
        if table_exists(con, "complaints"):
            have = {r[0] for r in con.execute("DESCRIBE complaints").fetchall()}
            pick = [c for c in _COMPLAINTS if c in have]
            complaints = con.execute(
                f"SELECT {', '.join(pick)} FROM complaints WHERE subscriber_id = ? "
                "ORDER BY created_at DESC LIMIT 50",
                [subscriber_id],
            ).df()
    finally:
        backend.disconnect()
    trend["month"] = [f"{m:%Y-%m}" for m in trend["month"]]
    return _records(prof)[0], _records(trend), _records(complaints)


def recommended_offer(
    settings: Settings, subscriber_id: str, *, warning: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The offer of the latest planned campaign for the customer, else the best prior action."""
    with open_operational(settings).connect() as conn:
        planned = (
            conn.execute(
                sa.select(
                    _M.c.campaign_id,
                    _M.c.offer,
                    _M.c.channel,
                    _M.c.expected_value,
                    _M.c.expected_cost,
                    _M.c.deadline,
                )
                .join(_C, _C.c.id == _M.c.campaign_id)
                .where(
                    _M.c.subscriber_id == subscriber_id,
                    _M.c.arm == "treatment",
                    _C.c.status.in_(("planned", "sending", "sent")),
                )
                .order_by(_C.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    from ..retention.catalog import load_catalog

    catalog = load_catalog(workspace=settings.workspace)
    names = {o.code: o for o in catalog.offers}
    if planned is not None:
        o = names.get(str(planned["offer"]))
        return {
            "source": "campaign",
            **{k: _json(v) for k, v in planned.items()},
            "offer_zh": getattr(o, "name_zh", None),
            "offer_en": getattr(o, "name_en", None),
        }
    if warning is None or not warning.get("retention_target", True):
        return None
    from ..retention.actions import build_actions

    customer = pd.DataFrame(
        [
            {
                "subscriber_id": subscriber_id,
                "churn_probability": warning["probability"],
                "clv": warning.get("clv"),
                "arpu_3m": warning.get("arpu_3m"),
                "top_category": warning.get("top_category"),
                "churn_type": warning.get("churn_type"),
                "service_type": warning.get("service_type"),
                "value_tier": warning.get("value_tier"),
            }
        ]
    )
    try:
        actions = build_actions(customer, catalog=catalog)
    except ChurnguardError as exc:
        log.warning("no prior action for a customer: %s", type(exc).__name__)
        return None
    actions = actions[actions["value"] > 0]
    if actions.empty:
        return None
    best = actions.sort_values("value", ascending=False).iloc[0]
    o = names.get(str(best["offer"]))
    return {
        "source": "priors",
        "campaign_id": None,
        "offer": str(best["offer"]),
        "channel": str(best["channel"]),
        "expected_value": float(best["value"]),
        "expected_cost": float(best["cost"]),
        "deadline": warning.get("deadline"),
        "offer_zh": getattr(o, "name_zh", None),
        "offer_en": getattr(o, "name_en", None),
    }


def customer_360(
    settings: Settings, subscriber_id: str, *, scores: ScoreCache, clear: bool
) -> dict[str, Any]:
    """Everything an agent needs on one screen; personal data masked unless ``clear``."""
    last = scores.latest_month()
    profile, trend, complaints = _warehouse_part(settings, subscriber_id, last_month=last)
    with open_operational(settings).connect() as conn:
        warns = (
            conn.execute(
                sa.select(_W)
                .where(_W.c.subscriber_id == subscriber_id, _W.c.status == "open")
                .order_by(_W.c.id.desc())
            )
            .mappings()
            .all()
        )
        members = (
            conn.execute(
                sa.select(
                    _M.c.campaign_id,
                    _C.c.name.label("campaign"),
                    _M.c.arm,
                    _M.c.offer,
                    _M.c.channel,
                    _M.c.contact_status,
                    _M.c.contacted_at,
                    _M.c.result,
                    _M.c.result_at,
                    _M.c.agent,
                    _M.c.outcome,
                )
                .join(_C, _C.c.id == _M.c.campaign_id)
                .where(_M.c.subscriber_id == subscriber_id)
                .order_by(_M.c.campaign_id.desc())
            )
            .mappings()
            .all()
        )
        results = (
            conn.execute(
                sa.select(_R.c.campaign_id, _R.c.result, _R.c.agent, _R.c.note, _R.c.recorded_at)
                .where(_R.c.subscriber_id == subscriber_id)
                .order_by(_R.c.id.desc())
            )
            .mappings()
            .all()
        )
    open_warnings = [{k: _json(v) for k, v in w.items()} for w in warns]
    for w in open_warnings:
        w["as_of"] = str(w["as_of"])[:7]
        w["last_seen_as_of"] = str(w["last_seen_as_of"])[:7]
        w["rule_codes"] = [c for c in (w["rule_codes"] or "").split(",") if c]
    top = open_warnings[0] if open_warnings else None
    try:
        score: dict[str, Any] | None = scores.score_subscriber(subscriber_id)
    except ChurnguardError:
        score = None
    value = None
    if top is not None:
        value = {k: top.get(k) for k in ("value_tier", "clv", "arpu_3m")}
    return {
        "subscriber_id": subscriber_id,
        "as_of": f"{last:%Y-%m}",
        "profile": mask_records([profile], clear=clear)[0],
        "trend": trend,
        "complaints": mask_records(complaints, clear=clear, text_columns=("text",)),
        "score": score,
        "value": value,
        "warnings": open_warnings,
        "recommended_offer": recommended_offer(settings, subscriber_id, warning=top),
        "contacts": {
            "campaigns": [{k: _json(v) for k, v in m.items()} for m in members],
            "results": mask_records(
                [{k: _json(v) for k, v in r.items()} for r in results],
                clear=clear,
                text_columns=("note",),
            ),
        },
    }
