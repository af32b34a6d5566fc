"""Win-back (挽回/复活): bring back customers who already left, and detect who returned.

1. Candidates are the customers who churned in the last ``retention.winback_months``
   months (voluntarily: port-out, cancellation, prepaid inactivity; or passively,
   disconnected for arrears, with a debt), who have not come back yet. Each is
   segmented by why they left — ``competitor`` (ported out), ``service`` or
   ``price`` (their complaints, else their last warning's reason), ``passive``
   (arrears) — by value before leaving (ARPU of the three months before, tiers by
   revenue share as for active customers) and by reachability (a valid phone number
   or e-mail; marketing opt-outs are never contacted).
2. Passive churners get only the debt-settlement path (catalog eligibility).
3. The win-back offers of the catalog (``purpose: winback``) are priced and chosen
   by the same action table, exact MILP, budget, channel capacities, contact policy
   and stratified random control group as retention
   (:func:`~churnguard.retention.planning.plan_from_candidates`).
4. A return is detected from the data: another subscription of the same person
   (ID number) or the same number (a port-in brings it back, 携号转入) activated in
   the observation window. Treated and control members are resolved alike, so the
   difference of their return rates is what the campaign added.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..errors import NotFoundError
from ..months import add_months, month_start, parse_month
from ..warehouse.operational import session_scope
from .catalog import OfferCatalog, load_catalog
from .planning import PlanResult, opted_out, plan_from_candidates, recently_contacted
from .store import Campaign, CampaignMember

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "WINBACK_OUTCOMES",
    "WinbackPlan",
    "plan_winback",
    "resolve_winback",
    "value_tiers",
    "winback_candidates",
]

log = logging.getLogger(__name__)

_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)

WINBACK_OUTCOMES = ("returned", "not_returned")
_VOLUNTARY = ("port_out", "voluntary_cancel", "inactivity")
_PASSIVE = ("arrears_disconnect",)
# the warning reason categories (features catalog) that name why a customer was unhappy
_SERVICE_CATEGORIES = ("network_quality", "service_complaints", "device")
_PRICE_CATEGORIES = ("price_competitor", "payment_difficulty", "contract_lifecycle")
_RECENCY_HALF_LIFE_MONTHS = 4.0  # the catalog's priors are for a customer who left a month ago


@dataclass
class WinbackPlan:
    """A planned win-back campaign and how its candidates were segmented."""

    plan: PlanResult
    segments: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.plan.to_dict(), "purpose": "winback", "segments": self.segments}


def value_tiers(revenue: pd.Series, *, high_share: float, medium_share: float) -> pd.Series:
    """``high`` for the customers making the top ``high_share`` of revenue, then ``medium``,
    the rest ``low`` (the tiers the value stage gives active customers)."""
    r = revenue.fillna(0).clip(lower=0)
    if r.empty:
        return pd.Series([], dtype=object, index=revenue.index)
    order = r.sort_values(ascending=False, kind="stable")
    total = float(order.sum()) or 1.0
    before = (order.cumsum() - order) / total  # revenue share of the customers ranked above
    tier = np.where(before < high_share, "high", np.where(before < medium_share, "medium", "low"))
    return pd.Series(tier, index=order.index).reindex(revenue.index)


def _clv(arpu: pd.Series, settings: Settings) -> pd.Series:
    v = settings.value
    monthly = (1 + v.annual_discount_rate) ** (1 / 12) - 1
    h = v.clv_horizon_months
    annuity = h if monthly == 0 else (1 - (1 + monthly) ** -h) / monthly
    return arpu.fillna(0).clip(lower=0) * v.margin_rate * annuity


def _left_customers(settings: Settings, *, first: date, end: date) -> pd.DataFrame:
    """Churned customers of ``[first, end)`` with value before leaving, complaints, returns."""
    from ..warehouse.analytical import connect
    from ..warehouse.analytical import raw as raw_duckdb

    backend = connect(settings, read_only=True)
    try:
        con = raw_duckdb(backend)
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        reasons = ", ".join(f"'{r}'" for r in (*_VOLUNTARY, *_PASSIVE))
        bill = (
            """, bill AS (
                SELECT b.subscriber_id, avg(b.amount_due) AS arpu_before,
                       arg_max(b.arrears_balance, b.month) AS arrears
                FROM billing b JOIN left_ l USING (subscriber_id)
                WHERE b.month >= date_trunc('month', l.churn_date) - INTERVAL 3 MONTH
                  AND b.month <= date_trunc('month', l.churn_date)
                GROUP BY 1)"""
            if "billing" in tables
            else ", bill AS (SELECT NULL::VARCHAR AS subscriber_id, NULL::DOUBLE AS arpu_before,"
            " NULL::DOUBLE AS arrears WHERE false)"
        )
        compl = (
            """, compl AS (
                SELECT c.subscriber_id,
                       count(*) FILTER (WHERE c.category IN ('network', 'service')) AS n_service,
                       count(*) FILTER (WHERE c.category IN ('price', 'billing')) AS n_price
                FROM complaints c JOIN left_ l USING (subscriber_id)
                WHERE CAST(c.created_at AS DATE) >= l.churn_date - INTERVAL 6 MONTH
                GROUP BY 1)"""
            if "complaints" in tables
            else ", compl AS (SELECT NULL::VARCHAR AS subscriber_id, 0 AS n_service,"
            " 0 AS n_price WHERE false)"
        )
        sql = f"""
            WITH left_ AS (
                SELECT subscriber_id, msisdn, id_number, email, service_type, region,
                       customer_type, churn_date, churn_reason, monthly_fee,
                       coalesce(marketing_opt_out, false) AS marketing_opt_out
                FROM subscribers
                WHERE status = 'churned' AND churn_date >= ? AND churn_date < ?
                  AND churn_reason IN ({reasons})
            ), back AS (
                SELECT DISTINCT l.subscriber_id
                FROM left_ l JOIN subscribers n
                  ON n.subscriber_id <> l.subscriber_id
                 AND n.activation_date >= l.churn_date
                 AND (n.id_number = l.id_number OR n.msisdn = l.msisdn)
            ){bill}{compl}
            SELECT l.*, coalesce(b.arpu_before, l.monthly_fee) AS arpu_before,
                   coalesce(b.arrears, 0) AS arrears,
                   coalesce(c.n_service, 0) AS n_service, coalesce(c.n_price, 0) AS n_price,
                   k.subscriber_id IS NOT NULL AS returned_already,
                   regexp_full_match(coalesce(l.msisdn, ''), '1[3-9][0-9]{{9}}')
                     OR l.email LIKE '%_@_%' AS reachable
            FROM left_ l
            LEFT JOIN bill b USING (subscriber_id)
            LEFT JOIN compl c USING (subscriber_id)
            LEFT JOIN back k USING (subscriber_id)
        """
        df: pd.DataFrame = con.execute(sql, [first, end]).df()
    finally:
        backend.disconnect()
    return df


def _last_warning_category(settings: Settings, ids: list[str]) -> pd.Series:
    from ..warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    rows: list[Any] = []
    with session_scope(settings) as session:
        for start in range(0, len(ids), 5000):
            rows += session.execute(
                sa.select(w.c.subscriber_id, w.c.top_category, w.c.as_of).where(
                    w.c.subscriber_id.in_(ids[start : start + 5000])
                )
            ).all()
    df = pd.DataFrame(rows, columns=["subscriber_id", "top_category", "as_of"])
    if df.empty:
        return pd.Series(dtype=object)
    df = df.sort_values("as_of").drop_duplicates("subscriber_id", keep="last")
    return df.set_index("subscriber_id")["top_category"]


def winback_candidates(
    settings: Settings, *, as_of: date, run_date: date
) -> tuple[pd.DataFrame, dict[str, int], list[dict[str, Any]]]:
    """Who can be won back at ``as_of``, who is left out and why, and the segments.

    Returns the candidates (columns of the retention candidates: ``churn_probability``
    holds the recency factor that scales the offers' priors), the exclusion counts,
    and one row per segment (reason × value tier × reachability) before exclusions.
    """
    r = settings.retention
    end = add_months(as_of, 1)
    first = add_months(as_of, 1 - r.winback_months)
    df = _left_customers(settings, first=first, end=end)
    if df.empty:
        raise NotFoundError(
            f"nobody churned between {first:%Y-%m} and {as_of:%Y-%m}; ingest newer data or "
            "raise retention.winback_months"
        )
    df["subscriber_id"] = df["subscriber_id"].astype(str)
    passive = df["churn_reason"].isin(_PASSIVE).to_numpy()
    warned = df["subscriber_id"].map(_last_warning_category(settings, df["subscriber_id"].tolist()))
    reason = np.select(
        [
            passive,
            (df["churn_reason"] == "port_out").to_numpy(),
            (df["n_service"] > df["n_price"]).to_numpy(),
            (df["n_price"] > df["n_service"]).to_numpy(),
            warned.isin(_SERVICE_CATEGORIES).to_numpy(),
        ],
        ["passive", "competitor", "service", "price", "service"],
        default="price",
    )
    df["reason"] = reason
    df["value_tier"] = value_tiers(
        df["arpu_before"].astype(float),
        high_share=settings.value.high_revenue_share,
        medium_share=settings.value.medium_revenue_share,
    )
    df["reachable"] = df["reachable"].fillna(False).astype(bool)
    df["opted_out"] = df["marketing_opt_out"].fillna(False).astype(bool) | df["subscriber_id"].isin(
        opted_out(settings)
    )
    segments = (
        df.groupby(["reason", "value_tier", "reachable", "opted_out"])
        .agg(customers=("subscriber_id", "size"), arpu_before=("arpu_before", "mean"))
        .reset_index()
    )
    seg_rows = [
        {
            **rec,
            "reachable": bool(rec["reachable"]),
            "opted_out": bool(rec["opted_out"]),
            "customers": int(rec["customers"]),
        }
        for rec in segments.to_dict(orient="records")
    ]
    excluded: dict[str, int] = {}

    def drop(mask: pd.Series | np.ndarray, why: str) -> None:
        nonlocal df
        m = np.asarray(mask, dtype=bool)
        excluded[why] = int(m.sum())
        df = df[~m]

    drop(df["returned_already"].fillna(False).to_numpy(), "returned_already")
    drop((df["reason"] == "passive") & (df["arrears"].fillna(0) <= 0), "passive_without_debt")
    drop(df["opted_out"], "opted_out")
    drop(~df["reachable"], "no_contact_data")
    drop(
        df["subscriber_id"].isin(recently_contacted(settings, run_date=run_date)),
        "contacted_recently",
    )
    gone = (pd.Timestamp(end) - pd.to_datetime(df["churn_date"])).dt.days / 30.44
    recency = np.exp2(-np.maximum(gone.to_numpy(dtype=float) - 1, 0) / _RECENCY_HALF_LIFE_MONTHS)
    deadline = run_date + timedelta(days=r.contact_days + 2)
    arpu = df["arpu_before"].astype(float)
    cands = pd.DataFrame(
        {
            "subscriber_id": df["subscriber_id"],
            "level": None,
            "churn_probability": recency,
            "value_tier": df["value_tier"],
            "clv": _clv(arpu, settings),
            "arpu_3m": arpu,
            "service_type": df["service_type"],
            "region": df["region"],
            "top_category": df["reason"],
            "churn_type": df["reason"],
            "queue": r.winback_queue,
            "deadline": deadline,
        }
    ).reset_index(drop=True)
    return cands, excluded, seg_rows


def plan_winback(
    settings: Settings,
    *,
    as_of: date | str,
    budget: float,
    holdout: float | None = None,
    run_date: date | None = None,
    name: str | None = None,
    created_by: str = "cli",
    catalog: OfferCatalog | None = None,
) -> WinbackPlan:
    """Plan, and store, a win-back campaign for the customers who left up to ``as_of``."""
    from ..errors import InputError

    month = month_start(parse_month(as_of))
    share = settings.retention.holdout_share if holdout is None else holdout
    if not 0 <= share < 1:
        raise InputError(f"--holdout must be in [0, 1), got {share}")
    today = run_date or datetime.now(UTC).date()
    catalog = catalog or load_catalog(workspace=settings.workspace)
    if not any(o.purpose == "winback" for o in catalog.offers):
        raise InputError(
            "the offer catalog has no win-back offers (purpose: winback); add some to "
            f"{settings.workspace / settings.retention.offers_file}"
        )
    cands, excluded, segments = winback_candidates(settings, as_of=month, run_date=today)
    plan = plan_from_candidates(
        settings,
        cands,
        excluded=excluded,
        month=month,
        budget=budget,
        share=share,
        today=today,
        name=name or f"winback {month:%Y-%m}",
        created_by=created_by,
        catalog=catalog,
        purpose="winback",
        strata=("top_category", "value_tier"),
        seed_offset=7_001,
    )
    obs_end = add_months(month, settings.retention.winback_observation_months)
    with session_scope(settings) as session:
        session.execute(
            sa.update(_C).where(_C.c.id == plan.campaign_id).values(observation_end=obs_end)
        )
    return WinbackPlan(plan=plan, segments=segments)


def _data_through(settings: Settings) -> date | None:
    """The last month with usage or billing rows in the warehouse."""
    from ..warehouse.analytical import connect
    from ..warehouse.analytical import raw as raw_duckdb

    backend = connect(settings, read_only=True)
    try:
        con = raw_duckdb(backend)
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        months = [
            con.execute(f"SELECT max(month) FROM {t}").fetchone()
            for t in ("usage", "billing")
            if t in tables
        ]
        if not months:
            row = con.execute("SELECT max(activation_date) FROM subscribers").fetchone()
            months = [row]
    finally:
        backend.disconnect()
    found = [m[0] for m in months if m and m[0] is not None]
    if not found:
        return None
    last = max(found)
    last_day = last.date() if isinstance(last, datetime) else last
    return month_start(last_day)


def returns_of(settings: Settings, ids: list[str], *, first: date, end: date) -> pd.DataFrame:
    """Who of ``ids`` opened a new subscription in ``[first, end)``: same ID number or number.

    One row per returner: ``subscriber_id``, ``new_subscriber_id``, ``matched_by``
    (``port_in`` for a ported-out number that came back, ``msisdn``, ``id_number``)
    and ``returned_on``.
    """
    import duckdb

    from ..warehouse.analytical import connect
    from ..warehouse.analytical import raw as raw_duckdb

    backend = connect(settings, read_only=True)
    try:
        con: duckdb.DuckDBPyConnection = raw_duckdb(backend)
        con.register("_wb_ids", pd.DataFrame({"subscriber_id": ids}))
        df: pd.DataFrame = con.execute(
            """
            SELECT o.subscriber_id,
                   arg_min(n.subscriber_id, n.activation_date) AS new_subscriber_id,
                   arg_min(CASE WHEN n.msisdn = o.msisdn AND o.churn_reason = 'port_out'
                                THEN 'port_in'
                                WHEN n.msisdn = o.msisdn THEN 'msisdn'
                                ELSE 'id_number' END, n.activation_date) AS matched_by,
                   min(n.activation_date) AS returned_on
            FROM _wb_ids i
            JOIN subscribers o USING (subscriber_id)
            JOIN subscribers n
              ON n.subscriber_id <> o.subscriber_id
             AND (n.id_number = o.id_number OR n.msisdn = o.msisdn)
             AND n.activation_date >= ? AND n.activation_date < ?
             AND (o.churn_date IS NULL OR n.activation_date >= o.churn_date)
            GROUP BY o.subscriber_id
            """,
            [first, end],
        ).df()
        con.unregister("_wb_ids")
    finally:
        backend.disconnect()
    return df


def resolve_winback(
    settings: Settings, campaign_id: int, *, as_of: date, observation_end: date
) -> dict[str, int] | str:
    """Resolve a win-back campaign's members as ``returned`` / ``not_returned``.

    Returns the outcome counts, or the reason it has to wait for more data.
    """
    from .outcomes import close_campaign

    through = _data_through(settings)
    if through is None or through < observation_end:
        return f"needs data through {observation_end:%Y-%m} (returns are counted until then)"
    with session_scope(settings) as session:
        members = pd.DataFrame(
            session.execute(
                sa.select(_M.c.id, _M.c.subscriber_id).where(_M.c.campaign_id == campaign_id)
            ).all(),
            columns=["id", "subscriber_id"],
        )
    back = returns_of(
        settings,
        members["subscriber_id"].astype(str).tolist(),
        first=add_months(as_of, 1),
        end=add_months(observation_end, 1),
    )
    df = members.merge(back, on="subscriber_id", how="left")
    returned = df["new_subscriber_id"].notna()
    now = datetime.now(UTC)
    with session_scope(settings) as session:
        gone = df.loc[~returned, "id"].astype(int).tolist()
        for start in range(0, len(gone), 5000):
            session.execute(
                sa.update(_M)
                .where(_M.c.id.in_(gone[start : start + 5000]))
                .values(outcome="not_returned", outcome_month=None)
            )
        came = df[returned].assign(
            m=pd.to_datetime(df.loc[returned, "returned_on"]).dt.to_period("M").dt.start_time
        )
        for month, part in came.groupby("m"):
            ids = part["id"].astype(int).tolist()
            session.execute(
                sa.update(_M)
                .where(_M.c.id.in_(ids))
                .values(outcome="returned", outcome_month=pd.Timestamp(month).date())
            )
        close_campaign(session, campaign_id, now=now)
    counts = {"returned": int(returned.sum()), "not_returned": int((~returned).sum())}
    for how, n in df.loc[returned, "matched_by"].value_counts().items():
        counts[f"matched_by_{how}"] = int(n)
    log.info("win-back campaign %d resolved: %s", campaign_id, counts)
    return counts
