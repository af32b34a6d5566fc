"""``churnguard winback ...``: win back customers who already left (挽回)."""

from __future__ import annotations

from typing import Annotated

import typer

from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for
from .campaign_cmd import _day, _table

__all__ = ["register"]

winback_app = typer.Typer(
    help="Win-back of churned customers: plan with a control group, detect returns. 流失客户挽回。",
    no_args_is_help=True,
)


@winback_app.command("plan")
def plan(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Last month of churn to consider, YYYY-MM.")
    ],
    budget: Annotated[float, typer.Option("--budget", help="Total expected cost allowed.")],
    holdout: Annotated[
        float | None,
        typer.Option("--holdout", help="Control-group share [default: retention.holdout_share]."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Campaign name.")] = None,
    run_date: Annotated[
        str | None, typer.Option("--run-date", help="Planning day YYYY-MM-DD [default: today].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Plan a win-back campaign for customers who churned in the last retention.winback_months."""
    from ..retention.winback import plan_winback

    result = plan_winback(
        settings_for(workspace),
        as_of=as_of,
        budget=budget,
        holdout=holdout,
        run_date=_day(run_date),
        name=name,
    )
    d = result.to_dict()
    if json_out:
        emit_json(d)
        return
    console.print(
        f"win-back campaign [bold]{d['campaign_id']}[/] for churn up to {d['as_of']}: "
        f"{d['treated']} to contact, {d['control']} held out as control, of "
        f"{d['candidates']} candidates (left out: "
        f"{', '.join(f'{k} {v}' for k, v in d['excluded'].items())})"
    )
    console.print(
        f"expected net value {d['expected_net_value']:,.0f} (proven bound "
        f"{d['upper_bound']:,.0f}, {d['solver_status']}), expected cost "
        f"{d['expected_cost']:,.0f} of {d['budget']:,.0f}"
    )
    _table(
        "Churned customers by segment / 流失客户分群",
        d["segments"],
        ["reason", "value_tier", "reachable", "opted_out", "customers", "arpu_before"],
    )
    _table(
        "By offer / 按挽回方案",
        [{"offer": k, "n": v} for k, v in d["by_offer"].items()],
        ["offer", "n"],
    )
    console.print(
        f"next: churnguard campaign send {d['campaign_id']} · after the observation month: "
        f"churnguard campaign resolve {d['campaign_id']} · churnguard kpi --campaign "
        f"{d['campaign_id']}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(winback_app, name="winback")
