"""Benchmark: the monthly batch by stage at a given size, on DuckDB or local Spark (issue 10).

Prepares once (cached in --root, default /tmp/cg-scale-N-M): simulate (in chunks of
--chunk-size subscribers when the base is larger), ingest (each chunk in turn),
train a LightGBM champion on a capped sample (a separate world of
--train-subscribers of the same simulator and seed, 2 labeled snapshots; the
champion is then registered in the benchmark workspace: training is not the batch).
Preparation is reported but is not the batch.

Then times the batch of the last month, each stage in a fresh child process:

- DuckDB: ``features`` (``features build``), ``score`` (probabilities for all,
  no reasons), ``value_warnings`` (``warn``: value, rules, levels, reasons for the
  warned only, storing in the operational database).
- Spark: one ``churnguard batch --engine spark`` child (the JVM lives in it); its
  own stage timers: ``read`` (session start, source tables), ``snapshot``,
  ``score`` (mapInPandas), ``value_warnings``, ``write``, ``sync``.

Each stage prints one JSON line: wall seconds, CPU seconds of the child, peak RSS
of the child process (``ru_maxrss``, what bench/warnings_speed.py reports) and the
peak of the whole process tree sampled from /proc every 0.2 s (Python + JVM +
Python workers: Spark's JVM is not in the child's ``ru_maxrss``).

    .venv/bin/python bench/scale_batch.py --subscribers 100000 --engine duckdb
    .venv/bin/python bench/scale_batch.py --subscribers 100000 --engine spark
    .venv/bin/python bench/scale_batch.py --subscribers 10000000 --chunk-size 1000000 \\
        --memory-limit 6GB
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

CLI = str(Path(sys.executable).with_name("churnguard"))
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants, in kB (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE_KB
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += [p for p, pp in parents.items() if pp == pid]
    return total


def run_stage(name: str, args: list[str], *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one stage in a child process; wall, CPU, peak RSS (child and tree)."""
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed: {' '.join(args)}")
    row = {
        "stage": name,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_gb": round(usage.ru_maxrss / 1024 / 1024, 3),
        "peak_tree_rss_gb": round(peak[0] / 1024 / 1024, 3),
        "load_before": round(load0, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }
    row.update(extra or {})
    row["stdout"] = out
    return row


def _cli(*args: str) -> list[str]:
    return [CLI, *args]


def _month(months: int) -> str:
    return f"{2024 + (months - 1) // 12}-{(months - 1) % 12 + 1:02d}"


def _chunks(data: Path) -> list[Path]:
    parts = sorted(data.glob("chunk-*"))
    return parts or [data]


def prepare(args: argparse.Namespace, root: Path) -> None:
    """Simulate, ingest and train once (cached under ``root``)."""
    data, ws = root / "sim", root / "ws"
    last = _month(args.months)
    prep: dict[str, Any] = {}
    if not (root / ".simulated").exists():
        cmd = _cli(
            "simulate", str(data), "--subscribers", str(args.subscribers),
            "--months", str(args.months), "--seed", str(args.seed), "--start", "2024-01",
            "--json",
        )  # fmt: skip
        if args.subscribers > args.chunk_size:
            cmd += ["--chunk-size", str(args.chunk_size)]
        prep["simulate"] = run_stage("simulate", cmd)
        (root / ".simulated").touch()
    if not (root / ".ingested").exists():
        walls, peak = 0.0, 0.0
        for part in _chunks(data):
            r = run_stage("ingest", _cli("ingest", str(part), "--workspace", str(ws), "--json"))
            walls += r["wall_s"]
            peak = max(peak, r["peak_tree_rss_gb"])
        prep["ingest"] = {"wall_s": round(walls, 1), "peak_tree_rss_gb": peak}
        (root / ".ingested").touch()
    if not (root / ".trained").exists():
        # The champion is trained on a separate small world of the same simulator and seed
        # (--train-subscribers, 2 labeled snapshots: about twice as many training rows) and
        # registered in the benchmark workspace: training is not the batch, and a 10 M
        # training set would not fit this machine.
        tsim, tws = root / "train-sim", root / "train-ws"
        run_stage(
            "train-simulate",
            _cli(
                "simulate", str(tsim), "--subscribers", str(args.train_subscribers),
                "--months", str(args.months), "--seed", str(args.seed), "--start", "2024-01",
                "--json",
            ),
        )  # fmt: skip
        run_stage("train-ingest", _cli("ingest", str(tsim), "--workspace", str(tws), "--json"))
        prep["train"] = run_stage(
            "train",
            _cli(
                "model", "train", "--as-of", _month(args.months - 2), "--families", "lightgbm",
                "--snapshots", "2", "--workspace", str(tws),
            ),
        )  # fmt: skip
        prep["train"]["champion"] = _adopt_champion(tws, ws)
        (root / ".trained").touch()
    for k, v in prep.items():
        v.pop("stdout", None)
        print(json.dumps({"prepared": k, **v, "as_of": last}), flush=True)


def _adopt_champion(src: Path, dst: Path) -> str:
    """Register ``src``'s champion (artifact copied, same checksum) as ``dst``'s champion."""
    import shutil

    import sqlalchemy as sa

    from churnguard.config import load_settings
    from churnguard.models.registry import ModelVersion
    from churnguard.warehouse.operational import session_scope

    s_src, s_dst = load_settings(src), load_settings(dst)
    with session_scope(s_src) as session:
        row = session.scalar(sa.select(ModelVersion).where(ModelVersion.status == "champion"))
        assert row is not None, "training registered no champion"
        fields = {c.name: getattr(row, c.name) for c in ModelVersion.__table__.columns}
    fields.pop("id")
    target = dst / fields["artifact_path"]
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(src / fields["artifact_path"], target)
    with session_scope(s_dst) as session:
        session.execute(sa.delete(ModelVersion).where(ModelVersion.version == fields["version"]))
        session.execute(
            sa.update(ModelVersion)
            .where(ModelVersion.status == "champion")
            .values(status="retired")
        )
        session.add(ModelVersion(**fields))
    return str(fields["version"])


def _reset(ws: Path) -> None:
    """Forget every warning (keep the registry), so the batch stores the whole month."""
    with sqlite3.connect(ws / "operational.db") as db:
        for table in ("warning_pushes", "group_warnings", "warnings"):
            db.execute(f"DELETE FROM {table}")


def _score_only(ws: str, as_of: str) -> None:
    """Child stage: probabilities for every subscriber of the stored snapshot, no reasons."""
    from churnguard.batch.duckdb_scoring import score_in_chunks
    from churnguard.config import load_settings
    from churnguard.months import parse_month

    settings = load_settings(Path(ws))
    result = score_in_chunks(settings, as_of=parse_month(as_of))  # as `churnguard batch` does
    print(json.dumps({"scored": result.rows, "chunks": result.chunks}))


def _memory_limit(ws: Path, limit: str | None) -> None:
    """Set (or clear) ``[warehouse] memory_limit`` in the workspace's churnguard.toml."""
    cfg = ws / "churnguard.toml"
    text = re.sub(r"(?ms)^\[warehouse\]\nmemory_limit = \"[^\"]*\"\n", "", cfg.read_text("utf-8"))
    if limit:
        text += f'\n[warehouse]\nmemory_limit = "{limit}"\n'
    cfg.write_text(text, encoding="utf-8")


def bench_duckdb(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    ws, last = root / "ws", _month(args.months)
    _reset(ws)
    _memory_limit(ws, args.memory_limit)
    rows = [
        run_stage("features", _cli("features", "build", "--as-of", last, "-w", str(ws))),
        run_stage(
            "score",
            [sys.executable, __file__, "--score-only", str(ws), "--as-of-child", last],
        ),
        run_stage(
            "value_warnings",
            _cli(
                "warn",
                "--as-of",
                last,
                "-w",
                str(ws),
                "--no-push",
                "--run-date",
                "2025-01-06",
                "--json",
            ),
        ),
    ]
    for r in rows:
        out = r.pop("stdout")
        if r["stage"] == "score":
            r.update(json.loads(out))
        elif r["stage"] == "value_warnings":
            d = json.loads(out)
            r.update({"scored": d["scored"], "warnings": d["warnings"], "by_level": d["by_level"]})
    return rows


def bench_spark(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    ws, last = root / "ws", _month(args.months)
    _reset(ws)
    cmd = _cli(
        "batch", "--as-of", last, "--engine", "spark", "-w", str(ws), "--no-push",
        "--run-date", "2025-01-06", "--json",
    )  # fmt: skip
    if args.spark_source == "parquet":
        cmd += ["--source", f"parquet:{root / 'sim'}"]
    row = run_stage("spark_batch", cmd, extra={"source": args.spark_source})
    d = json.loads(row.pop("stdout"))
    row.update(
        {
            "stages_s": d["stages"],
            "scored": d["scored"],
            "warnings": d["warnings"],
            "by_level": d["by_level"],
        }
    )
    return [row]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk-size", type=int, default=1_000_000)
    ap.add_argument(
        "--train-subscribers",
        type=int,
        default=50_000,
        help="size of the separate world the champion is trained on (training is not the batch)",
    )
    ap.add_argument(
        "--spark-source",
        choices=("parquet", "warehouse"),
        default="parquet",
        help="Spark reads the simulator's Parquet files, or an export of the DuckDB warehouse",
    )
    ap.add_argument(
        "--memory-limit",
        default=None,
        help="DuckDB: [warehouse] memory_limit for the timed stages, e.g. 6GB (8 GB target)",
    )
    ap.add_argument("--root", type=Path, default=None, help="cache [default: /tmp/cg-scale-N-M]")
    ap.add_argument(
        "--prepare-only", action="store_true", help="simulate, ingest and train, then stop"
    )
    ap.add_argument("--score-only", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--as-of-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.score_only:
        _score_only(args.score_only, args.as_of_child)
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    root = args.root or Path(f"/tmp/cg-scale-{args.subscribers}-{args.months}")
    root.mkdir(parents=True, exist_ok=True)
    prepare(args, root)
    if args.prepare_only:
        return
    rows = bench_duckdb(args, root) if args.engine == "duckdb" else bench_spark(args, root)
    total = 0.0
    for r in rows:
        total += r["wall_s"]
        print(json.dumps({"subscribers": args.subscribers, "engine": args.engine, **r}), flush=True)
    print(
        json.dumps(
            {
                "subscribers": args.subscribers,
                "engine": args.engine,
                "batch_wall_s": round(total, 1),
                "peak_tree_rss_gb": max(r["peak_tree_rss_gb"] for r in rows),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
