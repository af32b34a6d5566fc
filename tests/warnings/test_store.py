"""Stored warnings on SQLite and on a real PostgreSQL: dedup, cooldown, escalation, closing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import ibis
import pandas as pd
import sqlalchemy as sa

from churnguard.config import Settings
from churnguard.config.warnings import WarningSettings
from churnguard.warehouse.operational import session_scope
from churnguard.warnings.engine import WarningBatch, evaluate
from churnguard.warnings.rules import load_rules
from churnguard.warnings.store import CustomerWarning, GroupWarning, record
from tests.warnings.test_engine import _base


def _batch(df: pd.DataFrame, run: date) -> WarningBatch:
    return evaluate(
        ibis.memtable(df),
        rules=load_rules(),
        settings=WarningSettings(),
        as_of=date(2025, 5, 1),
        run_date=run,
    )


def _open(settings: Settings) -> pd.DataFrame:
    with session_scope(settings) as s:
        rows = s.execute(
            sa.select(
                CustomerWarning.subscriber_id,
                CustomerWarning.level,
                CustomerWarning.status,
                CustomerWarning.close_reason,
            )
        ).all()
    return pd.DataFrame(rows, columns=["subscriber_id", "level", "status", "close_reason"])


def test_record_dedup_cooldown_escalation_and_closing(operational_settings: Settings) -> None:
    s = operational_settings
    df = _base()
    active = df["subscriber_id"]
    first = _batch(df, date(2025, 6, 2))
    with session_scope(s) as session:
        r1 = record(session, first, active_ids=active, cooldown_days=30)
    assert r1.new == len(first.warnings) and r1.kept == 0
    assert len(r1.new_ids) == len(first.warnings)
    stored = _open(s)
    assert len(stored) == len(first.warnings) and (stored.status == "open").all()

    # same run again a week later: everyone is within the cooldown, nothing new
    again = replace(first, run_date=date(2025, 6, 9))
    with session_scope(s) as session:
        r2 = record(session, again, active_ids=active, cooldown_days=30)
    assert (r2.new, r2.escalated, r2.rewarned, r2.kept) == (0, 0, 0, len(first.warnings))
    assert len(_open(s)) == len(first.warnings)

    # next month: one yellow customer turns red, one warned customer churned,
    # one customer's risk fell below every threshold
    w = first.warnings.set_index("subscriber_id")
    yellow = w[w.level == "yellow"].index[0]
    others = w[(w.level != "yellow") & ~w.index.isin(["S00000", "S00001"])].index
    churner, calmer = others[0], others[1]
    df2 = df.copy()
    df2.loc[df2.subscriber_id == yellow, "churn_probability"] = 0.99
    df2.loc[df2.subscriber_id == calmer, "churn_probability"] = 0.0
    df2 = df2[df2.subscriber_id != churner]
    second = _batch(df2, date(2025, 7, 1))
    with session_scope(s) as session:
        r3 = record(session, second, active_ids=df2["subscriber_id"], cooldown_days=10)
    rank = {"yellow": 1, "orange": 2, "red": 3}
    both = first.warnings.merge(second.warnings, on="subscriber_id", suffixes=("_1", "_2"))
    rose = both[both.level_2.map(rank) > both.level_1.map(rank)]
    assert yellow in set(rose.subscriber_id)
    assert r3.escalated == len(rose)
    assert r3.rewarned == len(both) - len(rose)  # past a 10-day cooldown: warned anew
    assert r3.closed["churned"] == 1
    assert r3.closed["risk_fell"] >= 1
    rows = _open(s)
    mine = rows[rows.subscriber_id == yellow].sort_values("status")
    assert mine[["level", "status", "close_reason"]].values.tolist() == [
        ["yellow", "closed", "escalated"],
        ["red", "open", None],
    ]
    assert rows[rows.subscriber_id == churner].close_reason.tolist() == ["churned"]
    assert rows[rows.subscriber_id == calmer].close_reason.tolist() == ["risk_fell"]
    # never two open warnings for one customer
    assert rows[rows.status == "open"].subscriber_id.is_unique

    with session_scope(s) as session:
        groups = session.execute(sa.select(GroupWarning.group_id, GroupWarning.status)).all()
    assert ("G1", "open") in groups
