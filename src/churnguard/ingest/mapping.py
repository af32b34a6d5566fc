"""The column mapping file: renames an operator's file and column names onto the contract.

Format (YAML, or the same structure in TOML)::

    files:              # optional: source file name (without extension) -> contract table
      yonghu_ziliao: subscribers
      cdr_monthly: usage
    columns:            # per contract table: source column -> contract column
      "*":              # applies to every table
        user_id: subscriber_id
      usage:
        bill_month: month
        call_min: voice_minutes

Matching of source names is case-insensitive and ignores surrounding spaces.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..contract import TABLES
from ..errors import InputError, NotFoundError

__all__ = ["ColumnMapping", "load_mapping", "normalise_name"]


def normalise_name(name: str) -> str:
    """The comparable form of a source name: trimmed, lower case, BOM removed."""
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class ColumnMapping:
    """Renames from an operator's names to the contract's (empty: identity)."""

    files: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    path: Path | None = None

    def table_for_file(self, stem: str) -> str | None:
        """The contract table a source file stem maps to, if the mapping names it."""
        return self.files.get(normalise_name(stem))

    def renames(self, table: str) -> dict[str, str]:
        """Normalised source column -> contract column for ``table`` ("*" entries first)."""
        merged = dict(self.columns.get("*", {}))
        merged.update(self.columns.get(table, {}))
        return merged


def _close(word: str, options: list[str]) -> str:
    near = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def load_mapping(path: Path | None) -> ColumnMapping:
    """Read and check a mapping file; ``None`` gives the identity mapping.

    Raises
    ------
    NotFoundError
        The file does not exist.
    InputError
        The file is not valid YAML/TOML, or names tables or columns the contract lacks.
    """
    if path is None:
        return ColumnMapping()
    if not path.is_file():
        raise NotFoundError(f"mapping file {path} not found; check the path given to --mapping")
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"mapping file {path} cannot be parsed ({exc}); fix its syntax") from None
    data = data or {}
    if not isinstance(data, dict) or set(data) - {"files", "columns"}:
        raise InputError(
            f"mapping file {path} must have only the sections 'files' and 'columns'; "
            "see docs/ingest.md for the format"
        )
    tables = list(TABLES)
    files: dict[str, str] = {}
    for stem, target in (data.get("files") or {}).items():
        if target not in TABLES:
            raise InputError(
                f"mapping file {path}: files.{stem} maps to '{target}', which is not a contract "
                f"table{_close(str(target), tables)}; known tables: {', '.join(tables)}"
            )
        files[normalise_name(str(stem))] = str(target)
    columns: dict[str, dict[str, str]] = {}
    for tname, renames in (data.get("columns") or {}).items():
        if tname != "*" and tname not in TABLES:
            raise InputError(
                f"mapping file {path}: columns.{tname} is not a contract table"
                f"{_close(str(tname), tables)}; known tables: {', '.join(tables)} (or '*')"
            )
        if not isinstance(renames, dict):
            raise InputError(
                f"mapping file {path}: columns.{tname} must map source column names to "
                "contract column names"
            )
        known = (
            sorted({c for t in TABLES.values() for c in t.column_names})
            if tname == "*"
            else list(TABLES[tname].column_names)
        )
        checked: dict[str, str] = {}
        for source, target in renames.items():
            if target not in known:
                raise InputError(
                    f"mapping file {path}: columns.{tname}.{source} maps to '{target}', which "
                    f"is not a contract column of {tname}{_close(str(target), known)}"
                )
            checked[normalise_name(str(source))] = str(target)
        columns[str(tname)] = checked
    return ColumnMapping(files=files, columns=columns, path=path)
