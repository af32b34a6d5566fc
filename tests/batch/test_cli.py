"""``churnguard batch`` from the shell: the DuckDB batch end to end; mistakes as one red line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.conftest import CLI


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def test_duckdb_batch_json(warned_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    out = run(
        "batch", "--as-of", "2024-10", "--engine", "duckdb", "--run-date", "2024-11-01",
        "--no-push", "--json", "-w", str(ws),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["engine"] == "duckdb" and d["as_of"] == "2024-10"
    assert d["scored"] > 2000 and d["warnings"] == sum(d["by_level"].values()) > 100
    assert set(d["stages"]) == {"snapshot", "score", "value_warnings"}
    assert d["stored"]["new"] + d["stored"]["escalated"] + d["stored"]["rewarned"] > 0
    assert d["explained"] == d["warnings"]


def test_user_mistakes_are_one_red_line(warned_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    cases = [
        (["--engine", "flink"], "unknown engine 'flink'"),
        (["--engine", "duckdb", "--source", "parquet:/data"], "for --engine spark"),
        (["--engine", "spark", "--source", "hdfs:/x"], "is not a location"),
        (["--engine", "spark", "--model-access", "ftp"], "unknown --model-access"),
        (["--engine", "duckdb", "--run-date", "tomorrow"], "is not a day"),
    ]
    for extra, message in cases:
        out = run("batch", "--as-of", "2024-10", "-w", str(ws), *extra)
        assert out.returncode == 1, (extra, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    bare = tmp_path / "bare"
    assert run("init", "-w", str(bare)).returncode == 0
    out = run("batch", "--as-of", "2024-10", "-w", str(bare))
    assert out.returncode == 1 and "no champion model" in out.stderr
