"""The warnings list of the API: filters, order (most urgent first), paging, masking."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast

import ibis
import pandas as pd
import sqlalchemy as sa

from ..errors import InputError
from ..warehouse.operational import open_operational
from ..warnings.store import CustomerWarning
from .masking import mask_records

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["SORTS", "personal_data", "query_warnings", "summarize_warnings"]

_W = cast(sa.Table, CustomerWarning.__table__)
_COLUMNS = (
    "id",
    "subscriber_id",
    "as_of",
    "raised_on",
    "level",
    "probability",
    "value_tier",
    "clv",
    "arpu_3m",
    "service_type",
    "customer_type",
    "region",
    "rule_codes",
    "reasons_zh",
    "reasons_en",
    "top_category",
    "churn_type",
    "next_step_zh",
    "next_step_en",
    "passive",
    "queue",
    "deadline",
    "status",
    "closed_on",
    "close_reason",
)


def _where(f: dict[str, Any]) -> list[Any]:
    """Filters: status, level, queues, value_tier, rule, category, churn_type, raised_*, as_of."""
    where: list[Any] = []
    if f.get("status"):
        where.append(_W.c.status == f["status"])
    if f.get("level"):
        where.append(_W.c.level == f["level"])
    if f.get("queues") is not None:
        where.append(_W.c.queue.in_(list(f["queues"])))
    if f.get("value_tier"):
        where.append(_W.c.value_tier == f["value_tier"])
    if f.get("rule"):
        # rule_codes is "W001,W008": match the whole code
        code = str(f["rule"])
        where.append(sa.literal(",").concat(_W.c.rule_codes).concat(",").like(f"%,{code},%"))
    if f.get("category"):
        where.append(_W.c.top_category == f["category"])
    if f.get("churn_type"):
        where.append(_W.c.churn_type == f["churn_type"])
    if f.get("raised_from"):
        where.append(_W.c.raised_on >= f["raised_from"])
    if f.get("raised_to"):
        where.append(_W.c.raised_on <= f["raised_to"])
    if f.get("as_of"):
        where.append(_W.c.last_seen_as_of == f["as_of"])
    return where


SORTS = ("urgency", "probability", "clv", "deadline", "raised_on")
"""Orders of the worklist: most urgent first (level, deadline, probability), highest
probability, highest customer value, soonest deadline, newest warning."""


def _order(sort: str) -> list[Any]:
    rank = sa.case({"red": 0, "orange": 1, "yellow": 2}, value=_W.c.level, else_=3)
    urgency = [rank, _W.c.deadline, _W.c.probability.desc()]
    first: dict[str, list[Any]] = {
        "urgency": [],
        "probability": [_W.c.probability.desc()],
        "clv": [_W.c.clv.desc().nulls_last()],
        "deadline": [_W.c.deadline],
        "raised_on": [_W.c.raised_on.desc()],
    }
    if sort not in first:
        raise InputError(f"cannot sort warnings by {sort!r}; use one of {', '.join(SORTS)}")
    return [*first[sort], *urgency, _W.c.id]


def query_warnings(
    settings: Settings,
    filters: dict[str, Any],
    *,
    limit: int,
    offset: int,
    clear: bool,
    sort: str = "urgency",
) -> tuple[int, list[dict[str, Any]]]:
    """Total matching warnings and one page of them (by default most urgent first), with
    name and phone; ``sort`` is one of :data:`SORTS`."""
    where = _where(filters)
    order = _order(sort)
    with open_operational(settings).connect() as conn:
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(_W).where(*where)).scalar_one()
        )
        rows = (
            conn.execute(
                sa.select(*[_W.c[c] for c in _COLUMNS])
                .where(*where)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            )
            .mappings()
            .all()
        )
    records = [_plain(dict(r)) for r in rows]
    people = personal_data(
        settings, [r["subscriber_id"] for r in records], columns=("name", "msisdn")
    )
    for r in records:
        r.update(people.get(r["subscriber_id"], {"name": None, "msisdn": None}))
        r["rule_codes"] = [c for c in (r["rule_codes"] or "").split(",") if c]
    return total, mask_records(records, clear=clear)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    if out.get("as_of"):
        out["as_of"] = str(out["as_of"])[:7]
    return out


def personal_data(
    settings: Settings, ids: list[str], *, columns: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """``subscriber_id → {column: value}`` from the warehouse's subscribers (clear text)."""
    from ..warehouse.analytical import connect, raw, table_exists

    if not ids or not settings.warehouse_path.exists():
        return {}
    backend = connect(settings, read_only=True)
    try:
        if not table_exists(raw(backend), "subscribers"):
            return {}
        subs = backend.table("subscribers")
        cols = [c for c in columns if c in subs.columns]
        wanted = ibis.memtable(pd.DataFrame({"subscriber_id": list(dict.fromkeys(ids))}))
        df = subs.semi_join(wanted, "subscriber_id").select("subscriber_id", *cols).execute()
    finally:
        backend.disconnect()
    df = df.astype(object).where(df.notna(), None)
    return {str(r.pop("subscriber_id")): r for r in df.to_dict("records")}


_SUMMARY_BY = ("level", "queue", "value_tier", "churn_type", "top_category", "service_type")


def summarize_warnings(settings: Settings, filters: dict[str, Any]) -> dict[str, Any]:
    """Counts of the matching warnings by level, queue, value tier, churn type, category,
    service, and the value tier × level matrix (the dashboard's heat map)."""
    where = _where(filters)
    out: dict[str, Any] = {}
    with open_operational(settings).connect() as conn:
        out["total"] = int(
            conn.execute(sa.select(sa.func.count()).select_from(_W).where(*where)).scalar_one()
        )
        for col in _SUMMARY_BY:
            rows = conn.execute(
                sa.select(_W.c[col], sa.func.count()).where(*where).group_by(_W.c[col])
            ).all()
            out[f"by_{col}"] = {str(k): int(n) for k, n in rows}
        rows = conn.execute(
            sa.select(_W.c.value_tier, _W.c.level, sa.func.count())
            .where(*where)
            .group_by(_W.c.value_tier, _W.c.level)
        ).all()
    out["value_tier_x_level"] = [
        {"value_tier": str(t), "level": str(lv), "warnings": int(n)} for t, lv, n in rows
    ]
    return out
