"""``churnguard simulate`` and ``churnguard world step`` from the shell."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churnguard.cli.simulate_cmd import parse_mix, parse_start
from churnguard.errors import InputError
from churnguard.simulate import simulate
from tests.conftest import CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, check=False)


def test_simulate_json_and_step(tmp_path: Path) -> None:
    out = run(
        "simulate",
        str(tmp_path / "op"),
        "--subscribers",
        "300",
        "--months",
        "3",
        "--seed",
        "2",
        "--start",
        "2023-11",
        "--mix",
        "mobile=0.5,broadband=0.3,tv=0.2",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["months"] == 3 and summary["start"] == "2023-11-01"
    assert summary["rows"]["usage"] > 800
    assert 0.0 <= summary["median_voluntary_churn"] <= 0.2
    usage = pd.read_parquet(tmp_path / "op" / "usage.parquet")
    assert str(pd.to_datetime(usage.month).min().date()) == "2023-11-01"
    treat = tmp_path / "t.csv"
    pd.DataFrame(
        {"subscriber_id": ["S00000001", "S00000002"], "offer_type": ["price_discount", "data_gift"]}
    ).to_csv(treat, index=False)
    stepped = run(
        "world",
        "step",
        str(tmp_path / "op"),
        "--treatments",
        str(treat),
        "--out",
        str(tmp_path / "delta"),
        "--json",
    )
    assert stepped.returncode == 0, stepped.stderr
    assert json.loads(stepped.stdout)["month"] == "2024-02"
    assert (tmp_path / "delta" / "usage.parquet").is_file()


def test_human_summary_names_rates_and_files(tmp_path: Path) -> None:
    out = run("simulate", str(tmp_path / "op"), "-n", "200", "-m", "2", "--seed", "1")
    assert out.returncode == 0, out.stderr
    assert "Bayes AUC" in out.stdout and "usage" in out.stdout
    assert str(tmp_path / "op") in out.stdout.replace("\n", "")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--subscribers", "0"], "--subscribers"),
        (["--mix", "mobile=0.5,tv=0.2"], "sum to 0.7"),
        (["--start", "2024-13"], "--start"),
    ],
)
def test_bad_arguments_are_one_red_line(tmp_path: Path, args: list[str], needle: str) -> None:
    out = run("simulate", str(tmp_path / "op"), *args)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error:")
    assert needle in out.stderr
    assert not (tmp_path / "op" / "usage.parquet").exists()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"subscribers": 0}, "--subscribers"),
        ({"months": 1}, "--months"),
        ({"mix": {"phone": 1.0}}, "phone"),
        ({"mix": {"mobile": 1.2, "tv": -0.2}}, ">= 0"),
        ({"dirty_rate": 2.0}, "--dirty-rate"),
        ({"fmt": "xlsx"}, "--format"),
        ({"encoding": "latin-1"}, "--encoding"),
        ({"encoding": "gbk"}, "csv"),
        ({"start": date(2024, 1, 15)}, "first day"),
    ],
)
def test_bad_arguments_raise_input_errors(
    tmp_path: Path, kwargs: dict[str, Any], needle: str
) -> None:
    args: dict[str, Any] = {"subscribers": 10, "months": 2, "seed": 1, **kwargs}
    with pytest.raises(InputError, match=re.escape(needle)):
        simulate(tmp_path / "op", **args)
    assert not (tmp_path / "op").exists()


def test_step_without_a_world_is_a_clear_error(tmp_path: Path) -> None:
    out = run("world", "step", str(tmp_path), "--out", str(tmp_path / "d"))
    assert out.returncode == 1 and out.stderr.startswith("error:")
    assert "simulate" in out.stderr


def test_parsers() -> None:
    assert parse_start("2024-03").isoformat() == "2024-03-01"
    assert parse_mix("mobile=1") == {"mobile": 1.0}
    for bad in ("2024-3", "24-03", "2024-00", "2024-13"):
        with pytest.raises(InputError):
            parse_start(bad)
    for bad in ("mobile=x", "mobile", ","):
        with pytest.raises(InputError):
            parse_mix(bad)
