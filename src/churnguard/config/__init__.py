"""One typed settings object, read from the workspace's ``churnguard.toml``.

Built at the edge (CLI/API) and passed down; nothing here is global. Each topic
has its own section class (one file per topic); unknown keys are errors so a
typo in the file is caught, with the fix in the message.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigError
from .labels import LabelSettings
from .models import ModelSettings
from .retention import ChannelDelivery, RetentionSettings
from .sections import IngestSettings, OperationalSettings, PrivacySettings, WarehouseSettings
from .value import ValueSettings
from .warnings import WarningSettings

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_WORKSPACE",
    "ChannelDelivery",
    "IngestSettings",
    "LabelSettings",
    "ModelSettings",
    "OperationalSettings",
    "PrivacySettings",
    "RetentionSettings",
    "Settings",
    "ValueSettings",
    "WarehouseSettings",
    "WarningSettings",
    "load_settings",
    "resolve_workspace",
]

CONFIG_FILE = "churnguard.toml"
DEFAULT_WORKSPACE = "churnguard-workspace"
WORKSPACE_ENV = "CHURNGUARD_WORKSPACE"


class Settings(BaseModel):
    """Everything a stage may need to know, validated.

    ``workspace`` is the directory holding the config, the DuckDB warehouse, the
    operational database, models and reports.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace: Path
    warehouse: WarehouseSettings = WarehouseSettings()
    operational: OperationalSettings = OperationalSettings()
    ingest: IngestSettings = IngestSettings()
    privacy: PrivacySettings = PrivacySettings()
    labels: LabelSettings = LabelSettings()
    models: ModelSettings = ModelSettings()
    value: ValueSettings = ValueSettings()
    warnings: WarningSettings = WarningSettings()
    retention: RetentionSettings = RetentionSettings()

    @property
    def warehouse_path(self) -> Path:
        return self.workspace / self.warehouse.path

    @property
    def operational_url(self) -> str:
        return self.operational.url or f"sqlite:///{self.workspace / 'operational.db'}"

    @property
    def models_dir(self) -> Path:
        return self.workspace / "models"

    @property
    def reports_dir(self) -> Path:
        return self.workspace / "reports"

    def to_toml(self) -> str:
        """The settings as the TOML text of ``churnguard.toml`` (workspace omitted)."""
        data = self.model_dump(mode="json", exclude={"workspace"}, exclude_none=True)
        return tomli_w.dumps(data)


def resolve_workspace(workspace: Path | str | None) -> Path:
    """The workspace directory: the argument, else ``$CHURNGUARD_WORKSPACE``, else the default."""
    chosen = workspace or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE
    return Path(chosen).expanduser().resolve()


def load_settings(
    workspace: Path | str | None = None,
    *,
    create: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Read and validate the settings of a workspace.

    Parameters
    ----------
    workspace
        The workspace directory (see :func:`resolve_workspace`).
    create
        Create the directory and a default ``churnguard.toml`` when missing;
        otherwise a missing workspace is an error that says how to make one.
    overrides
        Section values that win over the file, e.g. ``{"warehouse": {"engine": "spark"}}``.
    """
    ws = resolve_workspace(workspace)
    cfg = ws / CONFIG_FILE
    if not cfg.exists():
        if not create:
            raise ConfigError(
                f"no churnguard workspace at {ws} (no {CONFIG_FILE}); "
                "run 'churnguard init --workspace PATH' or pass --workspace to an existing one"
            )
        ws.mkdir(parents=True, exist_ok=True)
        for sub in ("models", "reports"):
            (ws / sub).mkdir(exist_ok=True)
        # Only a header: keys left out take the defaults of the churnguard version in use.
        cfg.write_text(_HEADER, encoding="utf-8")
    try:
        data = tomllib.loads(cfg.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{cfg} is not valid TOML ({exc}); fix the file or delete it") from None
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    data["workspace"] = ws
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        from .files import describe_errors

        raise ConfigError(
            f"{cfg} has invalid settings: {describe_errors(exc)}. Fix them and retry"
        ) from None


_HEADER = """\
# churnguard workspace settings. Every key is optional: add only what you change, e.g.
#
#   [warnings]
#   cooldown_days = 14
#
#   [warnings.levels]
#   mode = "capacity"
#   capacity_red = 150
#
# Every section and key, with its default: docs/configuration.md
# (or `churnguard config` / Settings.to_toml() for the values in force).
"""
