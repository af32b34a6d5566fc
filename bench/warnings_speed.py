"""Benchmark: scoring, value and warnings for a whole simulated base (issue 6 target: 1 M ≤ 30 s).

Prepares once (cached in --root): simulate, ingest, train a LightGBM champion on
a few labeled snapshots (training rows capped), build the as-of snapshot. Then
times the monthly run that the target is about: ``warn`` on a month not scored yet
(probabilities for everyone with the champion, value, rules, levels, routing,
explanations for the warned customers only, storing), then — for reference —
``score`` alone with reasons for the riskiest ``models.explain_share``.

    .venv/bin/python bench/warnings_speed.py --subscribers 1000000 --months 12

Prints one JSON line per stage and a summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("churnguard"))


def _run(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([CLI, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _peak_child_gb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--root", type=Path, default=None, help="cache folder [default: /tmp]")
    args = ap.parse_args()
    root = args.root or Path(f"/tmp/cg-warn-bench-{args.subscribers}-{args.months}")
    data, ws = root / "sim", root / "ws"
    last = f"{2024 + (args.months - 1) // 12}-{(args.months - 1) % 12 + 1:02d}"
    if not (root / ".prepared").exists():
        root.mkdir(parents=True, exist_ok=True)
        prep = {}
        if not (data / "subscribers.parquet").exists():
            prep["simulate"] = _run(
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
            )
        if not (ws / "warehouse.duckdb").exists():
            prep["ingest"] = _run("ingest", str(data), "--workspace", str(ws))
        cfg = ws / "churnguard.toml"
        text = re.sub(
            r"(?m)^max_train_rows = \d+$",
            "max_train_rows = 200000",
            cfg.read_text(encoding="utf-8"),
        )
        cfg.write_text(text, encoding="utf-8")
        prep["train"] = _run(
            "model",
            "train",
            "--as-of",
            last,
            "--families",
            "lightgbm",
            "--snapshots",
            "3",
            "--workspace",
            str(ws),
        )
        prep["snapshot"] = _run("features", "build", "--as-of", last, "--workspace", str(ws))
        print(json.dumps({"prepared": {k: round(v, 1) for k, v in prep.items()}}))
        (root / ".prepared").touch()
    load0 = os.getloadavg()[0]
    # The monthly run the target is about: `warn` on a month not yet scored scores every
    # subscriber (probabilities only), computes value, rules and levels, explains only
    # the customers it warns, and stores the warnings.
    _reset(ws, last)
    warn_s = _run(
        "warn", "--as-of", last, "--workspace", str(ws), "--no-push", "--run-date", "2025-01-06"
    )
    warn_rss = _peak_child_gb()
    stored = _count(ws, last)
    # For reference: `score` alone with reasons for the riskiest share (models.explain_share).
    score_s = _run("score", "--as-of", last, "--workspace", str(ws))
    rows = {
        "subscribers": args.subscribers,
        "warn_s": round(warn_s, 1),
        "warned": stored["warned"],
        "explained": stored["explained"],
        "scored": stored["scored"],
        "score_with_reasons_s": round(score_s, 1),
        "peak_rss_gb": round(warn_rss, 2),
        "load_before": round(load0, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(rows))


def _reset(ws: Path, last: str) -> None:
    """Forget the month's scores and every warning, so `warn` does the whole month's work."""
    import duckdb

    con = duckdb.connect(str(ws / "warehouse.duckdb"))
    try:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        if "scores" in tables:
            con.execute("DELETE FROM scores WHERE as_of = ?", [f"{last}-01"])
    finally:
        con.close()
    import sqlite3

    with sqlite3.connect(ws / "operational.db") as db:  # keep the model registry
        for table in ("warning_pushes", "group_warnings", "warnings"):
            db.execute(f"DELETE FROM {table}")


def _count(ws: Path, last: str) -> dict[str, int]:
    import sqlite3

    import duckdb

    con = duckdb.connect(str(ws / "warehouse.duckdb"), read_only=True)
    try:
        scored, explained = con.execute(
            "SELECT count(*), count(top_reasons_en) FROM scores WHERE as_of = ?", [f"{last}-01"]
        ).fetchall()[0]
    finally:
        con.close()
    with sqlite3.connect(ws / "operational.db") as db:
        warned = db.execute("SELECT count(*) FROM warnings").fetchone()[0]
    return {"scored": int(scored), "explained": int(explained), "warned": int(warned)}


if __name__ == "__main__":
    main()
