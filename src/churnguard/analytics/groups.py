"""Corporate (VPMN) group collective churn and second-SIM big customers, with evidence.

**Collective churn (集体离网).** Per group at the end of the as-of month: active
members, members who left in the last 3 months (by reason), active members
showing port-out signs (cancel inquiry, portability query, calls forwarded to
rivals) and the open group warning, if any. A group is listed when at least
``min_churned`` members left or their share reaches ``min_share``.

**Second-SIM big customers (一人多卡).** High-value customers whose incoming calls
outnumber outgoing ones by the workspace's rule W012 factor (default 4): the
classic sign of a second SIM with a rival. Evidence: the ratio, the off-net
share, calls forwarded off-net, ARPU.

Personal data (phone number, name) is masked unless clear text is asked for and
the workspace allows clear-text exports (``privacy.export_clear_text``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..months import add_months
from ..privacy import mask_frame
from .population import data_window, duck, table_names

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["GroupsResult", "group_analysis", "second_sim_ratio"]

DEFAULT_RATIO = 4.0
WINDOW_MONTHS = 3


@dataclass(frozen=True)
class GroupsResult:
    """Groups at risk of collective churn and second-SIM big customers."""

    as_of: str
    groups: list[dict[str, Any]]
    second_sim: list[dict[str, Any]]
    second_sim_ratio: float
    masked: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def second_sim_ratio(settings: Settings) -> float:
    """The incoming/outgoing ratio of rule W012 in the workspace's rules (default 4)."""
    from ..warnings.rules import load_rules

    if not (settings.workspace / "rules.yaml").exists():
        return DEFAULT_RATIO
    try:
        rule = load_rules(workspace=settings.workspace).by_code("W012")
    except (KeyError, LookupError):
        return DEFAULT_RATIO
    for cond in getattr(rule, "when", ()):
        if getattr(cond, "column", None) == "calls_in_out_ratio_3m" and cond.value is not None:
            return float(cond.value)
    return DEFAULT_RATIO


def _groups(settings: Settings, month: date, *, min_churned: int, min_share: float) -> pd.DataFrame:
    first, end = add_months(month, -(WINDOW_MONTHS - 1)), add_months(month, 1)
    with duck(settings) as con:
        present = table_names(con)
        signs = (
            "coalesce(f.cancel_inquiries_3m, 0) >= 1 OR coalesce(f.port_out_queries_3m, 0) >= 1 "
            "OR coalesce(f.call_forward_offnet_3m, 0) >= 1"
            if "feature_snapshots" in present
            else "false"
        )
        snap_join = (
            "LEFT JOIN feature_snapshots f ON f.subscriber_id = s.subscriber_id AND f.as_of = ?"
            if "feature_snapshots" in present
            else ""
        )
        params: list[Any] = [month] if snap_join else []
        df: pd.DataFrame = con.execute(
            f"""
            WITH m AS (
              SELECT s.group_id, s.subscriber_id, s.msisdn, s.name, s.churn_date, s.churn_reason,
                     s.activation_date < ?
                       AND (s.churn_date IS NULL OR s.churn_date >= ?) AS active,
                     s.churn_date >= ? AND s.churn_date < ? AS left_recently,
                     ({signs}) AS signalling
              FROM subscribers s {snap_join}
              WHERE s.group_id IS NOT NULL AND s.activation_date < ?
            )
            SELECT group_id,
                   count(*) FILTER (WHERE active) AS active_members,
                   count(*) FILTER (WHERE left_recently) AS churned_3m,
                   count(*) FILTER (WHERE active AND signalling) AS signalling,
                   list(struct_pack(subscriber_id, msisdn, name, churn_date, churn_reason)
                        ORDER BY churn_date) FILTER (WHERE left_recently) AS leavers
            FROM m GROUP BY group_id
            """,
            [end, end, first, end, *params, end],
        ).df()
    if df.empty:
        return df
    df["churn_share_3m"] = df["churned_3m"] / (df["active_members"] + df["churned_3m"]).clip(
        lower=1
    )
    keep = (df["churned_3m"] >= min_churned) | (
        (df["churn_share_3m"] >= min_share) & (df["churned_3m"] > 0)
    )
    return df[keep].sort_values(["churn_share_3m", "churned_3m"], ascending=False)


def _open_group_warnings(settings: Settings, month: date) -> dict[str, dict[str, Any]]:
    import sqlalchemy as sa

    from ..warehouse.operational import session_scope
    from ..warnings.store import GroupWarning

    g = GroupWarning.__table__
    with session_scope(settings) as session:
        rows = session.execute(
            sa.select(g.c.group_id, g.c.level, g.c.rule_code, g.c.reason_zh, g.c.reason_en).where(
                g.c.as_of <= month, g.c.status == "open"
            )
        ).all()
    return {str(r[0]): {"level": r[1], "rule": r[2], "zh": r[3], "en": r[4]} for r in rows}


def _mask_leavers(leavers: Any, *, clear: bool) -> list[dict[str, Any]]:
    frame = pd.DataFrame(list(leavers) if leavers is not None else [])
    if frame.empty:
        return []
    if not clear:
        frame = mask_frame(frame)
    frame["churn_date"] = pd.to_datetime(frame["churn_date"]).dt.date.astype(str)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")  # type: ignore[no-any-return]


def _second_sim(settings: Settings, month: date, *, ratio: float, top: int) -> pd.DataFrame:
    from ..features.engines import open_warehouse
    from ..value import customer_value
    from ..warehouse.analytical import raw

    backend = open_warehouse(settings, read_only=True)
    try:
        present = table_names(raw(backend))
        if "feature_snapshots" not in present:
            return pd.DataFrame()
        tables: dict[str, Any] = {
            n: backend.table(n) for n in ("subscribers", "billing", "usage") if n in present
        }
        value = customer_value(tables, as_of=month, settings=settings.value)
        value = value.filter(value.value_tier == "high").select(
            "subscriber_id", "value_tier", "arpu_3m"
        )
        snap = backend.table("feature_snapshots")
        snap = snap.filter(snap.as_of == month, snap.calls_in_out_ratio_3m >= ratio).select(
            "subscriber_id",
            "service_type",
            "calls_in_out_ratio_3m",
            "offnet_share_3m",
            "call_forward_offnet_3m",
        )
        subs = tables["subscribers"].select("subscriber_id", "msisdn", "name", "group_id")
        joined = value.join(snap, "subscriber_id").join(subs, "subscriber_id")
        df: pd.DataFrame = joined.order_by(joined.calls_in_out_ratio_3m.desc()).limit(top).execute()
    finally:
        backend.disconnect()
    return df


def group_analysis(
    settings: Settings,
    *,
    as_of: date | str,
    min_churned: int = 2,
    min_share: float = 0.2,
    top: int = 50,
    clear_text: bool = False,
) -> GroupsResult:
    """Groups with collective churn and second-SIM big customers at the end of ``as_of``."""
    month = data_window(settings, as_of=as_of, months=1).as_of
    clear = clear_text and settings.privacy.export_clear_text
    groups = _groups(settings, month, min_churned=min_churned, min_share=min_share)
    warned = _open_group_warnings(settings, month) if not groups.empty else {}
    rows = []
    for rec in groups.head(top).to_dict("records"):
        gw = warned.get(str(rec["group_id"]))
        rows.append(
            {
                "group_id": str(rec["group_id"]),
                "active_members": int(rec["active_members"]),
                "churned_3m": int(rec["churned_3m"]),
                "churn_share_3m": float(rec["churn_share_3m"]),
                "signalling": int(rec["signalling"]),
                "group_warning": gw,
                "leavers": _mask_leavers(rec["leavers"], clear=clear),
            }
        )
    ratio = second_sim_ratio(settings)
    sims = _second_sim(settings, month, ratio=ratio, top=top)
    if not sims.empty and not clear:
        sims = mask_frame(sims)
    sim_rows = sims.astype(object).where(sims.notna(), None).to_dict("records")
    return GroupsResult(f"{month:%Y-%m}", rows, sim_rows, ratio, not clear)
