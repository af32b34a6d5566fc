"""Team performance (团队绩效): the retention work judged by queue, team, region and agent.

One row per group with

* warnings raised, worked (the customer was contacted by a campaign, or an agent
  recorded a result, while the warning was open) and worked within its deadline;
* retention success of the retention and care contacts (retention rate of the
  treated), and incremental retention against the control customers of the same
  campaigns where a control exists (Newcombe 95 % interval);
* win-back success (return rate of the treated) and incremental win-back;
* warning accuracy by region (share of the labelled months' voluntary churners
  living there who were under an open warning at the month).

Agents only appear on treated members (the one who recorded the result); an agent's
baseline is the control group of the campaigns and queues it worked.
:func:`team_kpis` returns the table as a DataFrame for reports (e.g. the monthly report).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..errors import InputError
from ..warehouse.operational import session_scope
from .kpi import newcombe_interval
from .store import Campaign, CampaignMember

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["TEAM_DIMENSIONS", "team_kpi_rows", "team_kpis"]

TEAM_DIMENSIONS = ("queue", "team", "region", "agent")
_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_NONE = "(none)"


def _team_of(queue: pd.Series, teams: dict[str, str]) -> pd.Series:
    return queue.map(lambda q: teams.get(q, q) if isinstance(q, str) else _NONE)


def _load(settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ..warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    with session_scope(settings) as session:
        warnings = pd.DataFrame(
            session.execute(
                sa.select(
                    w.c.id,
                    w.c.subscriber_id,
                    w.c.queue,
                    w.c.region,
                    w.c.raised_on,
                    w.c.deadline,
                    w.c.closed_on,
                    w.c.retention_target,
                    w.c.as_of,
                    w.c.last_seen_as_of,
                )
            ).all(),
            columns=[
                "warning_id",
                "subscriber_id",
                "queue",
                "region",
                "raised_on",
                "deadline",
                "closed_on",
                "retention_target",
                "as_of",
                "last_seen_as_of",
            ],
        )
        members = pd.DataFrame(
            session.execute(
                sa.select(
                    _M.c.campaign_id,
                    _C.c.purpose,
                    _M.c.subscriber_id,
                    _M.c.arm,
                    _M.c.queue,
                    _M.c.region,
                    _M.c.agent,
                    _M.c.contacted_at,
                    _M.c.result_at,
                    _M.c.outcome,
                ).join(_C, _C.c.id == _M.c.campaign_id)
            ).all(),
            columns=[
                "campaign_id",
                "purpose",
                "subscriber_id",
                "arm",
                "queue",
                "region",
                "agent",
                "contacted_at",
                "result_at",
                "outcome",
            ],
        )
    return warnings, members


def _worked(warnings: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Each warning with the first contact made while it was open, and by which agent."""
    t = members[(members["arm"] == "treatment") & (members["purpose"] != "winback")]
    first = (
        pd.concat(
            [
                pd.to_datetime(t["contacted_at"], utc=True),
                pd.to_datetime(t["result_at"], utc=True),
            ],
            axis=1,
        )
        .min(axis=1)
        .dt.date
    )
    contacts = pd.DataFrame(
        {"subscriber_id": t["subscriber_id"], "contact_day": first, "contact_agent": t["agent"]}
    ).dropna(subset=["contact_day"])
    out = warnings.merge(contacts, on="subscriber_id", how="left")
    raised = pd.to_datetime(out["raised_on"]).dt.date
    cday = out["contact_day"]
    valid = cday.notna() & (cday >= raised)
    out.loc[~valid, ["contact_day", "contact_agent"]] = None
    out = out.sort_values("contact_day", na_position="last").drop_duplicates("warning_id")
    deadline = pd.to_datetime(out["deadline"]).dt.date
    out["worked"] = out["contact_day"].notna()
    out["in_time"] = out["worked"] & (
        pd.to_datetime(out["contact_day"]).dt.date <= deadline
    ).fillna(False)
    return out


def _lift(
    treated: pd.DataFrame, control: pd.DataFrame, success: str
) -> tuple[float | None, float | None, list[float] | None]:
    t = treated[treated["outcome"].notna()]
    c = control[control["outcome"].notna()]
    st, sc = int((t["outcome"] == success).sum()), int((c["outcome"] == success).sum())
    rate = None if t.empty else st / len(t)
    d, lo, hi = newcombe_interval(st, len(t), sc, len(c))
    if math.isnan(d):
        return rate, None, None
    return rate, d, [lo, hi]


def _accuracy(settings: Settings, warnings: pd.DataFrame, by: str, months: int) -> pd.DataFrame:
    """Warning accuracy per group over the last labelled months (pushed into DuckDB)."""
    from ..features.labels import label_expr, labeled_as_ofs
    from ..warehouse.analytical import connect

    known = labeled_as_ofs(settings, pd.Timestamp.max.date().replace(day=1))[-months:]
    if not known or warnings.empty:
        return pd.DataFrame(columns=[by, "churners", "warned_churners"])
    rows = []
    backend = connect(settings, read_only=True)
    try:
        for month in known:
            # warned in advance: a warning open at the month (as kpi.warning_accuracy, which
            # also skips months without any warning)
            w = warnings[
                (pd.to_datetime(warnings["as_of"]).dt.date <= month)
                & (pd.to_datetime(warnings["last_seen_as_of"]).dt.date >= month)
                & warnings["retention_target"].astype(bool)
            ]
            if w.empty:
                continue
            lab = label_expr(backend, as_of=month, labels=settings.labels)
            churners = lab.filter(lab.label_voluntary == 1).select("subscriber_id").execute()
            rows.append(churners.assign(month=month).merge(w, on="subscriber_id", how="left"))
    finally:
        backend.disconnect()
    if not rows:
        return pd.DataFrame(columns=[by, "churners", "warned_churners"])
    df = pd.concat(rows, ignore_index=True)
    if df.empty:
        return pd.DataFrame(columns=[by, "churners", "warned_churners"])
    # a churner's group: the queue/region of its warning, else its region (unwarned)
    df = df.sort_values("warning_id").drop_duplicates(["subscriber_id", "month"])
    if by == "region":
        from ..warehouse.analytical import connect as _connect
        from ..warehouse.analytical import raw as raw_duckdb

        b = _connect(settings, read_only=True)
        try:
            regions = raw_duckdb(b).execute("SELECT subscriber_id, region FROM subscribers").df()
        finally:
            b.disconnect()
        df = df.drop(columns="region").merge(regions, on="subscriber_id", how="left")
    df["warned"] = df["warning_id"].notna()
    key = df[by].fillna(_NONE) if by in df.columns else pd.Series(_NONE, index=df.index)
    agg = df.groupby(key).agg(churners=("subscriber_id", "size"), warned_churners=("warned", "sum"))
    return agg.rename_axis(by).reset_index()


def team_kpis(settings: Settings, *, by: str = "team", months: int = 3) -> pd.DataFrame:
    """The team KPI table: one row per ``by`` group (queue, team, region or agent).

    Columns: warnings, warnings_worked, worked_within_deadline, worked_within_deadline_rate,
    retention_contacts, retention_rate, incremental_retention, incremental_retention_ci95,
    winback_contacts, winback_rate, incremental_winback, incremental_winback_ci95,
    and for regions churners, warned_churners, warning_accuracy.
    """
    if by not in TEAM_DIMENSIONS:
        raise InputError(f"cannot group team KPIs by {by!r}; use {', '.join(TEAM_DIMENSIONS)}")
    teams = settings.retention.teams
    warnings, members = _load(settings)
    worked = _worked(warnings, members)
    if by == "team":
        worked["team"] = _team_of(worked["queue"], teams)
        members["team"] = _team_of(members["queue"], teams)
    if by == "agent":
        worked["agent"] = worked["contact_agent"]
        worked = worked[worked["agent"].notna()]
    worked_key = worked[by].fillna(_NONE)
    w_agg = worked.groupby(worked_key).agg(
        warnings=("warning_id", "size"),
        warnings_worked=("worked", "sum"),
        worked_within_deadline=("in_time", "sum"),
    )
    rows: dict[str, dict[str, Any]] = {
        str(k): {
            "warnings": int(r["warnings"]),
            "warnings_worked": int(r["warnings_worked"]),
            "worked_within_deadline": int(r["worked_within_deadline"]),
            "worked_within_deadline_rate": (
                float(r["worked_within_deadline"]) / float(r["warnings"]) if r["warnings"] else None
            ),
        }
        for k, r in w_agg.iterrows()
    }
    treated = members[members["arm"] == "treatment"]
    control = members[members["arm"] == "control"]
    if by == "agent":
        treated = treated[treated["agent"].notna()]
    tkey = treated[by].fillna(_NONE)
    for value, part in treated.groupby(tkey):
        row = rows.setdefault(str(value), {})
        for purpose, success, prefix in (
            (("retention", "care"), "retained", "retention"),
            (("winback",), "returned", "winback"),
        ):
            tp = part[part["purpose"].isin(purpose)]
            # the baseline: control members of the same campaigns (and queues, for agents)
            pairs = tp[["campaign_id", "queue"]].drop_duplicates()
            cp = control.merge(
                pairs if by == "agent" else tp[["campaign_id"]].drop_duplicates(),
                on=["campaign_id", "queue"] if by == "agent" else ["campaign_id"],
            )
            if by not in ("agent",):
                cp = cp[cp[by].fillna(_NONE) == value]
            rate, lift, ci = _lift(tp, cp, success)
            row[f"{prefix}_contacts"] = len(tp)
            row[f"{prefix}_rate"] = rate
            row[f"incremental_{prefix}"] = lift
            row[f"incremental_{prefix}_ci95"] = ci
    if by == "region":  # churners are placed by where they live, warned or not
        acc = _accuracy(
            settings, warnings.assign(team=_team_of(warnings["queue"], teams)), by, months
        )
        for _, r in acc.iterrows():
            row = rows.setdefault(str(r[by]), {})
            row["churners"] = int(r["churners"])
            row["warned_churners"] = int(r["warned_churners"])
            row["warning_accuracy"] = (
                float(r["warned_churners"]) / float(r["churners"]) if r["churners"] else None
            )
    columns = [
        "warnings",
        "warnings_worked",
        "worked_within_deadline",
        "worked_within_deadline_rate",
        "retention_contacts",
        "retention_rate",
        "incremental_retention",
        "incremental_retention_ci95",
        "winback_contacts",
        "winback_rate",
        "incremental_winback",
        "incremental_winback_ci95",
    ]
    if by == "region":
        columns += ["churners", "warned_churners", "warning_accuracy"]
    table = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=columns)
    table.index.name = by
    table = table.reset_index().sort_values(by, kind="stable").reset_index(drop=True)
    for c in (
        "warnings",
        "warnings_worked",
        "worked_within_deadline",
        "retention_contacts",
        "winback_contacts",
        "churners",
        "warned_churners",
    ):
        if c in table.columns:
            table[c] = table[c].fillna(0).astype(np.int64)
    return table


def team_kpi_rows(settings: Settings, *, by: str = "team", months: int = 3) -> list[dict[str, Any]]:
    """:func:`team_kpis` as JSON-ready rows (``None`` for missing values)."""
    df = team_kpis(settings, by=by, months=months)
    out = []
    for rec in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif isinstance(v, np.integer):
                v = int(v)
            elif isinstance(v, np.floating):
                v = float(v)
            clean[str(k)] = v
        out.append(clean)
    return out
