"""Complaint text mining: jieba and English terms, distinguishing terms, text features."""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from churnguard.analytics.complaint_text import (
    TEXT_FEATURES_TABLE,
    categories_of,
    terms_from,
    tokenize,
    window_complaints,
    write_text_features,
)
from churnguard.analytics.population import Window
from churnguard.config import Settings, load_settings


def test_chinese_is_cut_with_jieba_and_domain_words_stay_whole() -> None:
    terms = tokenize("资费太贵了，别家同样的套餐便宜一半，我要携号转网。")
    assert "携号转网" in terms and "资费" in terms and "太贵" in terms
    assert "了" not in terms and "，" not in terms
    assert tokenize("Signal is terrible; I will port my number to another carrier.") == [
        "signal", "terrible", "port", "number", "another", "carrier",
    ]  # fmt: skip
    assert tokenize("") == []


def test_tokenizing_raises_no_warning_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokenize("信号差，网速慢")
    assert not [r for r in caplog.records if r.name.startswith("jieba")]


def test_terms_map_to_reason_categories() -> None:
    assert categories_of("携号转网") == ["leaving_intent"]
    assert categories_of("信号太差") == ["network_quality"]
    assert categories_of("账单") == ["billing"]
    assert categories_of("机顶盒") == ["device"]
    assert categories_of("cheaper") == ["price_competitor"]
    assert categories_of("一半") == []


def test_distinguishing_terms_by_hand() -> None:
    docs = pd.DataFrame(
        {
            "text": ["我要携号转网"] * 4
            + ["请检查基站"] * 2
            + ["请检查基站"] * 6
            + ["我要携号转网"],
            "churner": [True] * 6 + [False] * 7,
        }
    )
    result = terms_from(docs, min_docs=3, top=5)
    assert (result.churner_complaints, result.other_complaints) == (6, 7)
    top = result.churner_terms[0]
    assert top.term == "携号转网" and top.category == "leaving_intent"
    assert (top.churner_docs, top.other_docs) == (4, 1)
    a, b, c, d = 4.5, 1.5, 2.5, 6.5
    assert top.log_odds == pytest.approx(math.log(a / c) - math.log(b / d))
    assert top.z == pytest.approx(top.log_odds / math.sqrt(1 / a + 1 / b + 1 / c + 1 / d))
    assert top.category_zh == "离网意向" and top.category_en == "intent to leave"
    assert result.other_terms[0].term in {"检查", "基站", "检查基站"}
    cats = {c["category"]: c for c in result.categories}
    assert cats["leaving_intent"]["churner_share"] == pytest.approx(4 / 6)
    assert cats["leaving_intent"]["other_share"] == pytest.approx(1 / 7)


def test_on_the_simulated_operator_churners_talk_about_leaving(
    warned_settings: Settings, window: Window, labelled: pd.DataFrame
) -> None:
    churners = labelled.loc[labelled["label"] == 1, "subscriber_id"]
    docs = window_complaints(warned_settings, window, churners)
    result = terms_from(docs, top=30, window=window.label)
    assert result.churner_complaints > 50 and result.other_complaints > result.churner_complaints
    cats = {c["category"]: c for c in result.categories}
    # the simulator's leaving pools mention port-out and rivals far more often
    assert cats["leaving_intent"]["churner_share"] > 1.5 * cats["leaving_intent"]["other_share"]
    assert any(
        t.category in ("leaving_intent", "price_competitor") for t in result.churner_terms[:5]
    )
    assert {t.lang for t in result.churner_terms} <= {"zh", "en"}


def test_text_features_are_written_per_subscriber(warned_ws: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    settings = load_settings(ws)
    info = write_text_features(settings, as_of="2024-09")
    again = write_text_features(settings, as_of="2024-09")  # replaces, never duplicates
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        stored = con.execute(f"SELECT * FROM {TEXT_FEATURES_TABLE} ORDER BY subscriber_id").df()
        complaints = con.execute(
            "SELECT subscriber_id, text FROM complaints "
            "WHERE created_at >= DATE '2024-04-01' AND created_at < DATE '2024-10-01'"
        ).df()
    finally:
        con.close()
    assert (
        info.subscribers
        == again.subscribers
        == len(stored)
        == complaints["subscriber_id"].nunique()
    )
    # the counts agree with tokenising every complaint directly
    leaving = complaints["text"].map(
        lambda t: any("leaving_intent" in categories_of(w) for w in tokenize(t))
    )
    expected = leaving.groupby(complaints["subscriber_id"]).sum().sort_index()
    got = stored.set_index("subscriber_id")["text_leaving_intent_6m"].sort_index()
    assert got.sum() > 0
    pd.testing.assert_series_equal(got.astype(int), expected.astype(int), check_names=False)
    n = complaints.groupby("subscriber_id").size().sort_index()
    pd.testing.assert_series_equal(
        stored.set_index("subscriber_id")["complaint_texts_6m"].sort_index().astype(int),
        n.astype(int),
        check_names=False,
    )
