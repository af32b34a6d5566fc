"""The churnguard command line: a thin shell over the stage packages.

One error handler at the edge turns churnguard's own errors into one red line
and exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from .. import __version__
from ..errors import ChurnguardError
from ._common import WorkspaceOpt, console, err_console, settings_for

__all__ = ["app", "main"]

app = typer.Typer(
    name="churnguard",
    help=(
        "churnguard: churn early warning and retention for telecom, broadband and cable-TV "
        "operators. Start with 'churnguard demo'."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        console.print(f"churnguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command("init")
def init(workspace: WorkspaceOpt = None) -> None:
    """Create a workspace with a default churnguard.toml (existing files are kept)."""
    settings = settings_for(workspace, create=True)
    console.print(f"workspace ready: {settings.workspace}")


@app.command("config")
def show_config(workspace: WorkspaceOpt = None) -> None:
    """Print the settings in force (the file's keys plus every default) as TOML."""
    settings = settings_for(workspace)
    # plain text, never wrapped: the output is TOML a user may save
    typer.echo(f"# {settings.workspace / 'churnguard.toml'}\n{settings.to_toml()}")


# Each module has `register(app)`; a stage adds its module here when it lands.
_COMMAND_MODULES = (
    "simulate_cmd",
    "ingest_cmd",
    "features_cmd",
    "model_cmd",
    "table_cmd",
    "warn_cmd",
    "campaign_cmd",
    "serve_cmd",
    "analyze_cmd",
    "report_cmd",
    "winback_cmd",
    "care_cmd",
    "batch_cmd",
    "demo_cmd",
)


def _register() -> None:
    # Imported here so that each command's heavy imports load only when it runs.
    import importlib

    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue  # stage not built in this checkout
        module.register(app)


def main() -> None:
    """Entry point of the ``churnguard`` script."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _register()
    try:
        # Standalone mode: Typer reports usage errors itself (exit 2).
        app()
    except ChurnguardError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None
