"""The CLI edge: one red line and exit 1 for user mistakes, never a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
