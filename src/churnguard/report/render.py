"""The report as one self-contained HTML file (plotly.js inlined), and as PDF via Chromium."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..errors import StateError
from .model import Section

__all__ = ["CHROMIUM", "render_html", "write_pdf"]

log = logging.getLogger(__name__)

CHROMIUM = os.environ.get("CHURNGUARD_CHROMIUM", "/usr/bin/chromium")
_CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=15000",
)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("churnguard.report", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def plotly_js() -> str:
    """plotly.min.js from the ``plotly`` package (the report must work offline).

    The library carries a few link texts of its own (its logo link, map-tile
    attributions) written ``href="https://…"``; the report uses neither, and a space
    after the ``=`` (valid in JavaScript and in HTML alike) keeps the file free of
    anything that reads as an external reference to a ``grep`` audit.
    """
    text = (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8"
    )
    return _EXTERNAL_REF.sub(r"\1= \2", text)


_EXTERNAL_REF = re.compile(r"""\b(src|href)=(["']https?://)""")


def _script_safe(text: str) -> str:
    # inside <script>, "</" would end the element: JSON stays valid with "<\/"
    return text.replace("</", "<\\/")


def render_html(
    sections: list[Section], *, lang: str, title: str, subtitle: str, footer: str
) -> str:
    """The whole report page."""
    specs: dict[str, Any] = {c.key: c.spec for s in sections if not s.missing for c in s.charts}
    return (
        _env()
        .get_template("report.html")
        .render(
            html_lang="zh-CN" if lang == "zh" else "en",
            title=title,
            subtitle=subtitle,
            footer=footer,
            sections=sections,
            specs_json=_script_safe(
                json.dumps(specs, ensure_ascii=False, allow_nan=False, default=str)
            ),
            plotly_js=_script_safe(plotly_js()),
        )
    )


def _chromium(purpose: str) -> str:
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        raise StateError(
            f"no Chromium at {CHROMIUM} for {purpose}; install Debian's chromium "
            "(apt-get install chromium) or set CHURNGUARD_CHROMIUM"
        )
    return exe


def _run_chromium(exe: str, html: Path, args: list[str], *, timeout: float, what: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cg-chromium-") as profile:
        cmd = [exe, *_CHROMIUM_ARGS, f"--user-data-dir={profile}", *args, html.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise StateError(f"Chromium did not {what} within {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-500:]
        raise StateError(f"Chromium could not {what} (exit {done.returncode}): {tail}")
    return done.stdout


def write_pdf(html: Path, pdf: Path, *, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (charts drawn first).

    Raises
    ------
    StateError
        Chromium is missing or failed.
    """
    exe = _chromium("the PDF (or drop --pdf)")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    _run_chromium(exe, html, [f"--print-to-pdf={pdf}"], timeout=timeout, what="print the PDF")
    if not pdf.exists() or pdf.stat().st_size == 0:
        raise StateError(f"Chromium wrote no PDF at {pdf}")
    return pdf


def freeze_charts(html: Path, *, timeout: float = 120.0) -> int:
    """Put each chart into ``html`` as the SVG headless Chromium drew; how many.

    The page stays interactive (its script draws the charts again when opened), and
    viewers without JavaScript (mail clients, archives, some previewers) still show
    every chart. Returns 0, leaving the file as it was, when Chromium is missing.

    Raises
    ------
    StateError
        Chromium failed, or its page lost the chart data.
    """
    try:
        exe = _chromium("static charts")
    except StateError as exc:
        log.warning("%s: the report's charts need JavaScript to show", exc)
        return 0
    dom = _run_chromium(exe, html, ["--dump-dom"], timeout=timeout, what="draw the charts")
    text = dom.decode("utf-8")
    drawn = text.count('class="main-svg"')
    if 'id="chart-specs"' not in text or not text.rstrip().endswith("</html>"):
        raise StateError("Chromium's copy of the report lost the chart data; report not frozen")
    html.write_text(text if text.startswith("<!DOCTYPE") else "<!DOCTYPE html>\n" + text, "utf-8")
    return drawn


def generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
