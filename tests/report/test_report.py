"""The monthly report: sections in both languages, missing inputs, pluggable sections, PDF."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from churnguard.analytics.texts import Bi
from churnguard.config import load_settings
from churnguard.errors import InputError, StateError
from churnguard.report import (
    SECTIONS,
    MissingInput,
    ReportContext,
    Section,
    TableBlock,
    build_report,
)
from churnguard.report.sections import campaigns
from tests.report.conftest import Written
from tests.support.operator import AS_OF

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
KEYS = [
    "trend", "timing", "survival", "reasons", "value_risk", "model", "campaigns", "personas",
    "rules", "text", "surveys", "groups", "team_performance", "data_quality",
]  # fmt: skip
TITLES = {
    "zh": [
        "流失率趋势", "客户留存（生存分析）", "流失原因", "价值 × 风险矩阵", "模型表现",
        "挽留活动", "流失客户画像", "流失关联规则", "投诉文本挖掘", "满意度调查",
        "集团离网与一人多卡", "团队绩效", "数据质量",
    ],
    "en": [
        "Churn rate trend", "Survival", "Churn reasons", "Value × risk matrix",
        "Model performance", "Retention campaigns", "Churner personas",
        "Churn association rules", "Complaint text mining", "Satisfaction surveys",
        "Group churn and second SIMs", "Team performance", "Data quality",
    ],
}  # fmt: skip


def _specs(html: str) -> dict[str, object]:
    raw = html.split('<script id="chart-specs" type="application/json">', 1)[1]
    return json.loads(raw.split("</script>", 1)[0].replace("<\\/", "</"))  # type: ignore[no-any-return]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_section_is_in_the_page_in_its_language(
    reports: dict[str, Written], lang: str
) -> None:
    w = reports[lang]
    assert [s.key for s in w.report.sections] == KEYS
    assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in w.html
    for key in KEYS:
        assert f'id="section-{key}"' in w.html
    for title in TITLES[lang]:
        assert f"<h2>{title}</h2>" in w.html
    # the warned workspace has no campaign yet: that section says so in both languages
    assert w.report.missing == ["campaigns"]
    assert "还没有挽留活动" in w.html and "no retention campaign yet" in w.html
    # self-contained: plotly.js inlined, nothing fetched
    assert "<script src" not in w.html and "Plotly.newPlot" in w.html
    assert len(w.html) > 3_000_000  # plotly.min.js is ~3.5 MB
    # one figure per chart div, the same in both languages
    specs = _specs(w.html)
    divs = re.findall(r'<div class="chart[^"]*" id="chart-([\w-]+)"', w.html)
    assert sorted(divs) == sorted(specs) and len(specs) >= 15
    assert {"trend-all", "km-plan_id", "gain", "calibration", "pr", "value-risk"} <= set(specs)
    # personal data never in clear
    assert not PHONE.search(w.html.split("<script>", 1)[0])
    assert not ID_NUMBER.search(w.html.split("<script>", 1)[0])


def test_both_languages_show_the_same_figures(reports: dict[str, Written]) -> None:
    zh, en = (reports[k].report for k in ("zh", "en"))
    zh_sec = {s.key: s for s in zh.sections}
    en_sec = {s.key: s for s in en.sections}
    assert zh.data is en.data  # computed once
    for key in ("survival", "value_risk", "rules"):
        for a, b in zip(zh_sec[key].tables, en_sec[key].tables, strict=True):
            assert len(a.rows) == len(b.rows) and a.title != b.title
    # the log-rank p-values are the same numbers in both reports
    zp = [r[3] for r in zh_sec["survival"].tables[0].rows]
    ep = [r[3] for r in en_sec["survival"].tables[0].rows]
    assert zp == ep
    # model section: a recommendation either way, in each language
    assert any("重新训练" in line for line in zh_sec["model"].summary)
    assert any("retrain" in line.lower() for line in en_sec["model"].summary)


def test_model_section_reports_the_registry_champion(reports: dict[str, Written]) -> None:
    model = next(s for s in reports["en"].report.sections if s.key == "model")
    assert "202411-r1-lightgbm" in model.summary[0] and "2024-07" in model.summary[0]
    metrics = dict((r[0], r[1]) for r in model.tables[0].rows)
    assert 0.5 < float(metrics["ROC AUC"]) <= 1.0
    # the month evaluated lies inside the champion's training window: the report says so
    assert any("optimistic" in line for line in model.summary)


def test_a_section_is_one_line_to_add_and_missing_input_never_fails_the_report(
    warned_ws: Path,
) -> None:
    settings = load_settings(warned_ws)

    def team_performance(ctx: ReportContext) -> Section:
        return Section(
            "team",
            ctx.tr("团队表现", "Team performance"),
            [ctx.tr(f"月份 {ctx.as_of:%Y-%m}", f"month {ctx.as_of:%Y-%m}")],
            tables=[TableBlock("t", ["a"], [[1]])],
        )

    def needs_a_campaign(ctx: ReportContext) -> Section:
        raise MissingInput(Bi("还没有数据", "no data yet"))

    def broken_input(ctx: ReportContext) -> Section:
        raise StateError("no scores table")

    report = build_report(
        settings,
        as_of=AS_OF,
        lang="en",
        sections=(team_performance, needs_a_campaign, broken_input),
    )
    team, missing, broken = report.sections
    assert team.title == "Team performance" and team.summary == ["month 2024-09"]
    assert missing.missing == Bi("还没有数据", "no data yet") and missing.key == "needs_a_campaign"
    assert broken.missing is not None and "no scores table" in broken.missing.en
    assert "本节所需数据缺失" in broken.missing.zh
    assert report.missing == ["needs_a_campaign", "broken_input"]
    # the registry is a plain tuple of builders
    assert (*SECTIONS, team_performance)[-1] is team_performance


def test_bad_language_and_unknown_month(warned_ws: Path) -> None:
    settings = load_settings(warned_ws)
    with pytest.raises(InputError, match="use zh or en"):
        build_report(settings, as_of=AS_OF, lang="fr")
    with pytest.raises(InputError, match=r"no data for 2031-01"):
        build_report(settings, as_of="2031-01", sections=())
    # the CLI turns them into user errors, before any section runs
    from churnguard.cli import report_cmd

    app = typer.Typer()
    report_cmd.register(app)
    result = CliRunner().invoke(
        app, ["--as-of", "2024-09", "--lang", "de", "--workspace", str(warned_ws)]
    )
    assert isinstance(result.exception, InputError)


def test_campaign_section_with_a_planned_campaign(warned_ws: Path, tmp_path: Path) -> None:
    from churnguard.retention.kpi import campaign_kpis
    from churnguard.retention.planning import plan_campaign

    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    settings = load_settings(ws)
    plan = plan_campaign(settings, as_of="2024-09", budget=3000, holdout=0.2, created_by="test")
    report = build_report(settings, as_of=AS_OF, lang="zh", sections=(campaigns,))
    (section,) = report.sections
    assert section.missing is None
    assert [c.key for c in section.charts] == ["funnel"]  # outcomes not known yet: no uplift
    assert f"活动 #{plan.campaign_id}" in section.summary[0]
    assert "结果尚未揭晓" in section.summary[1]
    kpi = campaign_kpis(settings, campaign_id=plan.campaign_id)[0]
    rows = dict((r[0], r[1]) for r in section.tables[0].rows)
    assert rows["干预组 / 对照组"] == f"{kpi['treated']:,} / {kpi['control']:,}"
    assert kpi["treated"] > 0 and kpi["control"] > 0


def test_pdf_is_printed_by_chromium(reports: dict[str, Written], tmp_path: Path) -> None:
    from churnguard.report.render import write_pdf

    pdf = write_pdf(reports["zh"].path, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 100_000
    assert data.count(b"/Type /Page") >= 3 or data.count(b"/Type/Page") >= 3


def test_trend_is_point_in_time_and_matches_the_kpi_churn_rates(
    reports: dict[str, Written],
) -> None:
    from churnguard.retention.kpi import churn_rates

    data = reports["zh"].report.data
    section = next(s for s in reports["en"].report.sections if s.key == "trend")
    spec = next(c.spec for c in section.charts if c.key == "trend-all")
    months = spec["data"][0]["x"]
    # labels of 2024-08 and 2024-09 are not known at 2024-09: the trend stops at 2024-07
    assert months == [f"2024-0{m}" for m in range(1, 8)]
    direct = {
        r["as_of"]: r["churn_rate"]
        for r in churn_rates(data.settings, months=12)
        if r["by"] == "all"
    }
    assert spec["data"][0]["y"] == [direct[m] for m in months]
    assert "2024-07" in section.summary[0]


def test_write_report_goes_to_the_workspace_reports_folder(warned_ws: Path, tmp_path: Path) -> None:
    from churnguard.report import write_report
    from churnguard.report.sections import data_quality

    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    settings = load_settings(ws)
    path = write_report(settings, as_of="2024-09", lang="en", sections=(data_quality,))
    assert path == ws / "reports" / "report-2024-09-en.html"
    html = path.read_text(encoding="utf-8")
    assert "The quarantine is empty" in html and "Monthly churn report · 2024-09" in html


def test_team_performance_section_shows_the_team_kpi_table(reports: dict[str, Written]) -> None:
    from churnguard.retention.team_kpi import team_kpis

    w = reports["en"]
    section = next(s for s in w.report.sections if s.key == "team_performance")
    assert section.missing is None
    by_team = team_kpis(w.report.data.settings, by="team")
    table = section.tables[0]
    assert [r[0] for r in table.rows] == [str(t) for t in by_team["team"]]
    assert sum(int(r[1].replace(",", "")) for r in table.rows) == int(by_team["warnings"].sum())
    assert int(by_team["warnings"].sum()) > 0
    region = section.tables[1]
    assert region.title == "Warning accuracy by region" and region.rows


def test_charts_are_stored_as_drawn_for_viewers_without_javascript(
    reports: dict[str, Written], warned_ws: Path, tmp_path: Path
) -> None:
    from churnguard.report import render_report

    w = reports["zh"]
    keys = [c.key for s in w.report.sections if not s.missing for c in s.charts]
    assert len(keys) >= 8
    for key in keys:  # each chart's div holds the SVG headless Chromium drew
        body = w.html.split(f'id="chart-{key}"', 1)[1].split('<div class="chart', 1)[0]
        assert 'class="main-svg"' in body.split("</section>", 1)[0], key
    # still one self-contained, interactive page
    assert "Plotly.newPlot" in w.html and 'id="chart-specs"' in w.html
    assert not re.search(r'(src|href)="https?://', w.html)
    plain = render_report(
        w.report, settings=load_settings(warned_ws), out=tmp_path / "r.html", static_charts=False
    )
    assert 'class="main-svg"' not in plain.read_text(encoding="utf-8")
