"""Benchmark of the synthetic operator: wall time, peak memory and rows per second.

Usage::

    .venv/bin/python bench/simulate_speed.py --subscribers 1000000 --months 24 [--out DIR]

Prints one line per setting and the 1-minute load average before and after
(other processes share the CPU). The output folder is deleted afterwards
unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from churnguard.simulate import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    ap.add_argument("--dirty-rate", type=float, default=0.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cg-sim-bench-")) / "op"
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    summary = simulate(
        out,
        subscribers=args.subscribers,
        months=args.months,
        seed=args.seed,
        fmt=args.format,
        dirty_rate=args.dirty_rate,
    )
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = sum(summary.rows.values())
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(
        f"subscribers={args.subscribers} months={args.months} format={args.format} "
        f"dirty_rate={args.dirty_rate}"
    )
    print(
        f"time_s={seconds:.1f} cpu_s={cpu:.1f} peak_rss_mb={peak_mb:.0f} rows={rows} "
        f"rows_per_s={rows / seconds:,.0f}"
    )
    print(
        f"output_mb={size_mb:.0f} median_voluntary_churn={summary.median_voluntary_churn:.4f} "
        f"bayes_auc={summary.bayes_auc:.3f}"
    )
    print(
        f"load_1min before={load_before:.2f} after={os.getloadavg()[0]:.2f} cpus={os.cpu_count()}"
    )
    if not args.keep:
        shutil.rmtree(out.parent if args.out is None else out)


if __name__ == "__main__":
    main()
