"""Warnings in the operational database: deduplication, cooldown, escalation and closing.

A customer with an open warning is not warned again within the cooldown unless
the level rises (then the old warning is closed as ``escalated`` and a new one
opened). After the cooldown, a customer still at risk is warned afresh (the old
one closed as ``superseded``). Open warnings of customers who are no longer
candidates are closed as ``risk_fell``, or ``churned`` when they left.
All of it happens in one transaction per run, with set-based statements.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..warehouse.operational import Base, bulk_insert
from .engine import WarningBatch
from .levels import LEVEL_RANK

__all__ = [
    "CustomerWarning",
    "GroupWarning",
    "RecordSummary",
    "WarningPush",
    "open_warnings",
    "record",
]

_CHUNK = 5000
_INSERT_ROWS = 200_000


class CustomerWarning(Base):
    """One warning about one customer (see migration 0002_warnings)."""

    __tablename__ = "warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    last_seen_as_of: Mapped[date] = mapped_column(Date)
    raised_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(8))
    model_level: Mapped[str | None] = mapped_column(String(8))
    probability: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    value_tier: Mapped[str | None] = mapped_column(String(16))
    clv: Mapped[float | None] = mapped_column(Float)
    arpu_3m: Mapped[float | None] = mapped_column(Float)
    service_type: Mapped[str | None] = mapped_column(String(16))
    customer_type: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    group_id: Mapped[str | None] = mapped_column(String(64))
    rule_codes: Mapped[str] = mapped_column(String(256), default="")
    reasons_zh: Mapped[str] = mapped_column(Text, default="")
    reasons_en: Mapped[str] = mapped_column(Text, default="")
    top_category: Mapped[str | None] = mapped_column(String(32))
    churn_type: Mapped[str] = mapped_column(String(16))
    next_step_zh: Mapped[str] = mapped_column(Text)
    next_step_en: Mapped[str] = mapped_column(Text)
    passive: Mapped[bool] = mapped_column(Boolean)
    retention_target: Mapped[bool] = mapped_column(Boolean)
    queue: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    closed_on: Mapped[date | None] = mapped_column(Date)
    close_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupWarning(Base):
    """One collective-churn warning about a corporate group, with its members."""

    __tablename__ = "group_warnings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[date] = mapped_column(Date)
    raised_on: Mapped[date] = mapped_column(Date)
    rule_code: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(8))
    churned: Mapped[int] = mapped_column(Integer)
    signalling: Mapped[int] = mapped_column(Integer)
    active_members: Mapped[int] = mapped_column(Integer)
    members: Mapped[list[str]] = mapped_column(JSON)
    reason_zh: Mapped[str] = mapped_column(Text)
    reason_en: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))
    closed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WarningPush(Base):
    """A push of warnings to the team (webhook or e-mail), recorded for idempotency."""

    __tablename__ = "warning_pushes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    push_key: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    warnings: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


_W = cast(sa.Table, CustomerWarning.__table__)
_G = cast(sa.Table, GroupWarning.__table__)
_WARNING_COLUMNS = [c.name for c in _W.columns if c.name != "id"]


@dataclass
class RecordSummary:
    """What one run did to the stored warnings."""

    new: int = 0
    escalated: int = 0
    rewarned: int = 0
    kept: int = 0
    closed: dict[str, int] = field(default_factory=dict)
    groups_new: int = 0
    groups_kept: int = 0
    groups_closed: int = 0
    new_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # which rows of the batch's warnings were stored as new warnings (pushed as fresh)
    inserted: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "escalated": self.escalated,
            "rewarned": self.rewarned,
            "kept_in_cooldown": self.kept,
            "closed": dict(self.closed),
            "groups": {
                "new": self.groups_new,
                "kept": self.groups_kept,
                "closed": self.groups_closed,
            },
        }


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def open_warnings(session: Session) -> pd.DataFrame:
    """Open warnings: id, subscriber_id, level, raised_on, as_of."""
    rows = session.execute(
        sa.select(_W.c.id, _W.c.subscriber_id, _W.c.level, _W.c.raised_on, _W.c.as_of).where(
            _W.c.status == "open"
        )
    ).all()
    return pd.DataFrame(rows, columns=["id", "subscriber_id", "level", "raised_on", "as_of"])


def _close(session: Session, ids: list[int], *, on: date, reason: str) -> None:
    for part in _chunks(ids):
        session.execute(
            sa.update(_W)
            .where(_W.c.id.in_(part))
            .values(status="closed", closed_on=on, close_reason=reason)
        )


def _record_frame(frame: pd.DataFrame, *, model_version: str | None, now: datetime) -> pd.DataFrame:
    """The warnings to insert, as columns of the ``warnings`` table (without ``id``)."""
    out = frame.rename(columns={"churn_probability": "probability"})
    extra = {
        "last_seen_as_of": out["as_of"],
        "status": "open",
        "created_at": now,
        "model_version": model_version,
    }
    cols = {c: out[c] if c in out.columns else extra.get(c) for c in _WARNING_COLUMNS}
    table = pd.DataFrame(cols, index=out.index)
    for col in ("rule_codes", "reasons_zh", "reasons_en"):
        table[col] = table[col].where(table[col].notna(), "")
    return table


def record(
    session: Session,
    batch: WarningBatch,
    *,
    active_ids: pd.Series,
    cooldown_days: int,
    model_version: str | None = None,
) -> RecordSummary:
    """Store a run's warnings with deduplication, cooldown, escalation and closing.

    Parameters
    ----------
    session
        An open session; the caller commits (one transaction per run).
    batch
        The run's graded warnings.
    active_ids
        Subscriber ids active at the end of the as-of month (to tell churned
        customers from those whose risk fell); only those with an open warning
        are looked up, so the active ones among them are enough.
    cooldown_days
        Days during which an open warning is not repeated at the same or a lower level.
    """
    now = datetime.now(UTC)
    run = batch.run_date
    summary = RecordSummary()
    new = batch.warnings
    old = open_warnings(session)
    merged = new[["subscriber_id", "level"]].merge(
        old, on="subscriber_id", how="outer", suffixes=("_new", "_old"), indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    rank_new = both["level_new"].map(LEVEL_RANK)
    rank_old = both["level_old"].map(LEVEL_RANK)
    age = (pd.Timestamp(run) - pd.to_datetime(both["raised_on"])).dt.days
    escalate = both[rank_new > rank_old]
    keep = both[(rank_new <= rank_old) & (age < cooldown_days)]
    rewarn = both[(rank_new <= rank_old) & (age >= cooldown_days)]
    gone = merged[merged["_merge"] == "right_only"]
    churned = gone[~gone["subscriber_id"].isin(active_ids)]
    fell = gone[gone["subscriber_id"].isin(active_ids)]

    _close(session, escalate["id"].astype(int).tolist(), on=run, reason="escalated")
    _close(session, rewarn["id"].astype(int).tolist(), on=run, reason="superseded")
    _close(session, churned["id"].astype(int).tolist(), on=run, reason="churned")
    _close(session, fell["id"].astype(int).tolist(), on=run, reason="risk_fell")
    for part in _chunks(keep["id"].astype(int).tolist()):
        session.execute(sa.update(_W).where(_W.c.id.in_(part)).values(last_seen_as_of=batch.as_of))
    insert_ids = pd.concat(
        [
            merged.loc[merged["_merge"] == "left_only", "subscriber_id"],
            escalate["subscriber_id"],
            rewarn["subscriber_id"],
        ]
    )
    inserted = new["subscriber_id"].isin(insert_ids.to_numpy()).to_numpy()
    summary.inserted = inserted
    before = session.scalar(sa.select(sa.func.max(_W.c.id))) or 0
    rows = np.flatnonzero(inserted)
    # in slices: the insert frame (and its Python values) of 2.9 M warnings took gigabytes
    for start in range(0, len(rows), _INSERT_ROWS):
        part = new.take(rows[start : start + _INSERT_ROWS])
        bulk_insert(session, _W, _record_frame(part, model_version=model_version, now=now))
    # this transaction's rows: ids above the largest before it, stamped with this run
    summary.new_ids = np.fromiter(
        session.scalars(
            sa.select(_W.c.id).where(_W.c.id > before, _W.c.created_at == now).order_by(_W.c.id)
        ),
        dtype=np.int64,
    )
    summary.new = int((merged["_merge"] == "left_only").sum())
    summary.escalated = len(escalate)
    summary.rewarned = len(rewarn)
    summary.kept = len(keep)
    summary.closed = {
        k: v
        for k, v in {
            "escalated": len(escalate),
            "superseded": len(rewarn),
            "churned": len(churned),
            "risk_fell": len(fell),
        }.items()
        if v
    }
    _record_groups(session, batch, cooldown_days=cooldown_days, now=now, summary=summary)
    return summary


def _record_groups(
    session: Session,
    batch: WarningBatch,
    *,
    cooldown_days: int,
    now: datetime,
    summary: RecordSummary,
) -> None:
    run = batch.run_date
    rows = session.execute(
        sa.select(_G.c.id, _G.c.group_id, _G.c.level, _G.c.raised_on).where(_G.c.status == "open")
    ).all()
    old = pd.DataFrame(rows, columns=["id", "group_id", "level", "raised_on"])
    new = batch.groups
    merged = new[["group_id", "level"]].merge(
        old, on="group_id", how="outer", suffixes=("_new", "_old"), indicator=True
    )
    both = merged[merged["_merge"] == "both"]
    age = (pd.Timestamp(run) - pd.to_datetime(both["raised_on"])).dt.days
    higher = both["level_new"].map(LEVEL_RANK) > both["level_old"].map(LEVEL_RANK)
    keep = both[~higher & (age < cooldown_days)]
    close_ids = both.loc[higher | (age >= cooldown_days), "id"].astype(int).tolist()
    close_ids += merged.loc[merged["_merge"] == "right_only", "id"].astype(int).tolist()
    for part in _chunks(close_ids):
        session.execute(
            sa.update(_G).where(_G.c.id.in_(part)).values(status="closed", closed_on=run)
        )
    fresh = new[~new["group_id"].isin(keep["group_id"])]
    if not fresh.empty:
        recs = fresh.assign(as_of=batch.as_of, raised_on=run, status="open", created_at=now)[
            [
                "group_id",
                "as_of",
                "raised_on",
                "rule_code",
                "level",
                "churned",
                "signalling",
                "active_members",
                "members",
                "reason_zh",
                "reason_en",
                "deadline",
                "status",
                "created_at",
            ]
        ]
        recs = recs.astype({"churned": int, "signalling": int, "active_members": int})
        session.execute(sa.insert(_G), recs.astype(object).to_dict("records"))
    summary.groups_new = len(fresh)
    summary.groups_kept = len(keep)
    summary.groups_closed = len(close_ids)
