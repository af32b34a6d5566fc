"""The committed data-contract page is generated from the contract and up to date."""

from __future__ import annotations

from pathlib import Path

from churnguard.contract import TABLES, RejectReason
from churnguard.contract.docs import render_data_contract

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_committed_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == render_data_contract(), (
        "docs/data-contract.md is stale: run "
        "'python -m churnguard.contract.docs > docs/data-contract.md'"
    )


def test_page_covers_every_column_and_reason() -> None:
    text = render_data_contract()
    for t in TABLES.values():
        assert f"## `{t.name}`" in text
        for c in t.columns:
            assert f"| `{c.name}` |" in text and c.zh in text
    for r in RejectReason:
        assert f"| `{r.value}` | {r.en} | {r.zh} |" in text
    assert "| `msisdn` | text · 文本 · `VARCHAR` |  |  | yes 是 | Phone number | 手机号码 |" in text
    assert "`mobile` · `broadband` · `tv`" in text
    assert "| 0 – 120 years |" in text
