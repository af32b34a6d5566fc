"""``churnguard care ...``: proactive care programs (客户关怀) from the workspace's care.yaml."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for
from .campaign_cmd import _day, _table

__all__ = ["register"]

care_app = typer.Typer(
    help="Proactive care programs: onboarding, renewal reminders, holiday care, detractor "
    "follow-up, each with a holdout. 客户关怀计划。",
    no_args_is_help=True,
)


@care_app.command("list")
def list_programs(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """The care programs of the workspace (care.yaml)."""
    from ..retention.care import load_programs

    progs = load_programs(settings_for(workspace))
    rows = [
        {
            "code": p.code,
            "name": f"{p.name_zh} / {p.name_en}",
            "trigger": p.trigger.kind,
            "offer": p.offer,
            "channel": p.channel,
            "holdout": p.holdout,
        }
        for p in progs.programs
    ]
    if json_out:
        emit_json([p.model_dump(mode="json") for p in progs.programs])
        return
    _table(
        "Care programs / 客户关怀计划",
        rows,
        ["code", "name", "trigger", "offer", "channel", "holdout"],
    )


@care_app.command("run")
def run(
    program: Annotated[str, typer.Argument(help="Program code (see 'churnguard care list').")],
    as_of: Annotated[str, typer.Option("--as-of", help="Month of the data, YYYY-MM.")],
    budget: Annotated[
        float | None, typer.Option("--budget", help="Cap on the expected cost [default: none].")
    ] = None,
    holdout: Annotated[
        float | None, typer.Option("--holdout", help="Holdout share [default: the program's].")
    ] = None,
    run_date: Annotated[
        str | None, typer.Option("--run-date", help="Run day YYYY-MM-DD [default: today].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run one care program: its due customers, a random holdout, one contact per treated."""
    from ..retention.care import run_program

    r = run_program(
        settings_for(workspace),
        program,
        as_of=as_of,
        run_date=_day(run_date),
        budget=budget,
        holdout=holdout,
    )
    d = r.to_dict()
    if json_out:
        emit_json(d)
        return
    console.print(
        f"care program [bold]{d['program']}[/]: campaign {d['campaign_id']}, "
        f"{d['treated']} to contact, {d['control']} in the holdout, of {d['audience']} due "
        f"(left out: {', '.join(f'{k} {v}' for k, v in d['excluded'].items())}); "
        f"expected cost {d['expected_cost']:,.2f}"
    )
    console.print(
        f"next: churnguard campaign send {d['campaign_id']} · after the observation window: "
        f"churnguard campaign resolve {d['campaign_id']} · churnguard kpi --campaign "
        f"{d['campaign_id']}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(care_app, name="care")
