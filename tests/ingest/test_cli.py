"""The ``ingest`` and ``quarantine`` commands, run as an operator would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from churnguard.cli import main
from tests.conftest import CLI

from .batches import SUBSCRIBERS, batch

USAGE = [
    ["subscriber_id", "month", "voice_minutes"],
    ["S1", "2024-01-01", "5"],
    ["S1", "2024-02-01", "-5"],
    ["S7", "2024-01-01", "5"],
]


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> object:
    """Run the CLI in this process (fast); returns (exit code, stdout, stderr)."""

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "argv", ["churnguard", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return _run


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def test_ingest_json_then_reingest(tmp_path: Path, run: Any) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=USAGE)
    ws = tmp_path / "new-ws"  # created on the fly
    first = _run("ingest", str(folder), "--workspace", str(ws), "--as-of", "2024-06", "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["as_of"] == "2024-06"
    assert out["tables"]["usage"] == {
        "read": 3,
        "loaded": 1,
        "updated": 0,
        "unchanged": 0,
        "quarantined": 2,
        "reasons": {"out_of_range": 1, "unknown_subscriber": 1},
        "new_quarantine_entries": 2,
        "extra_columns": [],
        "ignored_columns": [],
    }
    second = json.loads(
        run("ingest", str(folder), "-w", str(ws), "--as-of", "2024-06", "--json").stdout
    )
    assert second["totals"]["loaded"] == second["totals"]["updated"] == 0
    assert second["batch_id"] != out["batch_id"]

    listed = json.loads(run("quarantine", "list", "-w", str(ws), "--json").stdout)
    assert {(c["table"], c["reason"], c["rows"]) for c in listed["counts"]} == {
        ("usage", "out_of_range", 1),
        ("usage", "unknown_subscriber", 1),
    }
    table = run("quarantine", "list", "-w", str(ws))
    assert "用户不存在" in table.stdout and "out_of_range" in table.stdout

    shown = run("quarantine", "show", "-w", str(ws), "--reason", "unknown_subscriber")
    assert shown.returncode == 0 and "usage.csv:3" in shown.stdout

    export = tmp_path / "q.csv"
    done = run("quarantine", "export", "-w", str(ws), "--table", "usage", "--out", str(export))
    assert done.returncode == 0 and export.read_text().count("\n") == 3


def test_ingest_prints_reconciliation(tmp_path: Path, run: Any) -> None:
    folder = batch(tmp_path / "b", subscribers=SUBSCRIBERS, usage=USAGE)
    result = run("ingest", str(folder), "-w", str(tmp_path / "ws"), "--as-of", "2024-06")
    assert result.returncode == 0, result.stderr
    assert "对账" in result.stdout and "quarantined" in result.stdout
    assert "churnguard quarantine list" in result.stdout


def test_errors_are_one_red_line(tmp_path: Path) -> None:
    result = _run("ingest", str(tmp_path / "missing"), "-w", str(tmp_path / "ws"))
    assert result.returncode == 1
    assert "error:" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_as_of(tmp_path: Path, run: Any) -> None:
    bad = run("ingest", str(tmp_path), "-w", str(tmp_path / "ws"), "--as-of", "June")
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr
