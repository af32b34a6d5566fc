"""The report as one self-contained HTML file (plotly.js inlined), and as PDF via Chromium."""

from __future__ import annotations

import json
import os
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
    """plotly.min.js from the ``plotly`` package (the report must work offline)."""
    return (resources.files("plotly") / "package_data" / "plotly.min.js").read_text(
        encoding="utf-8"
    )


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


def write_pdf(html: Path, pdf: Path, *, timeout: float = 120.0) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (charts drawn first).

    Raises
    ------
    StateError
        Chromium is missing or failed.
    """
    exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not exe:
        raise StateError(
            f"no Chromium at {CHROMIUM} for the PDF; install Debian's chromium "
            "(apt-get install chromium) or set CHURNGUARD_CHROMIUM, or drop --pdf"
        )
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cg-chromium-") as profile:
        cmd = [
            exe,
            *_CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise StateError(f"Chromium did not print the PDF within {timeout:.0f} s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        tail = done.stderr.decode("utf-8", "replace")[-500:]
        raise StateError(f"Chromium could not print the PDF (exit {done.returncode}): {tail}")
    return pdf


def generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
