"""The monthly report: one self-contained HTML file (Chinese or English), PDF on request.

:func:`build_report` runs every section builder of :data:`SECTIONS` on one
:class:`ReportContext`; :func:`write_report` writes the page (plotly.js inlined,
so it opens offline) and, with ``pdf=True``, prints it with headless Chromium.
A section whose input is missing (no campaign yet, no scores ...) shows a note
in Chinese and English instead of failing the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from ..analytics.texts import Bi, check_lang
from ..errors import NotFoundError, StateError
from ..months import parse_month
from .model import (
    Chart,
    MissingInput,
    ReportContext,
    ReportData,
    Section,
    SectionBuilder,
    TableBlock,
)
from .sections import SECTIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..config import Settings

__all__ = [
    "SECTIONS",
    "Chart",
    "MissingInput",
    "Report",
    "ReportContext",
    "ReportData",
    "Section",
    "SectionBuilder",
    "TableBlock",
    "build_report",
    "render_report",
    "write_report",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Report:
    """A built report: its month, language and sections, ready to render."""

    as_of: date
    lang: str
    sections: list[Section]
    data: ReportData

    @property
    def missing(self) -> list[str]:
        """Keys of the sections whose input was missing."""
        return [s.key for s in self.sections if s.missing]


def _missing_section(builder: SectionBuilder, ctx: ReportContext, note: Bi) -> Section:
    key = str(getattr(builder, "key", getattr(builder, "__name__", "section")))
    title: Bi = getattr(builder, "title", Bi(key, key))
    return Section(key, ctx.t(title), missing=note)


def build_report(
    settings: Settings,
    *,
    as_of: date | str,
    lang: str = "zh",
    sections: Sequence[SectionBuilder] = SECTIONS,
    months: int = 6,
    data: ReportData | None = None,
) -> Report:
    """Run each section builder for ``as_of`` in ``lang`` (``zh`` or ``en``).

    Raises
    ------
    InputError
        Unknown language, a malformed month, or a month the warehouse holds no data for.
    NotFoundError
        Nothing was ingested in the workspace.

    Pass the ``data`` of an earlier report of the same month to build the other
    language without computing anything again.
    """
    language = check_lang(lang)
    month = parse_month(as_of)
    if data is None or data.as_of != month or data.settings != settings:
        data = ReportData(settings=settings, as_of=month, months=months)
    ctx = ReportContext(data=data, lang=language)
    _ = ctx.window  # a bad month fails here, before any section runs
    built = []
    for builder in sections:
        try:
            built.append(builder(ctx))
        except MissingInput as exc:
            built.append(_missing_section(builder, ctx, exc.note))
        except (StateError, NotFoundError) as exc:
            # the workspace lacks what the section reads (a table, a model): say so and go on
            log.info("report section %s skipped: %s", getattr(builder, "key", builder), exc)
            built.append(
                _missing_section(
                    builder,
                    ctx,
                    Bi(f"本节所需数据缺失：{exc}", f"this section's input is missing: {exc}"),
                )
            )
    return Report(ctx.as_of, language, built, data)


def write_report(
    settings: Settings,
    *,
    as_of: date | str,
    lang: str = "zh",
    out: Path | None = None,
    pdf: bool = False,
    sections: Sequence[SectionBuilder] = SECTIONS,
    data: ReportData | None = None,
    static_charts: bool = True,
) -> Path:
    """Write the monthly report of ``as_of`` as HTML (and PDF beside it); the HTML path.

    ``out`` defaults to ``<workspace>/reports/report-YYYY-MM-<lang>.html``; the PDF
    has the same name ending in ``.pdf``. Pass ``data`` (``Report.data`` of the other
    language's report of the same month) to reuse what was computed.
    """
    report = build_report(settings, as_of=as_of, lang=lang, sections=sections, data=data)
    return render_report(report, settings=settings, out=out, pdf=pdf, static_charts=static_charts)


def render_report(
    report: Report,
    *,
    settings: Settings,
    out: Path | None = None,
    pdf: bool = False,
    static_charts: bool = True,
) -> Path:
    """Write a built report as HTML (and PDF beside it); the HTML path.

    With ``static_charts`` the charts are also stored as drawn (SVG, by headless
    Chromium when it is installed), so the file shows them without JavaScript too.
    """
    from .render import freeze_charts, generated_at, render_html, write_pdf

    month = f"{report.as_of:%Y-%m}"
    path = out or settings.reports_dir / f"report-{month}-{report.lang}.html"
    title = Bi(f"客户流失月报 · {month}", f"Monthly churn report · {month}").pick(report.lang)
    subtitle = Bi(
        f"工作区 {settings.workspace.name} · 生成于 {generated_at()}",
        f"workspace {settings.workspace.name} · generated {generated_at()}",
    ).pick(report.lang)
    footer = Bi(
        "churnguard 月报：个人信息（号码、姓名、证件号）均已脱敏。",
        "churnguard monthly report: personal data (numbers, names, ID numbers) is masked.",
    ).pick(report.lang)
    html = render_html(
        report.sections, lang=report.lang, title=title, subtitle=subtitle, footer=footer
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    if static_charts and any(c for s in report.sections if not s.missing for c in s.charts):
        freeze_charts(path)
    if pdf:
        write_pdf(path, path.with_suffix(".pdf"))
    return path
