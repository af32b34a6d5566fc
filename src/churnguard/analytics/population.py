"""Who the analytics look at: labelled snapshot months, churners, high-risk customers.

Every analysis reads the warehouse through these functions, so they agree on the
window (the labelled months up to the as-of month) and on who counts as a
churner (the voluntary label of :mod:`churnguard.features.labels`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputError, StateError
from ..months import add_months, parse_month

if TYPE_CHECKING:
    import duckdb

    from ..config import Settings

__all__ = [
    "Window",
    "data_window",
    "duck",
    "high_risk_frame",
    "labelled_frame",
    "latest_scored_month",
    "table_names",
]

DEFAULT_MONTHS = 6


@dataclass(frozen=True)
class Window:
    """The months an analysis covers.

    ``as_of`` is the report month; ``months`` are the labelled snapshot months
    up to it (oldest first), at most the requested number; ``data`` are all the
    months the warehouse holds.
    """

    as_of: date
    months: tuple[date, ...]
    data: tuple[date, ...]

    @property
    def label(self) -> str:
        if not self.months:
            return "–"
        return f"{self.months[0]:%Y-%m}..{self.months[-1]:%Y-%m}"


@contextmanager
def duck(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only DuckDB connection to the warehouse (closed on exit)."""
    from ..features.engines import open_warehouse
    from ..warehouse.analytical import raw

    backend = open_warehouse(settings, read_only=True)
    try:
        yield raw(backend)
    finally:
        backend.disconnect()


def table_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The warehouse's tables (fetched to the end: DuckDB 2 blocks on unfinished results)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()"
    ).fetchall()
    return {str(r[0]) for r in rows}


def data_window(settings: Settings, *, as_of: date | str, months: int = DEFAULT_MONTHS) -> Window:
    """The window of an analysis at ``as_of``.

    Raises
    ------
    InputError
        ``as_of`` is not a month, ``months`` < 1, or the warehouse holds no data for ``as_of``.
    NotFoundError
        Nothing was ingested yet.
    """
    from ..features.engines import data_months, open_warehouse
    from ..features.labels import labeled_as_ofs

    month = parse_month(as_of)
    if months < 1:
        raise InputError(f"--months must be at least 1 (got {months})")
    backend = open_warehouse(settings, read_only=True)
    try:
        _, held = data_months(backend)
    finally:
        backend.disconnect()
    if not held:
        raise StateError(
            "the warehouse holds no monthly data (usage or billing); ingest an export first"
        )
    if not held[0] <= month <= held[-1]:
        raise InputError(
            f"no data for {month:%Y-%m}: the warehouse covers {held[0]:%Y-%m}..{held[-1]:%Y-%m}; "
            "pick a month in that range"
        )
    known = [m for m in labeled_as_ofs(settings, month) if m <= month]
    return Window(as_of=month, months=tuple(known[-months:]), data=tuple(held))


def require_labels(window: Window) -> None:
    """Raise when the window has no labelled month (too little data after the first month)."""
    if not window.months:
        raise StateError(
            f"no month up to {window.as_of:%Y-%m} has known churn labels yet (the labels need "
            "the months after a snapshot); pick a later --as-of or ingest more months"
        )


_PROFILE = ("plan_id", "group_id", "churn_date", "churn_reason")


def labelled_frame(settings: Settings, window: Window) -> pd.DataFrame:
    """Snapshot features with the voluntary ``label`` for each month of the window.

    Adds the profile columns ``plan_id``, ``group_id``, ``churn_date`` and
    ``churn_reason`` from ``subscribers``. Training exclusions apply (promotion
    riders in their first months are left out).
    """
    from ..features import training_frame

    require_labels(window)
    frame = training_frame(settings, as_ofs=list(window.months), target="voluntary")
    with duck(settings) as con:
        cols = [c for c in _PROFILE if c in _columns(con, "subscribers")]
        profile = con.execute(f"SELECT subscriber_id, {', '.join(cols)} FROM subscribers").df()
    return frame.merge(profile, on="subscriber_id", how="left")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [str(r[0]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def latest_scored_month(settings: Settings, *, as_of: date) -> date | None:
    """The newest month up to ``as_of`` with stored scores (``None`` when none)."""
    with duck(settings) as con:
        if "scores" not in table_names(con):
            return None
        row = con.execute("SELECT max(as_of) FROM scores WHERE as_of <= ?", [as_of]).fetchall()
    value: Any = row[0][0] if row else None
    return value if value is None or isinstance(value, date) else value.date()


def high_risk_frame(settings: Settings, *, as_of: date, min_probability: float) -> pd.DataFrame:
    """Snapshot rows of the newest scored month ≤ ``as_of`` with probability ≥ the limit.

    Columns: the snapshot's, ``churn_probability``, ``plan_id`` and ``group_id``.
    Empty when nothing was scored.
    """
    month = latest_scored_month(settings, as_of=as_of)
    if month is None:
        return pd.DataFrame()
    with duck(settings) as con:
        if "feature_snapshots" not in table_names(con):
            return pd.DataFrame()
        # the latest model version that scored the month
        df: pd.DataFrame = con.execute(
            """
            WITH v AS (SELECT model_version FROM scores WHERE as_of = ?
                       ORDER BY scored_at DESC LIMIT 1)
            SELECT f.*, s.churn_probability, p.plan_id, p.group_id
            FROM scores s JOIN v USING (model_version)
            JOIN feature_snapshots f ON f.as_of = s.as_of AND f.subscriber_id = s.subscriber_id
            JOIN subscribers p ON p.subscriber_id = s.subscriber_id
            WHERE s.as_of = ? AND s.churn_probability >= ?
            ORDER BY s.churn_probability DESC
            """,
            [month, month, float(min_probability)],
        ).df()
    df["as_of"] = pd.to_datetime(df["as_of"]).dt.date
    return df


def month_range(first: date, last: date) -> list[date]:
    """Month starts from ``first`` to ``last`` inclusive."""
    out, m = [], first
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out
