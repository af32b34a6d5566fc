from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from churnguard.config import CONFIG_FILE, Settings, load_settings, resolve_workspace
from churnguard.errors import ConfigError


def test_create_writes_defaults_that_load_back(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    created = load_settings(ws, create=True)
    assert (ws / CONFIG_FILE).is_file()
    assert (ws / "models").is_dir() and (ws / "reports").is_dir()
    again = load_settings(ws)
    assert again == created
    assert again.warehouse_path == ws.resolve() / "warehouse.duckdb"
    assert again.operational_url == f"sqlite:///{ws.resolve() / 'operational.db'}"
    text = (ws / CONFIG_FILE).read_text(encoding="utf-8")
    assert tomllib.loads(text) == {}  # only a commented header: defaults follow the version
    assert "docs/configuration.md" in text
    assert tomllib.loads(again.to_toml())["labels"]["horizon_months"] == 1


def test_missing_workspace_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="churnguard init"):
        load_settings(tmp_path / "nowhere")


def test_file_values_and_overrides(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    load_settings(ws, create=True)
    (ws / CONFIG_FILE).write_text("[labels]\nhorizon_months = 3\n[warehouse]\nthreads = 1\n")
    s = load_settings(ws, overrides={"warehouse": {"engine": "spark"}})
    assert s.labels.horizon_months == 3
    assert s.warehouse.threads == 1
    assert s.warehouse.engine == "spark"
    assert s.labels.inactivity_months == 2  # untouched default


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[labels]\nhorizon_months = 0\n", "labels.horizon_months"),
        ("[labels]\nhorizonmonths = 2\n", "labels.horizonmonths"),
        ("[warehouse]\nengine = 'oracle'\n", "warehouse.engine"),
        ("[labels\n", "not valid TOML"),
    ],
)
def test_invalid_settings_name_the_key(tmp_path: Path, text: str, fragment: str) -> None:
    ws = tmp_path / "ws"
    load_settings(ws, create=True)
    (ws / CONFIG_FILE).write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_settings(ws)


def test_workspace_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHURNGUARD_WORKSPACE", raising=False)
    assert resolve_workspace(None) == tmp_path / "churnguard-workspace"
    monkeypatch.setenv("CHURNGUARD_WORKSPACE", str(tmp_path / "env"))
    assert resolve_workspace(None) == tmp_path / "env"
    assert resolve_workspace(tmp_path / "arg") == tmp_path / "arg"


def test_settings_are_immutable(workspace: Settings) -> None:
    with pytest.raises(ValueError, match="frozen"):
        workspace.labels.horizon_months = 5  # type: ignore[misc]


def test_configuration_reference_is_current() -> None:
    from churnguard.config.reference import render_reference

    page = Path(__file__).parents[2] / "docs" / "configuration.md"
    assert page.read_text(encoding="utf-8") == render_reference(), (
        "docs/configuration.md is stale: python -m churnguard.config.reference > "
        "docs/configuration.md"
    )
