"""``churnguard batch``: the monthly batch in one command, on DuckDB or Spark."""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any

import typer

from ..errors import InputError
from ..months import parse_month
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for

__all__ = ["OPERATIONAL_URL_ENV", "register"]

OPERATIONAL_URL_ENV = "CHURNGUARD_OPERATIONAL_URL"


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a day: write it as YYYY-MM-DD") from None


def batch(
    as_of: Annotated[str, typer.Option("--as-of", help="The month of the batch, YYYY-MM.")],
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="duckdb (the workspace warehouse) or spark [default: [warehouse] engine].",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Spark: parquet:DIR or catalog:DB [default: the workspace warehouse].",
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help="Spark: where scores and warnings go, parquet:DIR or catalog:DB "
            "[default: parquet:WORKSPACE/spark/tables].",
        ),
    ] = None,
    model_access: Annotated[
        str,
        typer.Option(
            "--model-access",
            help="Spark: how executors read the model: auto, path (shared storage) or "
            "sparkfiles (shipped with addFile).",
        ),
    ] = "auto",
    workspace: WorkspaceOpt = None,
    run_date: Annotated[
        str | None,
        typer.Option(
            "--run-date", help="Day the warnings are raised, YYYY-MM-DD [default: today]."
        ),
    ] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push new warnings.")] = True,
    json_out: JsonOpt = False,
) -> None:
    """Run the monthly batch (月度批处理): features, scores, value and warnings.

    The operational database is [operational] url, or the environment variable
    CHURNGUARD_OPERATIONAL_URL when set (e.g. from a cluster secret).
    """
    from ..batch import run_batch

    if model_access not in ("auto", "path", "sparkfiles"):
        raise InputError(f"unknown --model-access '{model_access}'; use auto, path or sparkfiles")
    url = os.environ.get(OPERATIONAL_URL_ENV)
    # the operational database's URL holds a password: from the environment (a secret),
    # never from the command line
    overrides: dict[str, Any] = {"operational": {"url": url}} if url else {}
    settings = settings_for(workspace, **overrides)
    result = run_batch(
        settings,
        as_of=parse_month(as_of),
        engine=engine or settings.warehouse.engine,
        source=source,
        output=output,
        run_date=_day(run_date),
        push=push,
        model_access="path"
        if model_access == "path"
        else ("sparkfiles" if model_access == "sparkfiles" else "auto"),
    )
    d = result.to_dict()
    if json_out:
        emit_json(d)
        return
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in d["stages"].items())
    console.print(
        f"batch {d['as_of']} on {d['engine']}: {d['scored']:,} scored (model "
        f"{d['model_version']}), {d['warnings']:,} warnings "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(d["by_level"].items()))
        + f"; {d['group_warnings']} group warnings"
    )
    s = d["stored"]
    console.print(
        f"operational database: {s['new']} new, {s['escalated']} escalated, "
        f"{s['rewarned']} re-warned, {s['kept_in_cooldown']} kept in cooldown"
    )
    console.print(f"stages: {stages}")
    for name, where in d["tables"].items():
        console.print(f"[dim]{name}: {where}[/]")


def register(app: typer.Typer) -> None:
    """Add ``batch``."""
    app.command("batch")(batch)
