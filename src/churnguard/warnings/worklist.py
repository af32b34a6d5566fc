"""Worklists for teams that work from a spreadsheet: open warnings of a queue, masked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import ibis
import pandas as pd
import sqlalchemy as sa

from ..errors import InputError
from ..privacy import mask_frame
from ..warehouse.analytical import connect
from ..warehouse.operational import session_scope
from .run import _tables
from .store import CustomerWarning

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["WORKLIST_COLUMNS", "worklist", "write_worklist"]

WORKLIST_COLUMNS = (
    "warning_id",
    "subscriber_id",
    "name",
    "msisdn",
    "level",
    "probability",
    "value_tier",
    "clv",
    "churn_type",
    "reasons",
    "next_step",
    "deadline",
    "queue",
    "raised_on",
    "as_of",
)


def worklist(
    settings: Settings,
    *,
    queue: str | None = None,
    level: str | None = None,
    lang: Literal["zh", "en"] = "zh",
    clear_text: bool = False,
) -> pd.DataFrame:
    """Open warnings (optionally of one queue / level), most urgent first.

    Personal data (name, phone) is masked unless ``clear_text`` is asked for
    *and* the workspace allows clear-text exports (``privacy.export_clear_text``).
    """
    if level is not None and level not in ("red", "orange", "yellow"):
        raise InputError(f"unknown level '{level}'; use red, orange or yellow")
    w = CustomerWarning
    query = sa.select(
        w.id.label("warning_id"),
        w.subscriber_id,
        w.level,
        w.probability,
        w.value_tier,
        w.clv,
        w.churn_type,
        getattr(w, f"reasons_{lang}").label("reasons"),
        getattr(w, f"next_step_{lang}").label("next_step"),
        w.deadline,
        w.queue,
        w.raised_on,
        w.as_of,
    ).where(w.status == "open")
    if queue is not None:
        query = query.where(w.queue == queue)
    if level is not None:
        query = query.where(w.level == level)
    with session_scope(settings) as session:
        rows = session.execute(query).all()
        queues = [
            q
            for (q,) in session.execute(
                sa.select(w.queue).where(w.status == "open").distinct()
            ).all()
        ]
    df = pd.DataFrame(
        rows,
        columns=[c for c in WORKLIST_COLUMNS if c not in ("name", "msisdn")],
    )
    if queue is not None and df.empty and queue not in queues:
        known = ", ".join(sorted(queues)) or "none yet: run 'churnguard warn' first"
        raise InputError(f"no open warnings in queue '{queue}'; queues with warnings: {known}")
    people = _personal(settings, df["subscriber_id"])
    df = df.merge(people, on="subscriber_id", how="left")
    if not (clear_text and settings.privacy.export_clear_text):
        df = mask_frame(df)
    order = df["level"].map({"red": 0, "orange": 1, "yellow": 2})
    df = (
        df.assign(_o=order)
        .sort_values(["_o", "deadline", "probability"], ascending=[True, True, False])
        .drop(columns="_o")
    )
    return df[list(WORKLIST_COLUMNS)].reset_index(drop=True)


def _personal(settings: Settings, ids: pd.Series) -> pd.DataFrame:
    empty = pd.DataFrame({"subscriber_id": pd.Series(dtype=str), "name": [], "msisdn": []})
    if ids.empty or not settings.warehouse_path.exists():
        return empty
    backend = connect(settings, read_only=True)
    try:
        if "subscribers" not in _tables(backend):
            return empty
        subs = backend.table("subscribers")
        wanted = pd.DataFrame({"subscriber_id": ids.astype(str).unique()})
        sel = subs.join(ibis.memtable(wanted), "subscriber_id").select(
            "subscriber_id", "name", "msisdn"
        )
        return sel.execute()
    finally:
        backend.disconnect()


def write_worklist(df: pd.DataFrame, *, fmt: Literal["csv", "xlsx"], out: Path) -> Path:
    """Write a worklist as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        df.to_csv(out, index=False, encoding="utf-8-sig")
    else:
        frame = df.copy()
        for col in ("deadline", "raised_on", "as_of"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
        with pd.ExcelWriter(out, engine="openpyxl") as xl:
            frame.to_excel(xl, index=False, sheet_name="worklist")
    return out
