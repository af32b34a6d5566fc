"""Workspace YAML files (rules, offers): created from packaged defaults, validated by pydantic."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError

__all__ = ["describe_errors", "load_yaml_model"]

M = TypeVar("M", bound=BaseModel)


def describe_errors(exc: ValidationError) -> str:
    """Pydantic errors as ``a.b: message; c: message`` (the key path names the fix)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def load_yaml_model(
    model: type[M],
    *,
    path: Path | None,
    workspace: Path | None,
    file_name: str,
    default: Path,
    what: str,
) -> M:
    """Load ``path``, or the workspace's ``file_name`` (copied from ``default`` on first use).

    With neither a path nor a workspace, the packaged default is read.

    Raises
    ------
    ConfigError
        For unreadable YAML or invalid content, naming the field to fix.
    """
    if path is None:
        if workspace is None:
            path = default
        else:
            path = workspace / file_name
            if not path.exists():
                shutil.copyfile(default, path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a valid {what}: {describe_errors(exc)}") from None
