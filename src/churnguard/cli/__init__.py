"""The churnguard command line: a thin shell over the stage packages.

One error handler at the edge turns churnguard's own errors into one red line
and exit code 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from typing import Annotated, NoReturn

import typer

from .. import __version__
from ..errors import ChurnguardError
from ._common import WorkspaceOpt, console, err_console, settings_for

__all__ = ["app", "main", "script"]

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
    """Run the command line once (raises ``SystemExit`` with the exit status)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    _register()
    try:
        # Standalone mode: Typer reports usage errors itself (exit 2).
        app()
    except ChurnguardError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise SystemExit(1) from None


def script() -> NoReturn:
    """Entry point of the ``churnguard`` script: :func:`main`, then a fast process exit.

    Only the script's own process ends this way; :func:`main` itself raises
    ``SystemExit`` like any command-line function, for callers running it in
    their own process (tests, embedding).
    """
    try:
        main()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process with ``code`` (``SystemExit`` semantics), skipping interpreter teardown.

    By the time a command returns its work is stored and its output printed; what
    is left is unloading the modules it imported (scikit-learn, SciPy, numba, DuckDB)
    and freeing its objects one by one: 0.6–1.2 s after every command on the build
    machine. As at a normal exit, non-daemon threads are waited for and atexit
    handlers run; logs and the standard streams are flushed. Set
    ``CHURNGUARD_FULL_EXIT=1`` for a full interpreter shutdown (leak checkers).
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # SystemExit("message"): printed, status 1
        sys.stderr.write(f"{code}\n")
        status = 1
    if os.environ.get("CHURNGUARD_FULL_EXIT", "") not in ("", "0"):
        raise SystemExit(status)
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, broken pipe: nothing to add
            stream.flush()
    os._exit(status)
