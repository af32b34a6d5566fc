"""The win-back, care and team-performance commands on the shared simulated operator."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def ws(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    dst = tmp_path_factory.mktemp("cli-wb") / "ws"
    shutil.copytree(warned_ws, dst)
    return str(dst)


def test_winback_care_and_team_kpis_from_the_command_line(ws: str) -> None:
    out = run(
        "winback",
        "plan",
        "--as-of",
        "2024-11",
        "--budget",
        "2000",
        "--run-date",
        "2024-12-01",
        "--json",
        "-w",
        ws,
    )
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert plan["purpose"] == "winback" and plan["treated"] > 0
    assert sum(s["customers"] for s in plan["segments"]) >= plan["candidates"]

    listed = run("care", "list", "--json", "-w", ws)
    assert listed.returncode == 0 and "renewal_reminder" in listed.stdout
    care = run(
        "care",
        "run",
        "renewal_reminder",
        "--as-of",
        "2024-09",
        "--run-date",
        "2024-10-01",
        "--holdout",
        "0.5",
        "-w",
        ws,
    )
    assert care.returncode == 0, care.stderr
    assert "care program renewal_reminder" in care.stdout and "holdout" in care.stdout

    team = run("kpi", "--by", "team", "--json", "-w", ws)
    assert team.returncode == 0, team.stderr
    rows = json.loads(team.stdout)["teams"]
    wb = next(r for r in rows if r["team"] == "winback_team")
    assert wb["winback_contacts"] == plan["treated"]
    care_row = next(r for r in rows if r["team"] == "care_team")
    assert care_row["retention_contacts"] > 0
    text = run("kpi", "--by", "region", "-w", ws)
    assert text.returncode == 0 and "Team performance by region" in text.stdout


def test_mistakes_are_one_red_line(ws: str) -> None:
    for args, words in (
        (("winback", "plan", "--as-of", "2024-11", "--budget", "0", "-w", ws), "budget"),
        (("care", "run", "nope", "--as-of", "2024-09", "-w", ws), "renewal_reminder"),
        (("kpi", "--by", "planet", "-w", ws), "team"),
        (
            (
                "care",
                "run",
                "holiday_loyalty",
                "--as-of",
                "2024-09",
                "--run-date",
                "2024-11-02",
                "-w",
                ws,
            ),
            "calendar months",
        ),
    ):
        out = run(*args)
        assert out.returncode == 1, (args, out.stdout)
        assert "Traceback" not in out.stderr and words in out.stderr, out.stderr
