"""Benchmark: the net value of churnguard's retention plans, judged by the simulator's truth.

The simulated world knows each customer's true probability of leaving next month
and true response to every offer (``truth/``); churnguard never sees them. The
benchmark runs the retention loop as an operator would:

1. simulate an operator, ingest, train the churn model;
2. test-and-learn campaigns: warn, plan (a share of random eligible offers and a
   random control group), let the world live the next months with those
   treatments (``simulate.step``), ingest them, resolve outcomes from the data;
3. fit the uplift model on the resolved campaigns;
4. on the next month, plan three ways under the same budget and channel
   capacities, for the same warned customers:
   - **ours**: churnguard's plan (uplift model when fitted, else the catalog's priors),
   - **oracle**: the exact optimum with the true churn probabilities and true offer
     responses (the best any policy could do on these customers),
   - **top_risk**: what a team without the optimiser does: call the riskiest customers
     first with the standard offer until the budget or the call capacity runs out;
   and value each plan with the truth: Σ p_true × (1 − true multiplier) × CLV − cost.

The simulated world has no channel effect (a contact works the same by SMS or by
phone), which the oracle exploits and our priors do not know.

    .venv/bin/python bench/retention_value.py                       # defaults below
    .venv/bin/python bench/retention_value.py --subscribers 50000 --learn 3
    .venv/bin/python bench/retention_value.py --seed 11 12 13 --root /tmp/cg-rv  # several worlds

The last line of output is JSON: ``{"ours": ..., "oracle": ..., "top_risk": ..., ...}``
(with several seeds: the sums over the worlds, and each world's figures).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churnguard.config import Settings, load_settings
from churnguard.ingest import ingest
from churnguard.models.training import train_models
from churnguard.months import add_months
from churnguard.retention.actions import build_actions
from churnguard.retention.catalog import OfferCatalog, load_catalog
from churnguard.retention.optimizer import solve_plan
from churnguard.retention.outcomes import resolve_outcomes
from churnguard.retention.planning import candidates, plan_campaign
from churnguard.simulate import simulate, step
from churnguard.warnings.run import raise_warnings


def _say(msg: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def _first_workday(month: date) -> date:
    d = add_months(month, 1)
    while d.weekday() >= 5:
        d = date(d.year, d.month, d.day + 1)
    return d


def _truth(sim: Path, month: date) -> tuple[pd.Series, pd.DataFrame]:
    """True next-month churn probability and true offer multipliers (as of the world's now)."""
    p = pd.read_parquet(sim / "truth" / "churn_probability.parquet")
    p = p[pd.to_datetime(p["month"]).dt.date == month]
    m = pd.read_parquet(sim / "truth" / "offer_response.parquet")
    return p.set_index("subscriber_id")["p_voluntary_churn"], m


def _true_value(plan: pd.DataFrame, p_true: pd.Series, mult: pd.DataFrame) -> float:
    if plan.empty:
        return 0.0
    mm = mult.rename(columns={"offer_type": "offer"})[["subscriber_id", "offer", "p_multiplier"]]
    df = plan.drop(columns=["p_multiplier"], errors="ignore").merge(
        mm, on=["subscriber_id", "offer"], how="left"
    )
    p = df["subscriber_id"].map(p_true).fillna(0.0).to_numpy()
    save = p * (1.0 - df["p_multiplier"].fillna(1.0).to_numpy())
    return float((save * df["clv"].fillna(0).to_numpy() - df["cost"].to_numpy()).sum())


def _oracle(
    actions: pd.DataFrame,
    p_true: pd.Series,
    mult: pd.DataFrame,
    *,
    budget: float,
    caps: dict[str, int],
) -> pd.DataFrame:
    mm = mult.rename(columns={"offer_type": "offer"})[["subscriber_id", "offer", "p_multiplier"]]
    df = actions.merge(mm, on=["subscriber_id", "offer"], how="left")
    p = df["subscriber_id"].map(p_true).fillna(0.0).to_numpy()
    df["save"] = p * (1.0 - df["p_multiplier"].fillna(1.0).to_numpy())
    df["value"] = df["save"] * df["clv"].fillna(0) - df["cost"]
    return solve_plan(df, budget=budget, channel_capacity=caps).chosen


def _top_risk(
    actions: pd.DataFrame, *, budget: float, caps: dict[str, int], offer: str, channel: str
) -> pd.DataFrame:
    """Riskiest first, the standard offer by phone (else the first eligible offer), until
    the budget or the channel's capacity is used up."""
    a = actions[actions["channel"] == channel].copy()
    a["_std"] = a["offer"] != offer
    a = a.sort_values(["subscriber_id", "_std", "offer_rank"]).drop_duplicates("subscriber_id")
    a = a.sort_values("churn_probability", ascending=False, kind="stable")
    within = (a["cost"].cumsum() <= budget).to_numpy()
    within &= np.arange(len(a)) < caps.get(channel, len(a))
    return a[within]


def _ranked_offers(catalog: OfferCatalog) -> dict[str, int]:
    return {o.code: i for i, o in enumerate(catalog.offers)}


def _learn_campaign(
    settings: Settings,
    sim: Path,
    month: date,
    *,
    budget: float,
    explore: float,
    holdout: float,
    root: Path,
    t0: float,
) -> date:
    run = _first_workday(month)
    raise_warnings(settings, as_of=month, run_date=run, push=False)
    plan = plan_campaign(
        settings, as_of=month, budget=budget, holdout=holdout, explore=explore, run_date=run
    )
    assert plan.chosen is not None
    treated = plan.chosen[plan.chosen["arm"] == "treatment"]
    _say(
        f"campaign {plan.campaign_id} at {month:%Y-%m}: {plan.treated} treated "
        f"({plan.explored} exploring), {plan.control} control, effects {plan.effect_source}",
        t0,
    )
    treatments = treated[["subscriber_id", "offer"]].rename(columns={"offer": "offer_type"})
    nxt = month
    for k, tr in enumerate((treatments, None)):
        out = root / f"step-{add_months(month, k + 1):%Y-%m}"
        step(sim, treatments=tr, out=out)
        ingest(out, settings=settings)
        nxt = add_months(month, k + 1)
    rep = resolve_outcomes(settings)
    _say(f"resolved: {rep.to_dict()['resolved']}", t0)
    return nxt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=30_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[11],
        help="one or more world seeds; with several, each runs in ROOT/seed-N and the last "
        "line sums the values over the seeds",
    )
    ap.add_argument(
        "--learn", type=int, default=2, help="test-and-learn campaigns before the evaluation"
    )
    ap.add_argument(
        "--explore", type=float, default=0.5, help="random-offer share in learning campaigns"
    )
    ap.add_argument(
        "--holdout", type=float, default=0.2, help="control share in learning campaigns"
    )
    ap.add_argument(
        "--learn-budget-per-subscriber",
        type=float,
        default=1.5,
        help="budget of each test-and-learn campaign per subscriber",
    )
    ap.add_argument(
        "--budget-per-subscriber",
        type=float,
        default=0.5,
        help="campaign budget per subscriber of the base",
    )
    ap.add_argument(
        "--standard-offer", default="price_discount", help="offer of the top-risk policy"
    )
    ap.add_argument("--root", type=Path, default=Path("/tmp/cg-retention-bench"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if len(args.seed) == 1:
        print(json.dumps(_run(args, seed=args.seed[0], root=args.root), default=str))
        return
    runs = []
    for seed in args.seed:
        one = _run(args, seed=seed, root=args.root / f"seed-{seed}")
        print(json.dumps(one, default=str))
        runs.append(one)
    total = {k: float(sum(r[k] for r in runs)) for k in ("ours", "oracle", "top_risk", "priors")}
    shares = [r["ours"] / r["oracle"] for r in runs if r["oracle"]]
    print(
        json.dumps(
            {
                **total,
                "seeds": args.seed,
                "ours_share_of_oracle_by_seed": [round(x, 4) for x in shares],
                "per_seed": [
                    {k: r[k] for k in ("ours", "oracle", "top_risk", "priors")} for r in runs
                ],
            }
        )
    )


def _run(args: argparse.Namespace, *, seed: int, root: Path) -> dict[str, Any]:
    """One world: simulate, learn, evaluate the three policies; the result row."""
    t0 = time.perf_counter()
    if root.exists():
        shutil.rmtree(root)
    sim, ws = root / "sim", root / "ws"
    simulate(
        sim,
        subscribers=args.subscribers,
        months=args.months,
        seed=seed,
        start=date(2024, 1, 1),
    )
    settings = load_settings(ws, create=True)
    ingest(sim, settings=settings)
    month = add_months(date(2024, 1, 1), args.months - 1)
    _say("simulated and ingested", t0)
    train_models(settings, as_of=month, families=["lightgbm"])
    _say("model trained", t0)
    budget = args.budget_per_subscriber * args.subscribers
    for _ in range(args.learn):
        month = _learn_campaign(
            settings,
            sim,
            month,
            budget=args.learn_budget_per_subscriber * args.subscribers,
            explore=args.explore,
            holdout=args.holdout,
            root=root,
            t0=t0,
        )
    fitted: dict[str, Any] = {}
    if args.learn:
        from churnguard.retention.uplift import fit_and_register

        try:
            summary = fit_and_register(settings)
            fitted = {"uplift_version": summary.version, "uplift_metrics": summary.metrics}
            _say(f"uplift model {summary.version} fitted", t0)
        except Exception as exc:  # reported, the evaluation then runs on priors
            fitted = {"uplift_error": str(exc)}
            _say(f"no uplift model: {exc}", t0)

    # Evaluation month: same customers, budget and capacities for the three policies.
    run = _first_workday(month)
    raise_warnings(settings, as_of=month, run_date=run, push=False)
    cands, _excluded = candidates(settings, as_of=month, run_date=run)
    catalog = load_catalog(workspace=settings.workspace)
    caps = {c.code: c.capacity * settings.retention.contact_days for c in catalog.channels}
    p_true, mult = _truth(sim, month)
    from churnguard.features import load_snapshot

    snap = load_snapshot(settings, as_of=month, subscriber_ids=cands["subscriber_id"].tolist())
    extra = [c for c in snap.columns if c not in cands.columns or c == "subscriber_id"]
    customers = cands.merge(snap[extra], on="subscriber_id", how="left")

    from churnguard.retention.planning import _effect_model

    model, source = _effect_model(settings, "retention")
    ours_actions = build_actions(customers, catalog=catalog, effect_model=model)
    ours = solve_plan(ours_actions, budget=budget, channel_capacity=caps).chosen
    prior_actions = build_actions(cands, catalog=catalog)
    priors = solve_plan(prior_actions, budget=budget, channel_capacity=caps).chosen
    oracle = _oracle(prior_actions, p_true, mult, budget=budget, caps=caps)
    ranked = prior_actions.assign(offer_rank=prior_actions["offer"].map(_ranked_offers(catalog)))
    top = _top_risk(ranked, budget=budget, caps=caps, offer=args.standard_offer, channel="phone")
    result = {
        "ours": _true_value(ours, p_true, mult),
        "oracle": _true_value(oracle, p_true, mult),
        "top_risk": _true_value(top, p_true, mult),
        "priors": _true_value(priors, p_true, mult),
        "effect_source": source,
        "as_of": f"{month:%Y-%m}",
        "candidates": len(cands),
        "budget": budget,
        "contacted": {
            "ours": len(ours),
            "oracle": len(oracle),
            "top_risk": len(top),
            "priors": len(priors),
        },
        "cost": {
            "ours": float(ours["cost"].sum()),
            "oracle": float(oracle["cost"].sum()),
            "top_risk": float(top["cost"].sum()),
        },
        "seed": seed,
        "subscribers": args.subscribers,
        "learning_campaigns": args.learn,
        "seconds": round(time.perf_counter() - t0, 1),
        **fitted,
    }
    _say(
        f"net value: ours {result['ours']:,.0f} ({source}), priors {result['priors']:,.0f}, "
        f"oracle {result['oracle']:,.0f}, top-risk {result['top_risk']:,.0f}",
        t0,
    )
    return result


if __name__ == "__main__":
    main()
