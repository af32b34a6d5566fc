"""The CLI edge: one red line and exit 1 for user mistakes, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLI


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def test_version_and_help() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("churnguard ")
    helped = run("--help")
    assert helped.returncode == 0
    assert "init" in helped.stdout


def test_init_creates_workspace(tmp_path: Path) -> None:
    out = run("init", "--workspace", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "ws" / "churnguard.toml").is_file()


def test_config_prints_the_settings_in_force(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", "--workspace", str(ws)).returncode == 0
    (ws / "churnguard.toml").write_text("[warnings]\ncooldown_days = 14\n")
    out = run("config", "--workspace", str(ws))
    assert out.returncode == 0, out.stderr
    import tomllib

    body = tomllib.loads(out.stdout.split("\n", 1)[1])
    assert body["warnings"]["cooldown_days"] == 14
    assert body["labels"]["horizon_months"] == 1


def test_user_error_is_one_red_line_without_traceback(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert run("init", "--workspace", str(ws)).returncode == 0
    (ws / "churnguard.toml").write_text("[labels]\nhorizon_months = -1\n")
    out = run("init", "--workspace", str(ws))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error:")
    assert "labels.horizon_months" in out.stderr


def test_unknown_command_is_a_usage_error() -> None:
    out = run("frobnicate")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "frobnicate" in out.stderr


def test_the_script_exits_fast_with_the_status_and_all_its_output(tmp_path: Path) -> None:
    """The script skips interpreter teardown but keeps statuses and flushes everything."""
    import os
    import tomllib

    ws = tmp_path / "ws"
    assert run("init", "--workspace", str(ws)).returncode == 0
    # every setting as TOML through a pipe: the document arrives whole
    shown = run("config", "--workspace", str(ws))
    assert shown.returncode == 0, shown.stderr
    settings = tomllib.loads(shown.stdout)
    assert {"warnings", "value", "models"} <= set(settings)
    missing = run("warn", "--as-of", "2024-12", "--workspace", str(tmp_path / "nope"))
    assert missing.returncode == 1 and "error:" in missing.stderr
    assert run("no-such-command").returncode == 2
    full = subprocess.run(
        [CLI, "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CHURNGUARD_FULL_EXIT": "1"},
        check=False,
    )
    assert full.returncode == 0 and full.stdout.startswith("churnguard ")


def test_main_in_process_raises_system_exit_instead_of_ending_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``main()`` is for callers in their own process: it must never os._exit them."""
    from churnguard.cli import main

    monkeypatch.setattr(sys, "argv", ["churnguard", "--version"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    monkeypatch.setattr(sys, "argv", ["churnguard", "warn", "--as-of", "2024-12", "-w", "/no/ws"])
    with pytest.raises(SystemExit) as failed:
        main()
    assert failed.value.code == 1
