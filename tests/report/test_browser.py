"""The report in headless Chromium: charts drawn, Chinese text shown, no JavaScript error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.report.conftest import Written

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_report_renders_in_chromium(reports: dict[str, Written], browser: Any, lang: str) -> None:
    w = reports[lang]
    ctx = browser.new_context(viewport={"width": 1360, "height": 900}, offline=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        page.goto(w.path.resolve().as_uri())
        page.wait_for_selector("body[data-charts-drawn]", timeout=30_000)
        charts = page.locator("div.chart")
        drawn = page.locator("div.chart svg.main-svg")
        n = charts.count()
        assert n >= 15
        # every chart div holds a plotly figure (plotly draws 2+ svg layers per figure)
        assert page.evaluate(
            "() => [...document.querySelectorAll('div.chart')]"
            ".every(d => d.querySelector('svg.main-svg') !== null)"
        )
        assert drawn.count() >= n
        # plotly.js had no network to fetch from: the inlined bundle drew the charts
        assert page.evaluate("() => typeof Plotly") == "object"
        title = page.inner_text("#report-title")
        if lang == "zh":
            assert title == "客户流失月报 · 2024-09"
            assert "流失率趋势" in page.inner_text("#section-trend h2")
            assert "还没有挽留活动" in page.inner_text("#section-campaigns")
            # Chinese axis / legend text inside a chart
            assert "套餐" in page.inner_text("#chart-km-plan_id")
        else:
            assert title == "Monthly churn report · 2024-09"
            assert "no retention campaign yet" in page.inner_text("#section-campaigns")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"report-{lang}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 100_000
        assert errors == []
    finally:
        ctx.close()
