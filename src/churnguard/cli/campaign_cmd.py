"""``churnguard campaign ...`` and ``churnguard kpi``: the retention loop from the command line."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from ..errors import InputError
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for

__all__ = ["register"]

campaign_app = typer.Typer(
    help="Retention campaigns: plan, send, record results, resolve. 挽留活动。",
    no_args_is_help=True,
)


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a day: write it as YYYY-MM-DD") from None


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[_fmt(r.get(c)) for c in columns])
    console.print(table)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


@campaign_app.command("plan")
def plan(
    as_of: Annotated[str, typer.Option("--as-of", help="Month of the warnings, YYYY-MM.")],
    budget: Annotated[float, typer.Option("--budget", help="Total expected cost allowed.")],
    holdout: Annotated[
        float | None,
        typer.Option("--holdout", help="Control-group share [default: retention.holdout_share]."),
    ] = None,
    explore: Annotated[
        float,
        typer.Option("--explore", help="Test-and-learn share given random eligible offers."),
    ] = 0.0,
    name: Annotated[str | None, typer.Option("--name", help="Campaign name.")] = None,
    run_date: Annotated[
        str | None, typer.Option("--run-date", help="Planning day YYYY-MM-DD [default: today].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Plan a campaign: best offer and channel per warned customer in budget, with a control."""
    from ..months import parse_month
    from ..retention.planning import plan_campaign

    settings = settings_for(workspace)
    result = plan_campaign(
        settings,
        as_of=parse_month(as_of),
        budget=budget,
        holdout=holdout,
        explore=explore,
        run_date=_day(run_date),
        name=name,
    )
    d = result.to_dict()
    if json_out:
        emit_json(d)
        return
    console.print(
        f"campaign [bold]{d['campaign_id']}[/] for {d['as_of']}: {d['treated']} to contact, "
        f"{d['control']} held out as control, of {d['candidates']} candidates "
        f"(left out: {', '.join(f'{k} {v}' for k, v in d['excluded'].items())})"
    )
    console.print(
        f"expected net value of the treated {d['expected_net_value']:,.0f} (whole plan "
        f"{d['plan_value']:,.0f}, proven bound {d['upper_bound']:,.0f}, {d['solver_status']}), "
        f"expected cost {d['expected_cost']:,.0f} of {d['budget']:,.0f}; "
        f"effects from {d['effect_source']}"
    )
    _table(
        "By offer / 按优惠",
        [{"offer": k, "n": v} for k, v in d["by_offer"].items()],
        ["offer", "n"],
    )
    _table(
        "By channel / 按渠道",
        [{"channel": k, "n": v} for k, v in d["by_channel"].items()],
        ["channel", "n"],
    )
    console.print(f"next: churnguard campaign send {d['campaign_id']}")


@campaign_app.command("list")
def list_campaigns(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List campaigns with their status and size."""
    from ..retention.views import list_campaigns as _list

    rows = _list(settings_for(workspace))
    if json_out:
        emit_json(rows)
        return
    _table(
        "Campaigns / 挽留活动",
        rows,
        ["id", "name", "as_of", "status", "treated", "control", "budget", "effect_source"],
    )


@campaign_app.command("show")
def show(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show a campaign: plan, delivery, results, outcomes and members (masked)."""
    from ..retention.views import show_campaign

    d = show_campaign(settings_for(workspace), campaign_id)
    if json_out:
        emit_json(d)
        return
    c = d["campaign"]
    console.print(
        f"campaign [bold]{c['id']}[/] {c['name']} ({c['status']}), as of {c['as_of']}, "
        f"budget {c['budget']:,.0f}, effects from {c['effect_source']}"
    )
    for title, key in (
        ("Delivery / 发送", "delivery"),
        ("Results / 联系结果", "results"),
        ("Outcomes / 结果", "outcomes"),
    ):
        _table(title, [{"": k, "n": v} for k, v in d[key].items()], ["", "n"])
    _table(
        "Members (first 20) / 成员",
        d["members"][:20],
        ["subscriber_id", "arm", "level", "value_tier", "offer", "channel", "deadline", "result"],
    )


@campaign_app.command("send")
def send(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    workers: Annotated[int, typer.Option("--workers", help="Parallel deliveries per channel.")] = 1,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Deliver the campaign's contacts through the outbox (safe to rerun after a crash)."""
    from ..retention.outbox import send_campaign

    report = send_campaign(settings_for(workspace), campaign_id, workers=workers)
    d = report.to_dict()
    if json_out:
        emit_json(d)
        return
    console.print(
        f"campaign {campaign_id} ({d['status']}): {d['delivered']} delivered, "
        f"{d['failed']} failed, {d['deferred']} deferred (quiet hours), "
        f"{d['cancelled']} cancelled (opted out since planning); still open: "
        f"{d['pending']} pending, {d['open_failed']} failed"
    )
    rows = [{"channel": k, **v} for k, v in d["by_channel"].items()]
    _table("By channel / 按渠道", rows, ["channel", "delivered", "failed", "deferred"])
    for path in sorted(set(d["call_lists"])):
        console.print(f"call list: {path}")
    for err in d["errors"][:5]:
        console.print(f"[red]{err}[/]")
    if d["failed"] or d["pending"]:
        console.print(f"rerun 'churnguard campaign send {campaign_id}' to retry")


@campaign_app.command("result")
def result(
    campaign_id: Annotated[int, typer.Argument(help="Campaign id.")],
    subscriber_id: Annotated[str, typer.Argument(help="Subscriber id.")],
    outcome: Annotated[
        str, typer.Argument(help="reached | accepted | declined | unreachable", metavar="RESULT")
    ],
    agent: Annotated[str | None, typer.Option("--agent", help="Who made the contact.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free-text note.")] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record the result of one contact (agents; the API does the same)."""
    from ..retention.outcomes import record_result

    d = record_result(
        settings_for(workspace),
        campaign_id=campaign_id,
        subscriber_id=subscriber_id,
        result=outcome,
        agent=agent,
        note=note,
    )
    if json_out:
        emit_json(d)
        return
    console.print(f"recorded {d['result']} for {d['subscriber_id']} in campaign {campaign_id}")


@campaign_app.command("resolve")
def resolve(
    campaign_id: Annotated[
        int | None, typer.Argument(help="Campaign id [default: every unresolved one].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Resolve outcomes (retained / churned) of treated and control customers from the data."""
    from ..retention.outcomes import resolve_outcomes

    d = resolve_outcomes(settings_for(workspace), campaign_id=campaign_id).to_dict()
    if json_out:
        emit_json(d)
        return
    for cid, counts in d["resolved"].items():
        console.print(f"campaign {cid} resolved: {counts}")
    for cid, why in d["waiting"].items():
        console.print(f"campaign {cid} waiting: {why}")
    if not d["resolved"] and not d["waiting"]:
        console.print("no unresolved campaigns")


def kpi(
    campaign: Annotated[int | None, typer.Option("--campaign", help="One campaign.")] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Team performance by team, queue, region or agent (团队绩效)."),
    ] = None,
    months: Annotated[int, typer.Option("--months", help="Labelled months to show.")] = 6,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Retention KPIs: lift vs control (95 % interval), ROI, warning accuracy, churn rates."""
    from ..retention.kpi import kpi_report
    from ..retention.team_kpi import TEAM_DIMENSIONS, team_kpi_rows

    settings = settings_for(workspace)
    if by is not None and by not in TEAM_DIMENSIONS:
        raise InputError(f"--by {by!r} is not known; use one of {', '.join(TEAM_DIMENSIONS)}")
    if by is not None and campaign is None:
        teams = team_kpi_rows(settings, by=by, months=months)
        if json_out:
            campaigns = kpi_report(settings, by=by)["campaigns"] if by != "team" else []
            emit_json({"by": by, "teams": teams, "campaigns": campaigns})
            return
        _team_table(by, teams)
        return
    d = kpi_report(settings, campaign_id=campaign, by=by, months=months)
    if json_out:
        emit_json(d)
        return
    key = "campaign_id"
    metrics = [
        "purpose",
        "treated",
        "control",
        "contacted",
        "contact_within_deadline_rate",
        "acceptance_rate",
        "retention_rate_treated",
        "retention_rate_control",
        "incremental_retention",
        "winback_rate_treated",
        "winback_rate_control",
        "incremental_winback",
        "incremental_ci95",
        "customers_saved",
        "customers_won_back",
        "cost",
        "cost_per_returned",
        "revenue_saved",
        "value_regained",
        "roi",
    ]
    shown = [m for m in metrics if any(row.get(m) is not None for row in d["campaigns"])]
    # one column per campaign (or team), one row per KPI: fits a terminal
    table = Table(title="Campaigns / 活动效果", title_justify="left")
    table.add_column("KPI")
    for row in d["campaigns"]:
        table.add_column(str(row[key]), justify="right")
    for metric in shown or metrics:
        table.add_row(metric, *[_fmt(row.get(metric)) for row in d["campaigns"]])
    console.print(table)
    if "warning_accuracy" in d:
        _table(
            "Warning accuracy / 预警准确率",
            d["warning_accuracy"],
            ["as_of", "churners", "warned", "warned_churners", "accuracy", "precision"],
        )
        overall = [r for r in d["churn_rates"] if r["by"] == "all"]
        _table("Churn rate / 流失率", overall, ["as_of", "base", "churn_rate", "passive_rate"])


_TEAM_TITLES = {
    "team": "团队",
    "queue": "队列",
    "region": "地区",
    "agent": "坐席",
}


def _team_table(by: str, rows: list[dict[str, Any]]) -> None:
    """One row per team (queue, region, agent), the KPIs as columns."""
    columns = [
        (by, by),
        ("warnings", "warnings"),
        ("worked_within_deadline_rate", "in time"),
        ("retention_contacts", "ret. n"),
        ("retention_rate", "ret. rate"),
        ("incremental_retention", "ret. lift"),
        ("incremental_retention_ci95", "ret. 95% CI"),
        ("winback_contacts", "wb n"),
        ("winback_rate", "wb rate"),
        ("incremental_winback", "wb lift"),
        ("warning_accuracy", "accuracy"),
    ]
    if by != "region":
        columns = [c for c in columns if c[0] != "warning_accuracy"]
    table = Table(
        title=f"Team performance by {by} / 按{_TEAM_TITLES[by]}的团队绩效", title_justify="left"
    )
    for _, head in columns:
        table.add_column(head, justify="left" if head == by else "right")
    for r in rows:
        table.add_row(*[_fmt(r.get(k)) for k, _ in columns])
    console.print(table)
    if not rows:
        console.print("no warnings or campaigns yet: run 'churnguard warn' and plan a campaign")


uplift_app = typer.Typer(
    help="Uplift model learned from resolved campaigns. 增量响应模型。", no_args_is_help=True
)


@uplift_app.command("fit")
def uplift_fit(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Fit the uplift model on resolved campaigns; the next plans use it instead of priors."""
    from ..retention.uplift import fit_and_register

    d = fit_and_register(settings_for(workspace)).as_dict()
    if json_out:
        emit_json(d)
        return
    console.print(
        f"uplift model [bold]{d['version']}[/] ({d['learner']}) fitted on {d['rows']:,} "
        f"members of campaigns {d['campaigns']}"
    )
    for name, value in d["metrics"].items():
        if not isinstance(value, dict | list):
            console.print(f"  {name}: {_fmt(value)}")


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")
    app.add_typer(uplift_app, name="uplift")
    app.command("kpi")(kpi)
