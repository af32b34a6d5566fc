"""Benchmark: one feature snapshot on DuckDB, on local Spark, and in plain pandas.

Usage::

    .venv/bin/python bench/features_speed.py --subscribers 1000000 --months 12

Generates the operator once with the simulator (kept in ``--data``), loads its
contract tables into a fresh DuckDB warehouse, then times for the last month:

- ``duckdb``: ``build_snapshot(engine="duckdb")``, everything included (reading
  the warehouse, computing all catalog features, storing ``feature_snapshots``);
- ``pandas``: a straightforward pandas implementation of the same features
  (``bench/features_pandas.py``) on DataFrames already in memory (reading the
  Parquet files is not counted), checked feature by feature against DuckDB;
- ``spark``: ``build_snapshot(engine="spark")`` (export to Parquet, local
  PySpark, result loaded back), unless ``--skip-spark``.

Prints one JSON line per measurement and a summary line with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _generate(args: argparse.Namespace) -> None:
    from churnguard.simulate import simulate

    done = args.data / ".bench-done"
    if done.exists():
        return
    started = time.perf_counter()
    simulate(
        args.data, subscribers=args.subscribers, months=args.months, seed=args.seed,
        start=date(2024, 1, 1),
    )  # fmt: skip
    done.write_text(f"{time.perf_counter() - started:.1f}\n")


def _load_warehouse(args: argparse.Namespace) -> object:
    """A fresh workspace whose warehouse holds the Parquet files, typed as the contract says."""
    import duckdb

    from churnguard.config import load_settings
    from churnguard.contract import TABLES

    ws = args.data.parent / f"{args.data.name}-ws"
    settings = load_settings(ws, create=True)
    if settings.warehouse_path.exists():
        if args.reuse_warehouse:
            return settings
        settings.warehouse_path.unlink()
    con = duckdb.connect(str(settings.warehouse_path))
    for name, schema in TABLES.items():
        path = args.data / f"{name}.parquet"
        if not path.exists():
            continue
        have = {
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        }
        cols = ", ".join(
            (f'CAST("{c.name}" AS {c.type.sql}) AS "{c.name}"' if c.name in have
             else f'CAST(NULL AS {c.type.sql}) AS "{c.name}"')
            for c in schema.columns
        )  # fmt: skip
        con.execute(f"CREATE TABLE {name} AS SELECT {cols} FROM read_parquet('{path}')")
    con.close()
    return settings


def _emit(**row: object) -> None:
    print(json.dumps(row), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--skip-spark", action="store_true")
    p.add_argument("--skip-pandas", action="store_true")
    p.add_argument(
        "--reuse-warehouse", action="store_true", help="keep the warehouse of an earlier run"
    )
    args = p.parse_args()
    args.data = args.data or Path(f"/tmp/cg-features-bench-{args.subscribers}-{args.months}")
    args.data.mkdir(parents=True, exist_ok=True)

    from churnguard.features import CATALOG, build_snapshot, load_snapshot

    t0 = time.perf_counter()
    _generate(args)
    _emit(step="generate", seconds=round(time.perf_counter() - t0, 1), data=str(args.data))
    t0 = time.perf_counter()
    settings = _load_warehouse(args)
    _emit(step="load_warehouse", seconds=round(time.perf_counter() - t0, 1))
    i = args.months - 1
    as_of = date(2024 + i // 12, i % 12 + 1, 1)

    results: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for run in ("duckdb (first)", "duckdb (again)"):
        c0 = time.process_time()  # all threads of this process: DuckDB's included
        info = build_snapshot(settings, as_of=as_of, engine="duckdb")  # type: ignore[arg-type]
        cpu[run] = time.process_time() - c0
        results[run] = info.seconds
        _emit(step=run, seconds=round(info.seconds, 2), cpu_seconds=round(cpu[run], 1),
              load_avg_1m=os.getloadavg()[0], subscribers=info.subscribers,
              features=info.features)  # fmt: skip
    duck = load_snapshot(settings, as_of=as_of).set_index("subscriber_id")  # type: ignore[arg-type]

    if not args.skip_pandas:
        import pandas as pd

        from churnguard.contract import TABLES
        from features_pandas import apply_services, pandas_snapshot

        frames = {
            n: pd.read_parquet(args.data / f"{n}.parquet") for n in TABLES
            if (args.data / f"{n}.parquet").exists()
        }  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        out = pandas_snapshot(frames, as_of)
        out = apply_services(out, {f.name: f.services for f in CATALOG})
        seconds = time.perf_counter() - t0
        cpu["pandas"] = time.process_time() - c0
        results["pandas"] = seconds
        out = out.reindex(duck.index)
        differ = []
        for f in CATALOG:
            a, b = duck[f.name], out[f.name]
            if f.categorical:
                same = a.fillna("").astype(str).equals(b.fillna("").astype(str))
            else:
                x, y = a.astype(float).to_numpy(), b.astype(float).to_numpy()
                nan = np.isnan(x)
                same = np.array_equal(nan, np.isnan(y)) and np.allclose(
                    x[~nan], y[~nan], rtol=1e-6, atol=1e-9
                )
            if not same:
                differ.append(f.name)
        _emit(step="pandas", seconds=round(seconds, 2), cpu_seconds=round(cpu["pandas"], 1),
              load_avg_1m=os.getloadavg()[0], features_differing=differ)  # fmt: skip
        del frames, out

    if not args.skip_spark:
        info = build_snapshot(settings, as_of=as_of, engine="spark")  # type: ignore[arg-type]
        results["spark"] = info.seconds
        spark = load_snapshot(settings, as_of=as_of).set_index("subscriber_id")  # type: ignore[arg-type]
        numeric = [f.name for f in CATALOG if not f.categorical]
        x, y = duck[numeric].to_numpy(float), spark.loc[duck.index, numeric].to_numpy(float)
        nan = np.isnan(x)
        close = (nan == np.isnan(y)) & (nan | np.isclose(x, y, rtol=1e-9, atol=1e-9))
        spark_differ = [numeric[j] for j in np.flatnonzero(~close.all(axis=0))]
        _emit(step="spark", seconds=round(info.seconds, 2), load_avg_1m=os.getloadavg()[0],
              subscribers=info.subscribers, features_differing=spark_differ)  # fmt: skip

    best = min(results["duckdb (first)"], results["duckdb (again)"])
    _emit(
        step="summary",
        subscribers=args.subscribers,
        months=args.months,
        as_of=f"{as_of:%Y-%m}",
        duckdb_seconds=round(best, 2),
        pandas_seconds=round(results.get("pandas", float("nan")), 2),
        pandas_over_duckdb=round(results.get("pandas", float("nan")) / best, 1),
        pandas_over_duckdb_cpu=round(
            cpu.get("pandas", float("nan")) / min(cpu["duckdb (first)"], cpu["duckdb (again)"]), 1
        ),
        spark_seconds=round(results.get("spark", float("nan")), 2),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )


if __name__ == "__main__":
    main()
