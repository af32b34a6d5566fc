"""Benchmark: how much of the oracle's retention value any learner could reach on this world.

``bench/retention_value.py`` judges our plan against an oracle that knows each
customer's true churn probability *and* true response to every offer. This script
bounds what is learnable: on the workspace that benchmark leaves behind, it plans
the same evaluation month under the same budget and channel capacities with
expected saves built from

- the truth (the oracle),
- our churn model's probability × the true per-customer multiplier (perfect uplift),
- our probability × the best function of the snapshot's features for each offer's
  true multiplier (a LightGBM regressor fitted on the *exact* multipliers of other
  subscribers, 2-fold cross-fitted by subscriber — far more and cleaner data than any
  campaign's binary outcomes can give: the ceiling of a learner on these features),
- our probability × each offer's mean true multiplier,
- the catalog's priors (what ``retention_value.py`` calls ``priors``),

and values each plan with the truth (Σ p_true × (1 − m_true) × CLV − cost).

    .venv/bin/python bench/retention_value.py --root /tmp/cg-retention-bench
    .venv/bin/python bench/retention_ceiling.py --root /tmp/cg-retention-bench

The last line of output is JSON with each plan's value and its share of the oracle.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from churnguard.config import load_settings
from churnguard.features import load_snapshot
from churnguard.retention.actions import build_actions
from churnguard.retention.catalog import load_catalog
from churnguard.retention.optimizer import solve_plan
from churnguard.retention.planning import candidates
from retention_value import _first_workday, _true_value, _truth


def _evaluation_month(ws: Path) -> date:
    import duckdb

    con = duckdb.connect(str(ws / "warehouse.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT max(as_of) FROM scores").fetchall()[0][0]
    finally:
        con.close()
    return got if isinstance(got, date) else date.fromisoformat(str(got)[:10])


def _feature_matrix(snap: pd.DataFrame) -> pd.DataFrame:
    x = snap.drop(columns=["subscriber_id"])
    x = x.drop(columns=[c for c in x.columns if str(x[c].dtype).startswith("datetime")])
    for c in x.columns:
        if x[c].dtype == object or str(x[c].dtype).startswith(("string", "category")):
            x[c] = x[c].astype("category")
        elif x[c].dtype == bool:
            x[c] = x[c].astype(float)
    return x


def _learned_multipliers(snap: pd.DataFrame, mult: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Cross-fitted E[m | features] per subscriber × offer from the exact multipliers."""
    import lightgbm as lgb

    x = _feature_matrix(snap).reset_index(drop=True)
    ids = snap["subscriber_id"].reset_index(drop=True)
    fold = (pd.util.hash_pandas_object(ids, index=False).to_numpy() % 2).astype(int)
    out = []
    for offer, grp in mult.groupby("offer_type"):
        y = ids.map(grp.set_index("subscriber_id")["p_multiplier"])
        known = y.notna().to_numpy()
        pred = np.full(len(ids), np.nan)
        for k in (0, 1):
            train = known & (fold != k)
            model = lgb.LGBMRegressor(
                n_estimators=300,
                learning_rate=0.05,
                num_leaves=31,
                min_child_samples=40,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                random_state=seed,
                verbose=-1,
                n_jobs=2,
            )
            model.fit(x[train], np.log(y[train].to_numpy()))
            pred[fold == k] = np.exp(model.predict(x[fold == k]))
        out.append(pd.DataFrame({"subscriber_id": ids, "offer": offer, "m_hat": pred}))
    return pd.concat(out, ignore_index=True)


def _plan_value(
    actions: pd.DataFrame,
    p: np.ndarray,
    m: np.ndarray,
    *,
    budget: float,
    caps: dict[str, int],
    p_true: pd.Series,
    mult: pd.DataFrame,
) -> tuple[float, int]:
    df = actions.copy()
    df["save"] = p * (1.0 - m)
    df["value"] = df["save"] * df["clv"].fillna(0) - df["cost"]
    chosen = solve_plan(df, budget=budget, channel_capacity=caps).chosen
    return _true_value(chosen, p_true, mult), len(chosen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("/tmp/cg-retention-bench"))
    ap.add_argument(
        "--subscribers", type=int, default=30_000, help="as given to retention_value.py"
    )
    ap.add_argument("--budget-per-subscriber", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    sim, ws = args.root / "sim", args.root / "ws"
    settings = load_settings(ws)
    month = _evaluation_month(ws)
    cands, _ = candidates(settings, as_of=month, run_date=_first_workday(month))
    catalog = load_catalog(workspace=settings.workspace)
    caps = {c.code: c.capacity * settings.retention.contact_days for c in catalog.channels}
    budget = args.budget_per_subscriber * args.subscribers
    p_true, mult = _truth(sim, month)
    snap = load_snapshot(settings, as_of=month)
    learned = _learned_multipliers(snap, mult, seed=args.seed)

    actions = build_actions(cands, catalog=catalog)
    mm = mult.rename(columns={"offer_type": "offer"})[["subscriber_id", "offer", "p_multiplier"]]
    a = actions.merge(mm, on=["subscriber_id", "offer"], how="left").merge(
        learned, on=["subscriber_id", "offer"], how="left"
    )
    mean_m = a.groupby("offer")["p_multiplier"].transform("mean")
    p_model = a["churn_probability"].to_numpy(dtype=float)
    p_t = a["subscriber_id"].map(p_true).fillna(0.0).to_numpy()
    m_true = a["p_multiplier"].fillna(1.0).to_numpy()
    m_hat = a["m_hat"].fillna(1.0).to_numpy()
    base = a.drop(columns=["p_multiplier", "m_hat"])
    kw = {"budget": budget, "caps": caps, "p_true": p_true, "mult": mult}
    rows = {
        "oracle (true p x true m)": _plan_value(base, p_t, m_true, **kw),
        "true p x E[m | features]": _plan_value(base, p_t, m_hat, **kw),
        "model p x true m": _plan_value(base, p_model, m_true, **kw),
        "model p x E[m | features]": _plan_value(base, p_model, m_hat, **kw),
        "model p x offer-mean true m": _plan_value(base, p_model, mean_m.to_numpy(), **kw),
    }
    priors = solve_plan(actions, budget=budget, channel_capacity=caps).chosen
    rows["catalog priors"] = (_true_value(priors, p_true, mult), len(priors))
    oracle = rows["oracle (true p x true m)"][0]
    r2 = 1 - np.nanmean((np.log(m_hat) - np.log(m_true)) ** 2) / np.nanvar(np.log(m_true))
    print(f"evaluation month {month:%Y-%m}: {len(cands)} candidates, budget {budget:,.0f}")
    print(f"E[m | features] explains {r2:.1%} of the variance of log m (candidates' actions)")
    print(f"{'expected save used to plan':<32} {'true value':>12} {'of oracle':>10} contacts")
    for name, (value, n) in rows.items():
        print(f"{name:<32} {value:>12,.0f} {value / oracle:>10.1%} {n:>9,}")
    result = {k: round(v, 1) for k, (v, _n) in rows.items()}
    result.update(
        as_of=f"{month:%Y-%m}",
        candidates=len(cands),
        r2_log_multiplier=round(float(r2), 4),
        seconds=round(time.perf_counter() - t0, 1),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
