"""Benchmark: LightGBM's own predictor vs the compiled evaluator, and path vs SHAP reasons.

Usage::

    .venv/bin/python bench/compiled_trees.py --workspace /tmp/cg-warn-bench-1000000-12/ws \\
        --as-of 2024-12

Reads (never writes) a workspace with a trained LightGBM model and a stored
feature snapshot. The model is the newest directory under ``<workspace>/models``
unless ``--model`` names one. ``X`` is built as ``LightGBMFamily`` builds it
(column-major). For 1 and 2 threads it times, on every snapshot row:

- ``lgb_predict``: ``booster.predict(X, raw_score=True)`` (on a row-major copy);
- ``compiled_raw``: :meth:`CompiledEnsemble.raw_scores` (checked equal to the above);
- ``compiled_path``: :meth:`CompiledEnsemble.contributions` (path attributions);
- ``pred_contrib``: exact TreeSHAP on ``--shap-rows`` rows (it is ~1,000× slower).

Then it compares the reasons the two explanations give (the features with the
largest positive contribution, as ``churnguard.models.reasons`` ranks them) on
``--shap-rows`` random rows and on the ``--shap-rows`` riskiest rows: top-1 agreement,
and the share of SHAP's top-3 features found in the path top-3. Finally it times the
numba compile on first use in fresh processes, with an empty cache and with a warm
one. One JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

_COMPILE_PROBE = """
import json, time, numpy as np
t0 = time.perf_counter()
from churnguard.models.compiled import CompiledEnsemble, kernel_caching
t1 = time.perf_counter()
import lightgbm as lgb
b = lgb.Booster(model_file={model!r})
m = CompiledEnsemble.from_booster(b)
x = np.zeros((1000, m.n_features), order="F")  # the layout LightGBMFamily builds
t2 = time.perf_counter(); m.raw_scores(np.zeros((50, m.n_features), order="F"), threads=1)
t3 = time.perf_counter()
m.raw_scores(x, threads=2); t4 = time.perf_counter()
m.contributions(x, threads=2); t5 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "serial_first_call_s": t3 - t2,
                  "parallel_first_call_s": t4 - t3, "contrib_first_call_s": t5 - t4,
                  "cached": kernel_caching()}}))
"""


def _emit(**row: Any) -> None:
    print(json.dumps(row), flush=True)


def _timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _top(values: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-values, axis=1, kind="stable")[:, :k]


def _agreement(path: np.ndarray, shap: np.ndarray) -> dict[str, float]:
    p3, s3 = _top(path, 3), _top(shap, 3)
    overlap = np.mean([len(set(a) & set(b)) / 3 for a, b in zip(p3, s3, strict=True)])
    return {
        "top1_agreement": round(float(np.mean(p3[:, 0] == s3[:, 0])), 4),
        "top1_in_shap_top3": round(float(np.mean((s3 == p3[:, [0]]).any(axis=1))), 4),
        "top3_overlap": round(float(overlap), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("/tmp/cg-warn-bench-1000000-12/ws"))
    ap.add_argument("--as-of", default="2024-12")
    ap.add_argument("--model", type=Path, default=None, help="model directory (default: newest)")
    ap.add_argument("--rows", type=int, default=0, help="use the first N rows (0: all)")
    ap.add_argument("--shap-rows", type=int, default=5000)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    from churnguard.config import load_settings
    from churnguard.features import load_snapshot
    from churnguard.models.artifacts import load_model
    from churnguard.models.compiled import CompiledEnsemble
    from churnguard.models.families import LightGBMFamily
    from churnguard.models.preprocessing import prepare_frame

    settings = load_settings(args.workspace)
    model_dir = args.model or max(
        (p for p in (args.workspace / "models").iterdir() if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
    )
    model = load_model(model_dir, threads=1)
    family = model.family
    if not isinstance(family, LightGBMFamily):
        raise SystemExit(f"{model_dir} is a {family.code} model; this benchmark needs lightgbm")
    snap, secs = _timed(lambda: load_snapshot(settings, as_of=args.as_of))
    if args.rows:
        snap = snap.iloc[: args.rows]
    x, msecs = _timed(lambda: family._matrix(prepare_frame(snap, model.plan)))
    booster = family.booster_
    compiled, build = _timed(lambda: CompiledEnsemble.from_booster(booster))
    _emit(
        step="setup",
        model=str(model_dir),
        rows=int(x.shape[0]),
        features=int(x.shape[1]),
        trees=compiled.n_trees,
        mean_depth=round(float(compiled.depths.mean()), 2),
        nan_share=round(float(np.isnan(x).mean()), 4),
        snapshot_s=round(secs, 2),
        matrix_s=round(msecs, 2),
        rebuild_from_booster_s=round(build, 3),
        load_avg=os.getloadavg()[0],
    )
    compiled.raw_scores(x[:1000], threads=2)  # compile (or load the cached kernels) first
    compiled.contributions(x[:1000], threads=2)
    n = x.shape[0]
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(args.shap_rows, n), replace=False))
    raw_ref: np.ndarray | None = None
    # LightGBM gets a row-major copy (it would copy the column-major matrix itself)
    x_rows = np.ascontiguousarray(x)
    for threads in (int(t) for t in args.threads.split(",")):
        ref, t_lgb = _timed(
            lambda th=threads: booster.predict(x_rows, raw_score=True, num_threads=th)
        )
        raw, t_raw = _timed(lambda th=threads: compiled.raw_scores(x, threads=th))
        path, t_path = _timed(lambda th=threads: compiled.contributions(x, threads=th))
        _, t_shap = _timed(
            lambda th=threads: booster.predict(x_rows[sample], pred_contrib=True, num_threads=th)
        )
        raw_ref = ref
        diff = float(np.max(np.abs(raw - ref)))
        additive = float(np.max(np.abs(path.sum(axis=1) - raw)))
        del path
        for step, seconds, rows in (
            ("lgb_predict", t_lgb, n),
            ("compiled_raw", t_raw, n),
            ("compiled_path", t_path, n),
            ("pred_contrib", t_shap, len(sample)),
        ):
            _emit(
                step=step,
                threads=threads,
                rows=rows,
                seconds=round(seconds, 3),
                rows_per_s=round(rows / seconds),
                load_avg=os.getloadavg()[0],
            )
        _emit(
            step="exactness",
            threads=threads,
            max_abs_diff_vs_lgb=diff,
            max_additivity_error=additive,
            speedup_raw=round(t_lgb / t_raw, 2),
        )
    assert raw_ref is not None
    riskiest = np.sort(np.argsort(-raw_ref, kind="stable")[: len(sample)])
    for label, rows in (("random", sample), ("riskiest", riskiest)):
        path = compiled.contributions(x[rows], threads=2)[:, :-1]
        shap = booster.predict(x[rows], pred_contrib=True, num_threads=2)[:, :-1]
        _emit(step="reason_agreement", sample=label, rows=len(rows), **_agreement(path, shap))

    model_file = str(model_dir / "family" / "model.lgb.txt")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold_cache", "warm_cache"):
            out = subprocess.run(
                [sys.executable, "-c", _COMPILE_PROBE.format(model=model_file)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            probe = json.loads(out.strip().splitlines()[-1])
            _emit(step="compile", cache=label, **probe)


if __name__ == "__main__":
    main()
