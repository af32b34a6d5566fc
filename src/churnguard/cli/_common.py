"""What every CLI command shares: consoles, common options, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..config import Settings, load_settings

__all__ = [
    "JsonOpt",
    "WorkspaceOpt",
    "console",
    "emit_json",
    "err_console",
    "progress",
    "settings_for",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="CHURNGUARD_WORKSPACE",
        help="Workspace directory [default: ./churnguard-workspace].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def settings_for(workspace: Path | None, *, create: bool = False, **overrides: Any) -> Settings:
    """Settings of the workspace; ``create`` makes a new one with defaults when missing."""
    return load_settings(workspace, create=create, overrides=overrides or None)


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if isinstance(o, set | frozenset | tuple):
        return list(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


@contextmanager
def progress(*, quiet: bool = False) -> Iterator[Progress]:
    """A Rich progress display on stderr; silent when ``quiet`` (e.g. with --json)."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet or not err_console.is_terminal,
        transient=True,
    )
    with bar:
        yield bar
