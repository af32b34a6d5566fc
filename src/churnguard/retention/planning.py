"""``campaign plan``: next best action for the warned customers, with a random control group.

1. Candidates are the month's open warnings that are retention targets (customers
   heading for passive churn are not), minus the contact policy: marketing
   opt-outs, and anyone in a campaign planned within
   ``retention.min_days_between_contacts`` days (treated or held out, so a control
   customer is never contacted while it is being observed).
2. The action table prices every eligible (customer, offer, channel): expected save
   from the active uplift model when one is fitted, else from the catalog's priors.
3. The exact MILP chooses at most one action per customer under the budget and
   each channel's capacity (per-day capacity × ``retention.contact_days``).
4. Of the chosen customers, ``holdout`` of each stratum (warning level × value tier)
   is drawn at random as the control group: planned like the others, never contacted.
   Comparing them with the treated measures what the campaign really added.
5. Campaign, members and one outbox message per treated customer are written in
   one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ..errors import InputError, NotFoundError
from ..months import add_months, month_start
from ..warehouse.operational import session_scope
from .actions import EffectModel, build_actions
from .catalog import OfferCatalog, load_catalog
from .optimizer import solve_plan
from .store import Campaign, CampaignMember, OutboxMessage

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "PlanResult",
    "add_test_cells",
    "candidates",
    "draw_holdout",
    "opted_out",
    "plan_campaign",
    "plan_from_candidates",
    "recently_contacted",
]

log = logging.getLogger(__name__)

_C = cast(sa.Table, Campaign.__table__)
_M = cast(sa.Table, CampaignMember.__table__)
_O = cast(sa.Table, OutboxMessage.__table__)

_CANDIDATE_COLUMNS = (
    "subscriber_id",
    "level",
    "probability",
    "value_tier",
    "clv",
    "arpu_3m",
    "service_type",
    "region",
    "top_category",
    "churn_type",
    "queue",
    "deadline",
)


@dataclass
class PlanResult:
    """What ``campaign plan`` did."""

    campaign_id: int
    as_of: date
    budget: float
    effect_source: str
    candidates: int
    excluded: dict[str, int]
    treated: int
    control: int
    objective: float
    bound: float
    expected_cost: float
    by_offer: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    status: str = "optimal"
    plan_value: float = 0.0  # expected net value of the optimal plan, control included
    explored: int = 0
    chosen: pd.DataFrame | None = None  # the planned actions (treated and control)

    def to_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "as_of": f"{self.as_of:%Y-%m}",
            "budget": self.budget,
            "effect_source": self.effect_source,
            "candidates": self.candidates,
            "excluded": dict(self.excluded),
            "treated": self.treated,
            "control": self.control,
            "expected_net_value": round(self.objective, 2),
            "plan_value": round(self.plan_value, 2),
            "upper_bound": round(self.bound, 2),
            "explored": self.explored,
            "expected_cost": round(self.expected_cost, 2),
            "by_offer": dict(self.by_offer),
            "by_channel": dict(self.by_channel),
            "solver_status": self.status,
        }


def candidates(
    settings: Settings, *, as_of: date, run_date: date
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Warned retention targets of ``as_of`` the contact policy allows, and who was left out."""
    from ..warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    with session_scope(settings) as session:
        rows = session.execute(
            sa.select(*[w.c[c] for c in _CANDIDATE_COLUMNS], w.c.retention_target).where(
                w.c.status == "open", w.c.last_seen_as_of == as_of
            )
        ).all()
    df = pd.DataFrame(rows, columns=[*_CANDIDATE_COLUMNS, "retention_target"])
    if df.empty:
        raise NotFoundError(
            f"no open warnings for {as_of:%Y-%m}; run 'churnguard warn --as-of {as_of:%Y-%m}' first"
        )
    excluded: dict[str, int] = {}
    passive = ~df["retention_target"].astype(bool)
    excluded["passive_churn"] = int(passive.sum())
    df = df[~passive]
    contacted = df["subscriber_id"].isin(recently_contacted(settings, run_date=run_date))
    excluded["contacted_recently"] = int(contacted.sum())
    df = df[~contacted]
    opted = df["subscriber_id"].isin(_opted_out(settings))
    excluded["opted_out"] = int(opted.sum())
    df = df[~opted].drop(columns="retention_target")
    df = df.rename(columns={"probability": "churn_probability"}).reset_index(drop=True)
    return df, excluded


def recently_contacted(settings: Settings, *, run_date: date) -> set[str]:
    """Customers in any campaign (retention, win-back, care; treated or held out) planned
    within ``retention.min_days_between_contacts`` days of ``run_date``: the shared
    contact policy, so nobody is contacted too often and no control is disturbed."""
    since = date.fromordinal(run_date.toordinal() - settings.retention.min_days_between_contacts)
    with session_scope(settings) as session:
        recent = session.execute(
            sa.select(_M.c.subscriber_id)
            .join(_C, _C.c.id == _M.c.campaign_id)
            .where(_C.c.planned_on >= since)
            .distinct()
        ).all()
    return {str(r[0]) for r in recent}


def opted_out(settings: Settings) -> set[str]:
    """Subscribers who refused marketing (``marketing_opt_out``)."""
    return _opted_out(settings)


def _opted_out(settings: Settings) -> set[str]:
    from ..warehouse.analytical import connect
    from ..warehouse.analytical import raw as raw_duckdb

    backend = connect(settings, read_only=True)
    try:
        rows = (
            raw_duckdb(backend)
            .execute("SELECT subscriber_id FROM subscribers WHERE marketing_opt_out")
            .fetchall()
        )
    finally:
        backend.disconnect()
    return {str(r[0]) for r in rows}


def draw_holdout(
    chosen: pd.DataFrame,
    *,
    share: float,
    seed: int,
    strata: tuple[str, ...] = ("level", "value_tier"),
) -> np.ndarray:
    """A boolean mask: ``share`` of each stratum, drawn at random, is the control group.

    Rounded per stratum with a random remainder, so the expected control size is
    exactly ``share`` of every stratum, and small strata are not always empty.
    """
    if share <= 0 or chosen.empty:
        return np.zeros(len(chosen), dtype=bool)
    rng = np.random.default_rng(seed)
    keys = chosen[list(strata)].astype(str).agg("|".join, axis=1)
    order = rng.permutation(len(chosen))
    shuffled = keys.to_numpy()[order]
    # position of each row within its stratum, in random order
    pos = pd.Series(shuffled).groupby(shuffled).cumcount().to_numpy()
    size = pd.Series(shuffled).map(pd.Series(shuffled).value_counts()).to_numpy()
    exact = size * share
    base = np.floor(exact)
    extra = pd.Series(rng.random(len(chosen))).groupby(shuffled).transform("first").to_numpy()
    n_control = base + (extra < exact - base)
    mask = np.zeros(len(chosen), dtype=bool)
    mask[order] = pos < n_control
    return mask


def add_test_cells(
    chosen: pd.DataFrame,
    actions: pd.DataFrame,
    *,
    share: float,
    budget_left: float,
    capacity_left: dict[str, int],
    seed: int,
) -> pd.DataFrame:
    """Add test-and-learn cells: random candidates the plan left out, with random actions.

    ``share`` of the candidates not chosen by the optimiser, drawn at random, each
    get one uniformly random eligible action, kept in random order while the
    budget and channel capacities left by the plan allow. Outcomes of these cells
    (against the control group) teach the uplift model about every offer,
    including the ones the priors undervalue. ``explored`` marks the rows.
    """
    out = chosen.assign(explored=False)
    rng = np.random.default_rng(seed)
    rest = actions[~actions["subscriber_id"].isin(chosen["subscriber_id"])]
    ids = rest["subscriber_id"].drop_duplicates()
    n = round(share * len(ids))
    if n == 0 or budget_left <= 0:
        return out
    picked = set(rng.choice(ids.to_numpy(), size=n, replace=False))
    pool = rest[rest["subscriber_id"].isin(picked)]
    pool = pool.assign(_r=rng.random(len(pool))).sort_values("_r")
    cells = pool.drop_duplicates("subscriber_id").drop(columns="_r")
    cells = cells.assign(_o=rng.random(len(cells))).sort_values("_o").drop(columns="_o")
    fits = (cells["cost"].cumsum() <= budget_left).to_numpy()
    cap = cells["channel"].map(capacity_left).fillna(np.inf).to_numpy()
    fits &= cells.groupby("channel").cumcount().to_numpy() < cap
    cells = cells[fits].assign(explored=True)
    return pd.concat([out, cells[list(out.columns)]], ignore_index=True)


def _effect_model(settings: Settings, purpose: str) -> tuple[EffectModel | None, str]:
    """The active uplift model of ``purpose`` and its label, or the catalog's priors."""
    from .store import UpliftModel
    from .uplift import active_uplift

    model = active_uplift(settings, purpose=purpose)
    if model is None:
        return None, "priors"
    u = cast(sa.Table, UpliftModel.__table__)
    with session_scope(settings) as session:
        version = session.execute(
            sa.select(u.c.version)
            .where(u.c.status == "active", u.c.purpose == purpose)
            .order_by(u.c.id.desc())
            .limit(1)
        ).scalar()
    return model, f"uplift:{version}"


def _with_features(settings: Settings, df: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    from ..features import load_snapshot

    snap = load_snapshot(settings, as_of=as_of, subscriber_ids=df["subscriber_id"].tolist())
    extra = [c for c in snap.columns if c not in df.columns or c == "subscriber_id"]
    return df.merge(snap[extra], on="subscriber_id", how="left")


def plan_campaign(
    settings: Settings,
    *,
    as_of: date | str,
    budget: float,
    holdout: float | None = None,
    run_date: date | None = None,
    name: str | None = None,
    created_by: str = "cli",
    catalog: OfferCatalog | None = None,
    effect_model: EffectModel | None = None,
    purpose: str = "retention",
    explore: float = 0.0,
) -> PlanResult:
    """Plan, and store, a retention campaign for the warnings of ``as_of``.

    Parameters
    ----------
    settings
        Workspace settings (``retention`` section: holdout, contact policy, days).
    as_of
        The warnings' month.
    budget
        Total expected cost allowed (offers taken + contacts), in the billing currency.
    holdout
        Share held out as the control group (default ``retention.holdout_share``).
    run_date
        The planning day (default today): contact policy and deadlines count from it.
    effect_model
        Expected-save model to use instead of the workspace's active uplift model.
    explore
        Test-and-learn share: this share of the candidates the optimiser left out,
        drawn at random, gets random eligible actions within the budget and
        capacities the plan leaves (see :func:`add_test_cells`).
    """
    from ..months import parse_month

    month = month_start(parse_month(as_of))
    share = settings.retention.holdout_share if holdout is None else holdout
    if not 0 <= share < 1:
        raise InputError(f"--holdout must be in [0, 1), got {share}")
    today = run_date or datetime.now(UTC).date()
    catalog = catalog or load_catalog(workspace=settings.workspace)
    cands, excluded = candidates(settings, as_of=month, run_date=today)
    return plan_from_candidates(
        settings,
        cands,
        excluded=excluded,
        month=month,
        budget=budget,
        share=share,
        today=today,
        name=name,
        created_by=created_by,
        catalog=catalog,
        effect_model=effect_model,
        purpose=purpose,
        explore=explore,
    )


def plan_from_candidates(
    settings: Settings,
    cands: pd.DataFrame,
    *,
    excluded: dict[str, int],
    month: date,
    budget: float,
    share: float,
    today: date,
    name: str | None,
    created_by: str,
    catalog: OfferCatalog,
    effect_model: EffectModel | None = None,
    purpose: str = "retention",
    explore: float = 0.0,
    strata: tuple[str, ...] = ("level", "value_tier"),
    seed_offset: int = 0,
) -> PlanResult:
    """Price, optimise, hold out and store a campaign for candidates the contact policy allows.

    Shared by retention, win-back (:mod:`.winback`) and care programs (:mod:`.care`):
    the same action table, exact MILP, budget, channel capacities, stratified random
    control group and outbox. ``cands`` has the columns of :func:`candidates`
    (``churn_probability`` scales the offers' prior effects; ``level`` may be empty).
    """
    if budget <= 0:
        raise InputError(f"--budget must be positive, got {budget}")
    if effect_model is None:
        effect_model, source = _effect_model(settings, purpose)
    else:
        source = "given"
    customers = (
        _with_features(settings, cands, as_of=month)
        if effect_model and purpose == "retention"
        else cands
    )
    actions = build_actions(customers, catalog=catalog, effect_model=effect_model, purpose=purpose)
    days = settings.retention.contact_days
    capacity = {c.code: c.capacity * days for c in catalog.channels}
    # Held-out customers cost nothing, so the treated part spends about (1 - holdout) of
    # the budget and never more than it.
    plan = solve_plan(actions, budget=budget, channel_capacity=capacity)
    seed = settings.retention.seed + month.year * 100 + month.month + seed_offset
    chosen = plan.chosen.reset_index(drop=True)
    if not 0 <= explore <= 1:
        raise InputError(f"--explore must be in [0, 1], got {explore}")
    if explore > 0:
        used = chosen["channel"].value_counts()
        chosen = add_test_cells(
            chosen,
            actions,
            share=explore,
            budget_left=budget - float(chosen["cost"].sum()),
            capacity_left={k: int(v - used.get(k, 0)) for k, v in capacity.items()},
            seed=seed + 1,
        )
    control = draw_holdout(chosen, share=share, seed=seed, strata=strata)
    treated = chosen[~control]
    result = PlanResult(
        campaign_id=0,
        as_of=month,
        budget=budget,
        effect_source=source,
        candidates=len(cands),
        excluded=excluded,
        treated=len(treated),
        control=int(control.sum()),
        objective=float(treated["value"].sum()),
        bound=plan.bound,
        expected_cost=float(treated["cost"].sum()),
        by_offer={str(k): int(v) for k, v in treated["offer"].value_counts().items()},
        by_channel={str(k): int(v) for k, v in treated["channel"].value_counts().items()},
        status=plan.status,
        plan_value=plan.objective,
        explored=int(chosen["explored"].sum()) if "explored" in chosen.columns else 0,
        chosen=chosen.assign(arm=np.where(control, "control", "treatment")),
    )
    result.campaign_id = _store(
        settings,
        chosen,
        control=control,
        result=result,
        share=share,
        today=today,
        name=name or f"{purpose} {month:%Y-%m}",
        created_by=created_by,
        purpose=purpose,
        strata=strata,
    )
    log.info(
        "%s campaign %d planned: %d treated, %d control, expected net value %.0f",
        purpose,
        result.campaign_id,
        result.treated,
        result.control,
        result.objective,
    )
    return result


def _stratum_keys(chosen: pd.DataFrame, strata: tuple[str, ...]) -> pd.Series:
    """``"red|high"``-style stratum labels (an empty frame gives an empty series)."""
    keys = chosen[strata[0]].astype(str)
    for column in strata[1:]:
        keys = keys + "|" + chosen[column].astype(str)
    return keys


def _store(
    settings: Settings,
    chosen: pd.DataFrame,
    *,
    control: np.ndarray,
    result: PlanResult,
    share: float,
    today: date,
    name: str,
    created_by: str,
    purpose: str,
    strata: tuple[str, ...] = ("level", "value_tier"),
) -> int:
    now = datetime.now(UTC)
    obs_end = add_months(result.as_of, settings.retention.observation_months)
    members = pd.DataFrame(
        {
            "subscriber_id": chosen["subscriber_id"].astype(str),
            "arm": np.where(control, "control", "treatment"),
            "stratum": _stratum_keys(chosen, strata),
            "level": chosen["level"],
            "value_tier": chosen["value_tier"],
            "churn_probability": chosen["churn_probability"].astype(float),
            "clv": chosen["clv"],
            "arpu_3m": chosen["arpu_3m"],
            "top_category": chosen["top_category"],
            "churn_type": chosen["churn_type"],
            "service_type": chosen["service_type"],
            "region": chosen["region"],
            "queue": chosen["queue"],
            "offer": chosen["offer"],
            "channel": chosen["channel"],
            "expected_save": chosen["save"].astype(float),
            "expected_cost": chosen["cost"].astype(float),
            "expected_value": chosen["value"].astype(float),
            "deadline": pd.to_datetime(chosen["deadline"]).dt.date,
            "contact_status": np.where(control, "none", "pending"),
        }
    )
    records = members.astype(object).where(members.notna(), None).to_dict(orient="records")
    with session_scope(settings) as session:
        campaign_id = int(
            session.execute(
                sa.insert(_C)
                .values(
                    purpose=purpose,
                    name=name,
                    as_of=result.as_of,
                    planned_on=today,
                    budget=result.budget,
                    holdout_share=share,
                    status="planned",
                    effect_source=result.effect_source,
                    model_version=None,
                    objective=result.objective,
                    bound=result.bound,
                    expected_cost=result.expected_cost,
                    treated=result.treated,
                    control=result.control,
                    observation_end=obs_end,
                    created_by=created_by,
                    created_at=now,
                )
                .returning(_C.c.id)
            ).scalar_one()
        )
        for rec in records:
            rec["campaign_id"] = campaign_id
        for start in range(0, len(records), 5000):
            session.execute(sa.insert(_M), records[start : start + 5000])
        key = sa.literal("cg-") + sa.cast(_M.c.campaign_id, sa.String) + "-"
        session.execute(
            sa.insert(_O).from_select(
                [
                    "campaign_id",
                    "member_id",
                    "channel",
                    "idempotency_key",
                    "status",
                    "attempts",
                    "created_at",
                ],
                sa.select(
                    _M.c.campaign_id,
                    _M.c.id,
                    _M.c.channel,
                    key + sa.cast(_M.c.id, sa.String),
                    sa.literal("pending"),
                    sa.literal(0),
                    sa.literal(now, type_=sa.DateTime(timezone=True)),
                ).where(_M.c.campaign_id == campaign_id, _M.c.arm == "treatment"),
            )
        )
    return campaign_id
