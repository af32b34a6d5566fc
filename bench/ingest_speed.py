"""Benchmark: ingest a simulated operator (all contract tables) into a fresh warehouse.

Usage::

    .venv/bin/python bench/ingest_speed.py --subscribers 1000000 --months 12 \
        --data /tmp/cg-bench-1m --memory-limit 4GB

Generates the data once with the simulator (kept in ``--data`` for later runs),
then times, each in a fresh process: the first ingest into an empty workspace
and a re-ingest of the same files (idempotent: every row unchanged). Prints one
JSON line per run with wall time, rows read/s and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _generate(args: argparse.Namespace) -> None:
    from churnguard.simulate import simulate

    done = args.data / ".bench-done"
    if done.exists():
        return
    started = time.perf_counter()
    simulate(
        args.data,
        subscribers=args.subscribers,
        months=args.months,
        seed=args.seed,
        start=date(2024, 1, 1),
        dirty_rate=args.dirty_rate,
        fmt=args.fmt,
    )
    done.write_text(f"{time.perf_counter() - started:.1f}\n")


def _ingest_once(args: argparse.Namespace) -> None:
    from churnguard.config import load_settings
    from churnguard.ingest import ingest

    overrides = {"warehouse": {"memory_limit": args.memory_limit}} if args.memory_limit else {}
    settings = load_settings(args.workspace, create=True, overrides=overrides)
    started = time.perf_counter()
    report = ingest(
        args.data,
        settings=settings,
        as_of=date(2024, 1, 1).replace(
            year=2024 + (args.months - 1) // 12, month=(args.months - 1) % 12 + 1
        ),
    )
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = usage.ru_maxrss / 1024
    totals = report.to_dict()["totals"]
    size = sum(p.stat().st_size for p in args.data.glob("*.*") if p.is_file())
    print(
        json.dumps(
            {
                "run": args.label,
                "seconds": round(wall, 1),
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
                "load_average_1min": round(os.getloadavg()[0], 1),
                "rows_read": totals["read"],
                "rows_per_second": round(totals["read"] / wall),
                "loaded": totals["loaded"],
                "unchanged": totals["unchanged"],
                "quarantined": totals["quarantined"],
                "peak_rss_mb": round(rss_mb),
                "input_mb": round(size / 2**20),
                "warehouse_mb": round(settings.warehouse_path.stat().st_size / 2**20),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=100_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dirty-rate", type=float, default=0.01)
    p.add_argument("--fmt", choices=("parquet", "csv"), default="parquet")
    p.add_argument("--data", type=Path, default=None, help="data folder (kept for reuse)")
    p.add_argument("--memory-limit", default=None, help="DuckDB memory limit, e.g. 4GB")
    p.add_argument("--workspace", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--label", default="first", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.data is None:
        args.data = Path(tempfile.gettempdir()) / (
            f"cg-bench-{args.subscribers}-{args.months}-{args.fmt}-{args.seed}"
        )
    if args.child:
        _ingest_once(args)
        return
    _generate(args)
    print(json.dumps({"generated_in_s": float((args.data / ".bench-done").read_text())}))
    with tempfile.TemporaryDirectory(prefix="cg-bench-ws-") as ws:
        base = [
            sys.executable,
            __file__,
            "--child",
            "--data",
            str(args.data),
            "--workspace",
            str(Path(ws) / "ws"),
            "--months",
            str(args.months),
        ]
        if args.memory_limit:
            base += ["--memory-limit", args.memory_limit]
        for label in ("first", "re-ingest"):
            subprocess.run([*base, "--label", label], check=True)


if __name__ == "__main__":
    main()
