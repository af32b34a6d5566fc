"""Uplift-model quality on the simulator's response model: which learner ranks saves best.

Customers get the simulator's hidden traits (``simulate/world.py`` distributions)
and the simulator's true offer multipliers (``simulate/risk.py::offer_multipliers``);
the learners see only noisy, partial proxies of the traits plus the scored churn
probability, as in a real feature snapshot. A randomised campaign (10 % control,
treatments spread over the 7 offers) is drawn, outcomes are sampled from the truth,
each learner is fitted, then judged on a fresh population where the true save of
every (customer, offer) is known:

- ``qini``: policy-level Qini coefficient on a realised held-out campaign;
- ``rank_corr``: Spearman correlation of predicted vs true save over all
  (customer, offer) pairs;
- ``policy``: mean true save of "best predicted offer per customer" as a share of
  the oracle's (best true offer per customer).

Run: ``.venv/bin/python bench/uplift_quality.py [--rows 3000 8000 20000] [--seeds 4]``.

With ``--world ROOT`` it judges the learners instead on the real loop left by
``bench/retention_value.py --root ROOT``: the simulator's feature snapshots,
scored churn probabilities and resolved campaigns, with the truth files
``truth/churn_probability.parquet`` and ``truth/offer_response.parquet``.
The last line is a JSON object with the mean figures per learner.

With ``--plan ROOT --month YYYY-MM`` it decomposes the value of the budgeted plan
of that month (the evaluation month of ``bench/retention_value.py``): every learner
(with the catalog's priors) is fitted on all resolved campaigns, the same MILP
(budget, channel capacities × ``retention.contact_days``) is solved with each
expected-save column, and the chosen plan is valued with the truth
(true p × (1 − true multiplier) × CLV − cost). Reference columns: the oracle,
true p × the default learner's relative effect, model p × the true multiplier,
model p × each offer's mean true multiplier. It also prints the mean predicted vs
true save per offer. Only this benchmark reads the truth files.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from churnguard.retention.uplift import LEARNERS, fit_uplift, policy_qini
from churnguard.simulate.catalog import OFFER_TYPES
from churnguard.simulate.risk import offer_multipliers

MOBILE, BROADBAND, TV = 0, 1, 2


def population(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Observable features + churn probability, and the true multipliers (n × offers)."""
    service = rng.choice([MOBILE, BROADBAND, TV], size=n, p=[0.7, 0.2, 0.1]).astype(np.int8)
    prepaid = (service == MOBILE) & (rng.random(n) < 0.35)
    has_contract = ~prepaid & (rng.random(n) < 0.5)
    price = rng.beta(2.0, 3.0, n)
    quality = rng.beta(2.0, 3.0, n)
    tenure = rng.gamma(2.0, 18.0, n)
    loyalty = rng.normal(0, 1, n) + 0.25 * np.log1p(tenure / 12)
    usage = rng.lognormal(0.0, 0.45, n)
    cell_bad = np.clip(rng.beta(1.5, 6.0, n) + 0.3 * (rng.random(n) < 0.2), 0, 1)
    fee = rng.choice([19.0, 39.0, 59.0, 99.0, 159.0], size=n, p=[0.2, 0.3, 0.25, 0.15, 0.1])
    dog = rng.random(n) < 0.07
    noise = rng.standard_normal((n, len(OFFER_TYPES)))
    mult = offer_multipliers(
        service=service,
        prepaid=prepaid,
        has_contract=has_contract,
        price_sens=price,
        quality_sens=quality,
        cell_bad=cell_bad,
        usage_level=usage,
        loyalty=loyalty,
        fee=fee,
        sleeping_dog=dog,
        noise=noise,
    )
    # What a feature snapshot shows: proxies with noise (traits themselves are hidden).
    feats = pd.DataFrame(
        {
            "service_type": np.array(["mobile", "broadband", "tv"])[service],
            "payment_type": np.where(prepaid, "prepaid", "postpaid"),
            "months_to_contract_end": np.where(has_contract, rng.integers(0, 24, n), np.nan),
            "monthly_fee": fee,
            "tenure_months": tenure,
            "price_complaints_3m": rng.poisson(2.0 * price),
            "downgrades_3m": rng.poisson(1.2 * price),
            "dropped_call_rate": 0.005 + 0.03 * cell_bad + rng.normal(0, 0.006, n),
            "download_ratio": 1.0 - 0.6 * cell_bad + rng.normal(0, 0.1, n),
            "network_complaints_3m": rng.poisson(2.5 * quality * cell_bad + 0.1),
            "csat_recent": np.clip(4.2 - 1.5 * quality * cell_bad + rng.normal(0, 0.6, n), 1, 5),
            "data_mb_3m": usage * 3000 * rng.lognormal(0, 0.2, n),
            "points_balance": np.maximum(0, 1000 + 600 * loyalty + rng.normal(0, 500, n)),
            **{f"noise_{i}": rng.normal(0, 1, n) for i in range(8)},
        }
    )
    z = (
        -2.4
        + 1.2 * price
        + 1.5 * quality * cell_bad
        - 0.4 * loyalty
        + 0.6 * prepaid
        + rng.normal(0, 0.6, n)
    )
    p_true = 1 / (1 + np.exp(-z))
    # The scored probability: a calibrated but imperfect model of the truth.
    feats["churn_probability"] = np.clip(
        1 / (1 + np.exp(-(z + rng.normal(0, 0.35, n)))), 0.001, 0.999
    )
    feats["p_true"] = p_true
    return feats, mult


def campaign(
    n: int, rng: np.random.Generator, *, control: float = 0.1
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A randomised campaign with realised outcomes; also returns the truth."""
    feats, mult = population(n, rng)
    is_control = rng.random(n) < control
    offer_idx = rng.integers(0, len(OFFER_TYPES), n)
    m = np.where(is_control, 1.0, mult[np.arange(n), offer_idx])
    p = np.clip(feats["p_true"].to_numpy() * m, 0, 1)
    frame = feats.drop(columns="p_true").assign(
        arm=np.where(is_control, "control", "treatment"),
        offer=np.where(is_control, None, np.asarray(OFFER_TYPES, dtype=object)[offer_idx]),
        churned=rng.random(n) < p,
        campaign_id=1,
    )
    return frame, feats, mult


def judge(learner: str, rows: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    train, _, _ = campaign(rows, rng)
    test, test_feats, test_mult = campaign(20_000, rng)
    t0 = time.perf_counter()
    model = fit_uplift(train, learner=learner, seed=seed)
    fit_s = time.perf_counter() - t0
    saves = model.predict_all(test)[list(OFFER_TYPES)]
    true = test_feats["p_true"].to_numpy()[:, None] * (1.0 - test_mult)
    pred = saves.to_numpy()
    corr = float(spearmanr(pred.ravel(), true.ravel()).statistic)
    within = float(
        np.mean(
            [
                spearmanr(pred[:, j], true[:, j]).statistic if np.ptp(pred[:, j]) > 0 else 0.0
                for j in range(len(OFFER_TYPES))
            ]
        )
    )
    chosen = true[np.arange(len(true)), pred.argmax(axis=1)].mean()
    oracle = true.max(axis=1).mean()
    best_single = true.mean(axis=0).max()
    pq = policy_qini(test, saves)
    return {
        "qini": float(pq["qini"]) if pq else float("nan"),
        "rank_corr": corr,
        "rank_corr_within_offer": within,
        "policy": float(chosen / oracle),
        "best_single_offer": float(best_single / oracle),
        "fit_s": fit_s,
    }


def judge_world(root: Path) -> dict[str, dict[str, float]]:
    """Each learner on the resolved campaigns of a ``bench/retention_value.py`` run.

    Fitted without the latest campaign, judged on it: the realised Qini, and the rank
    correlation of predicted vs true save (truth: p_voluntary_churn of the campaign's
    month × (1 − the true multiplier of each offer)) over its members × offers.
    """
    from churnguard.config import load_settings
    from churnguard.retention.catalog import load_catalog
    from churnguard.retention.uplift import evaluate_uplift, split_heldout, uplift_training_frame

    settings = load_settings(root / "ws")
    frame = uplift_training_frame(settings)
    train, held, split = split_heldout(frame)
    month = held["as_of"].iloc[0]
    truth = pd.read_parquet(root / "sim" / "truth" / "churn_probability.parquet")
    truth = truth[pd.to_datetime(truth["month"]) == month].set_index("subscriber_id")
    mult = pd.read_parquet(root / "sim" / "truth" / "offer_response.parquet").pivot(
        index="subscriber_id", columns="offer_type", values="p_multiplier"
    )
    p_true = truth["p_voluntary_churn"].reindex(held["subscriber_id"]).to_numpy()
    out: dict[str, dict[str, float]] = {}
    print(
        f"world {root}: {len(frame)} resolved members, {frame['campaign_id'].nunique()} "
        f"campaigns; held out: {split}"
    )
    catalog = load_catalog(workspace=settings.workspace)
    priors = {o.code: dict(o.effect) for o in catalog.offers if o.purpose == "retention"}
    variants = [(f"{lrn}+priors", lrn, priors) for lrn in LEARNERS if lrn != "s_learner"]
    for name, learner, prior in [*((lrn, lrn, None) for lrn in LEARNERS), *variants]:
        model = fit_uplift(train, learner=learner, seed=1, priors=prior)
        saves = model.predict_all(held)
        offers = list(saves.columns)
        true = p_true[:, None] * (1.0 - mult.reindex(held["subscriber_id"])[offers].to_numpy())
        pred = saves.to_numpy()
        ok = np.isfinite(true).all(axis=1)
        metrics = evaluate_uplift(model, held)
        chosen = true[ok][np.arange(ok.sum()), pred[ok].argmax(axis=1)].mean()
        out[name] = {
            "qini_policy": float(metrics["policy"]["qini"]) if metrics["policy"] else float("nan"),
            "qini_offers": float(metrics["qini_weighted_mean"] or float("nan")),
            "rank_corr": float(spearmanr(pred[ok].ravel(), true[ok].ravel()).statistic),
            "policy": float(chosen / true[ok].max(axis=1).mean()),
            "best_single_offer": float(true[ok].mean(axis=0).max() / true[ok].max(axis=1).mean()),
            "mean_pred_save": float(pred[ok].mean()),
            "mean_true_save": float(true[ok].mean()),
        }
        r = out[name]
        print(
            f"{name:24s} qini policy {r['qini_policy']:+.4f} offers {r['qini_offers']:+.4f}  "
            f"rank corr {r['rank_corr']:.3f}  policy {r['policy']:.1%} of oracle "
            f"(best single {r['best_single_offer']:.1%})  mean save pred "
            f"{r['mean_pred_save']:.4f} true {r['mean_true_save']:.4f}"
        )
    # The catalog's priors alone (what the planner uses without a model).
    cat = held["top_category"].fillna("default") if "top_category" in held else None
    offers = [o for o in priors if o in mult.columns]
    prior_save = pd.DataFrame(
        {
            o: held["churn_probability"].to_numpy()
            * (
                cat.map(priors[o]).fillna(priors[o]["default"]).to_numpy()
                if cat is not None
                else priors[o]["default"]
            )
            for o in offers
        },
        index=held.index,
    )
    true = p_true[:, None] * (1.0 - mult.reindex(held["subscriber_id"])[offers].to_numpy())
    pred = prior_save.to_numpy()
    ok = np.isfinite(true).all(axis=1)
    pq = policy_qini(held, prior_save)
    out["catalog_priors"] = {
        "qini_policy": float(pq["qini"]) if pq else float("nan"),
        "rank_corr": float(spearmanr(pred[ok].ravel(), true[ok].ravel()).statistic),
        "policy": float(
            true[ok][np.arange(ok.sum()), pred[ok].argmax(axis=1)].mean()
            / true[ok].max(axis=1).mean()
        ),
        "mean_pred_save": float(pred[ok].mean()),
        "mean_true_save": float(true[ok].mean()),
    }
    r = out["catalog_priors"]
    print(
        f"{'catalog_priors':24s} qini policy {r['qini_policy']:+.4f}  rank corr "
        f"{r['rank_corr']:.3f}  policy {r['policy']:.1%} of oracle  mean save pred "
        f"{r['mean_pred_save']:.4f} true {r['mean_true_save']:.4f}"
    )
    return out


def judge_plan(root: Path, *, month: str, budget: float) -> dict[str, Any]:
    """Value under the truth of the budgeted plan each expected-save column leads to."""
    from churnguard.config import load_settings
    from churnguard.features import load_snapshot
    from churnguard.retention.actions import build_actions
    from churnguard.retention.catalog import load_catalog
    from churnguard.retention.optimizer import solve_plan
    from churnguard.retention.planning import candidates
    from churnguard.retention.uplift import DEFAULT_LEARNER, uplift_training_frame

    settings = load_settings(root / "ws")
    as_of = pd.Timestamp(f"{month}-01").date()
    run_date = (pd.Timestamp(as_of) + pd.offsets.MonthBegin(1)).date()
    cands, _ = candidates(settings, as_of=as_of, run_date=run_date)
    snap = load_snapshot(settings, as_of=as_of, subscriber_ids=cands["subscriber_id"].tolist())
    extra = [c for c in snap.columns if c not in cands.columns or c == "subscriber_id"]
    customers = cands.merge(snap[extra], on="subscriber_id", how="left")
    catalog = load_catalog(workspace=settings.workspace)
    priors = {o.code: dict(o.effect) for o in catalog.offers if o.purpose == "retention"}
    caps = {c.code: c.capacity * settings.retention.contact_days for c in catalog.channels}
    truth = pd.read_parquet(root / "sim" / "truth" / "churn_probability.parquet")
    truth = truth[pd.to_datetime(truth["month"]).dt.date == as_of]
    p_true = truth.set_index("subscriber_id")["p_voluntary_churn"]
    mult = pd.read_parquet(root / "sim" / "truth" / "offer_response.parquet")
    mult = mult.rename(columns={"offer_type": "offer"})[["subscriber_id", "offer", "p_multiplier"]]
    base = build_actions(customers, catalog=catalog, effect_model=None)
    prior_save = base["save"].to_numpy()
    base = base.merge(mult, on=["subscriber_id", "offer"], how="left").reset_index(drop=True)
    base["p_true"] = base["subscriber_id"].map(p_true)
    base["true_save"] = base["p_true"] * (1.0 - base["p_multiplier"])
    base["true_value"] = base["true_save"] * base["clv"].fillna(0) - base["cost"]
    keys = ["subscriber_id", "offer", "channel"]

    def value(save: np.ndarray) -> tuple[float, int]:
        actions = base.assign(save=save, value=save * base["clv"].fillna(0) - base["cost"])
        chosen = solve_plan(actions, budget=budget, channel_capacity=caps).chosen
        got = chosen[keys].merge(base[[*keys, "true_value"]], on=keys)
        return float(got["true_value"].sum()), len(chosen)

    def learned(model: Any) -> np.ndarray:
        save = np.zeros(len(base))
        for offer, idx in base.groupby("offer").groups.items():
            pos = base.index.get_indexer(idx)
            save[pos] = model.predict(base.iloc[pos], offer=str(offer))
        return save

    frame = uplift_training_frame(settings)
    print(
        f"plan of {month} on {root}: {len(customers)} candidates, budget {budget:,.0f}; "
        f"uplift fitted on {len(frame)} resolved members"
    )
    p_model = base["churn_probability"].to_numpy()
    offer_mean = base.groupby("offer")["p_multiplier"].transform("mean").to_numpy()
    columns: dict[str, np.ndarray] = {
        "oracle": base["true_save"].to_numpy(),
        "catalog_priors": prior_save,
    }
    for learner in LEARNERS:
        if learner != "s_learner":
            columns[learner] = learned(fit_uplift(frame, learner=learner, seed=1, priors=priors))
    relative = columns[DEFAULT_LEARNER] / np.clip(p_model, 1e-4, None)
    columns["true_p_x_default_relative_effect"] = base["p_true"].to_numpy() * relative
    columns["model_p_x_true_multiplier"] = p_model * (1.0 - base["p_multiplier"].to_numpy())
    columns["model_p_x_offer_mean_multiplier"] = p_model * (1.0 - offer_mean)
    out: dict[str, Any] = {}
    pairs = base.drop_duplicates(["subscriber_id", "offer"]).index
    for name, save in columns.items():
        total, contacts = value(save)
        by_offer = (
            pd.DataFrame({"offer": base["offer"], "pred": save, "true": base["true_save"]})
            .loc[pairs]
            .groupby("offer")[["pred", "true"]]
            .mean()
        )
        out[name] = {
            "true_value": total,
            "contacts": contacts,
            "mean_save": {o: [float(r.pred), float(r.true)] for o, r in by_offer.iterrows()},
        }
        print(f"{name:34s} true value {total:10,.0f}  contacts {contacts:5d}")
    print("mean predicted / true save per offer (candidates × eligible offers):")
    for offer in out["oracle"]["mean_save"]:
        cells = "  ".join(
            f"{name[:16]} {out[name]['mean_save'][offer][0]:.4f}"
            for name in ("catalog_priors", *(lrn for lrn in LEARNERS if lrn != "s_learner"))
        )
        print(f"  {offer:18s} true {out['oracle']['mean_save'][offer][1]:.4f}  {cells}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--rows", type=int, nargs="+", default=[3000, 8000, 20000], help="members to fit on"
    )
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument(
        "--world",
        type=Path,
        help="root of a bench/retention_value.py run: judge the learners on its campaigns",
    )
    ap.add_argument(
        "--plan",
        type=Path,
        help="root of a bench/retention_value.py run: value each learner's plan of --month",
    )
    ap.add_argument("--month", default="2025-04", help="plan month for --plan (YYYY-MM)")
    ap.add_argument("--budget", type=float, default=15_000.0, help="plan budget for --plan")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.plan is not None:
        result = judge_plan(args.plan, month=args.month, budget=args.budget)
        print(json.dumps({"plan": str(args.plan), "month": args.month, "policies": result}))
        return
    if args.world is not None:
        print(json.dumps({"world": str(args.world), "learners": judge_world(args.world)}))
        return
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for rows in args.rows:
        summary[str(rows)] = {}
        for learner in LEARNERS:
            runs = [judge(learner, rows, seed) for seed in range(1, args.seeds + 1)]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            mean["policy_min"] = float(np.min([r["policy"] for r in runs]))
            summary[str(rows)][learner] = mean
            print(
                f"{rows:6d} {learner:18s} qini {mean['qini']:+.4f}  "
                f"rank corr {mean['rank_corr']:.3f} "
                f"(within offer {mean['rank_corr_within_offer']:.3f})  policy {mean['policy']:.1%} "
                f"(min {mean['policy_min']:.1%}) of oracle (best single offer "
                f"{mean['best_single_offer']:.1%})  fit {mean['fit_s']:.1f}s"
            )
    print(json.dumps({"rows": args.rows, "seeds": args.seeds, "learners": summary}))


if __name__ == "__main__":
    main()
