"""``churnguard report``: the monthly report as one self-contained HTML file (PDF on request)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..months import parse_month
from ._common import WorkspaceOpt, console, settings_for

__all__ = ["register"]


def report(
    as_of: Annotated[str, typer.Option("--as-of", help="Month of the report, YYYY-MM.")],
    workspace: WorkspaceOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="HTML file [default: WORKSPACE/reports/report-YYYY-MM-LANG.html]."
        ),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also print a PDF (headless Chromium).")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="zh or en.")] = "zh",
    static: Annotated[
        bool,
        typer.Option(
            "--static/--no-static",
            help="Also store the charts as drawn (SVG via headless Chromium), for viewers "
            "without JavaScript.",
        ),
    ] = True,
) -> None:
    """Write the monthly churn report (月度报告) as one offline HTML file, PDF on request.

    Sections: trend, timing, survival, reasons, value × risk, model, campaigns, personas,
    rules, complaint texts, surveys, groups, team performance and data quality.
    """
    from ..analytics.texts import check_lang
    from ..report import write_report

    language = check_lang(lang)
    settings = settings_for(workspace)
    path = write_report(
        settings, as_of=parse_month(as_of), lang=language, out=out, pdf=pdf, static_charts=static
    )
    console.print(f"report written to {path}")
    if pdf:
        console.print(f"PDF written to {path.with_suffix('.pdf')}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
