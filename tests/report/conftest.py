"""Report fixtures: the monthly report of the session's simulated operator in zh and en."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from churnguard.config import load_settings
from churnguard.report import Report, build_report, render_report
from tests.support.operator import AS_OF


@dataclass(frozen=True)
class Written:
    report: Report
    path: Path
    html: str


@pytest.fixture(scope="session")
def reports(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Written]:
    """``{"zh": ..., "en": ...}``: the report of AS_OF in both languages (the en one reuses
    the zh one's data); the warned workspace is only read."""
    settings = load_settings(warned_ws)
    out = tmp_path_factory.mktemp("report")
    zh = build_report(settings, as_of=AS_OF, lang="zh")
    en = build_report(settings, as_of=AS_OF, lang="en", data=zh.data)
    written = {}
    for r in (zh, en):
        path = render_report(r, settings=settings, out=out / f"report-{r.lang}.html")
        written[r.lang] = Written(r, path, path.read_text(encoding="utf-8"))
    return written
