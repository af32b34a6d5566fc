"""``churnguard analyze ...`` in-process: JSON, readable tables, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from churnguard.errors import InputError


def run(*args: str) -> Result:
    from churnguard.cli import analyze_cmd

    app = typer.Typer()
    analyze_cmd.register(app)

    @app.callback()
    def _root() -> None:  # a group, so that 'analyze' stays a subcommand
        pass

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("what", ["rules", "personas", "text"])
def test_every_analysis_gives_json(what: str, warned_ws: Path) -> None:
    result = run(
        "analyze", what, "--as-of", "2024-09", "--months", "2", "--workspace", str(warned_ws),
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["window"] == "2024-06..2024-07"


def test_readable_tables_in_both_languages(warned_ws: Path) -> None:
    ws = str(warned_ws)
    zh = run("analyze", "rules", "--as-of", "2024-09", "--months", "1", "--workspace", ws)
    assert zh.exit_code == 0 and "→ 离网" in zh.stdout and "lift" in zh.stdout
    en = run("analyze", "survival", "--as-of", "2024-09", "--workspace", ws, "--lang", "en")
    assert en.exit_code == 0 and "tenure 0–6 months" in en.stdout and "log-rank p" in en.stdout
    groups = run("analyze", "groups", "--as-of", "2024-09", "--workspace", ws, "--json")
    assert groups.exit_code == 0 and json.loads(groups.stdout)["masked"] is True
    table = run("analyze", "groups", "--as-of", "2024-09", "--workspace", ws, "--top", "3")
    assert table.exit_code == 0 and "集体离网" in table.stdout and "****" in table.stdout


def test_user_errors(warned_ws: Path) -> None:
    ws = str(warned_ws)
    bad_lang = run("analyze", "rules", "--as-of", "2024-09", "--workspace", ws, "--lang", "fr")
    assert isinstance(bad_lang.exception, InputError) and "use zh or en" in str(bad_lang.exception)
    bad_month = run("analyze", "timing", "--as-of", "2031-02", "--workspace", ws)
    assert isinstance(bad_month.exception, InputError)
    assert "no data for 2031-02" in str(bad_month.exception)
    bad_share = run("analyze", "rules", "--as-of", "2024-09", "--workspace", ws, "--min-share", "2")
    assert isinstance(bad_share.exception, InputError)
