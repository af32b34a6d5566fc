"""``churnguard warn``, ``worklist`` and ``warn-push``: graded warnings for the retention team."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ..months import parse_month
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for

__all__ = ["register"]

_LEVEL_STYLE = {"red": "bold red", "orange": "bold dark_orange", "yellow": "bold yellow"}


def warn(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Month of the snapshot and scores, YYYY-MM.")
    ],
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
    """Raise graded warnings (red/orange/yellow) from the model's scores and the rules."""
    from ..warnings.run import raise_warnings

    settings = settings_for(workspace)
    result = raise_warnings(settings, as_of=parse_month(as_of), run_date=_day(run_date), push=push)
    if json_out:
        emit_json(result.to_dict())
        return
    d = result.to_dict()
    if d["prepared"]:
        console.print(f"[dim]prepared first: {', '.join(d['prepared'])} of {d['as_of'][:7]}[/]")
    th = d["thresholds"]
    console.print(
        f"[bold]{d['warnings']}[/] warnings for {d['as_of'][:7]} from {d['scored']:,} scored "
        f"customers (model {d['model_version']}); thresholds ({th['mode']}): "
        + ", ".join(f"{lvl} ≥ {th[lvl]:.3f}" for lvl in ("red", "orange", "yellow"))
    )
    _counts("By level / 按等级", d["by_level"], style=_LEVEL_STYLE)
    _counts("By queue / 按队列", d["by_queue"])
    _counts("By churn type / 按流失类型", d["by_churn_type"])
    _counts("By reason / 按原因", d["by_reason"])
    _matrix(d["value_risk_matrix"])
    s = d["stored"]
    console.print(
        f"stored: {s['new']} new, {s['escalated']} escalated, {s['rewarned']} re-warned, "
        f"{s['kept_in_cooldown']} kept in cooldown, closed {s['closed'] or 0}; "
        f"group warnings: {d['group_warnings']}; passive (arrears, not retention targets): "
        f"{d['passive']}"
    )
    for p in d["pushes"]:
        console.print(f"push {p['channel']}: {p['status']}")


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"'{text}' is not a day: write it as YYYY-MM-DD") from None


def _counts(title: str, counts: dict[str, int], style: dict[str, str] | None = None) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(
            f"[{(style or {}).get(k, '')}]{k}[/]" if style and k in style else k, f"{v:,}"
        )
    console.print(table)


def _matrix(rows: list[dict[str, object]]) -> None:
    table = Table(title="Value × risk / 价值 × 风险 (customers)", title_justify="left")
    table.add_column("value tier \\ risk")
    bands = ("high", "medium", "low")
    for b in bands:
        table.add_column(f"risk {b}", justify="right")
    cells = {(str(r["value_tier"]), str(r["risk_band"])): int(str(r["customers"])) for r in rows}
    for tier in ("high", "medium", "low"):
        table.add_row(tier, *[f"{cells.get((tier, b), 0):,}" for b in bands])
    console.print(table)


def worklist(
    workspace: WorkspaceOpt = None,
    queue: Annotated[str | None, typer.Option("--queue", help="Only this queue.")] = None,
    level: Annotated[str | None, typer.Option("--level", help="red, orange or yellow.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx.")] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file [default: CSV on stdout].")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en reasons.")] = "zh",
    clear_text: Annotated[
        bool,
        typer.Option("--clear-text", help="Unmasked personal data, if the workspace allows it."),
    ] = False,
) -> None:
    """Open warnings of a queue as a CSV/XLSX worklist (personal data masked)."""
    from ..warnings.worklist import worklist as build
    from ..warnings.worklist import write_worklist

    if fmt not in ("csv", "xlsx"):
        raise InputError(f"unknown format '{fmt}'; use csv or xlsx")
    if lang not in ("zh", "en"):
        raise InputError(f"unknown language '{lang}'; use zh or en")
    settings = settings_for(workspace)
    df = build(settings, queue=queue, level=level, lang=lang, clear_text=clear_text)  # type: ignore[arg-type]
    if out is None:
        if fmt == "xlsx":
            raise InputError("an XLSX worklist needs --out FILE.xlsx")
        df.to_csv(sys.stdout, index=False)
        return
    write_worklist(df, fmt=fmt, out=out)  # type: ignore[arg-type]
    console.print(f"{len(df):,} warnings written to {out}")


def warn_push(
    workspace: WorkspaceOpt = None,
    raised_on: Annotated[
        str | None,
        typer.Option("--raised-on", help="Day the warnings were raised [default: today]."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Push again the warnings raised on a day (after a webhook or e-mail failure)."""
    from datetime import UTC, datetime

    from ..warnings.run import repush

    settings = settings_for(workspace)
    day = _day(raised_on) or datetime.now(UTC).date()
    results = repush(settings, raised_on=day)
    if json_out:
        emit_json({"raised_on": day.isoformat(), "pushes": results})
        return
    if not results:
        console.print("no push channel configured (warnings.push in churnguard.toml)")
    for p in results:
        console.print(f"push {p['channel']}: {p['status']}")


def register(app: typer.Typer) -> None:
    app.command("warn")(warn)
    app.command("worklist")(worklist)
    app.command("warn-push")(warn_push)
