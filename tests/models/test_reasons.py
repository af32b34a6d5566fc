from __future__ import annotations

import numpy as np
import pandas as pd

from churnguard.models.reasons import (
    ReasonText,
    category_contributions,
    column_value_reasons,
    format_values,
    render_catalog_reasons,
    top_indices,
)


def test_top_indices_orders_each_row() -> None:
    v = np.array([[0.1, 0.5, -0.2, 0.3], [2.0, -1.0, 0.0, 1.0]])
    idx, vals = top_indices(v, k=2)
    assert idx.tolist() == [[1, 3], [0, 3]]
    assert vals.tolist() == [[0.5, 0.3], [2.0, 1.0]]


def test_column_value_reasons_name_the_column_and_value() -> None:
    contrib = pd.DataFrame({"plan": [0.9, -0.1], "tenure": [0.4, -0.3], "noise": [-0.2, 0.05]})
    raw = pd.DataFrame({"plan": ["basic", "premium"], "tenure": [2, 60], "noise": [0.1, 0.2]})
    out = column_value_reasons(contrib, raw, top=2)
    assert out.loc[0, "top_reasons"] == "plan = basic; tenure = 2"
    assert (
        out.loc[0, "top_reasons_zh"] == "plan = basic（推高流失风险）；tenure = 2（推高流失风险）"
    )
    # only what raises the risk is a reason
    assert out.loc[1, "top_reasons"] == "noise = 0.2"


TEXTS = [
    ReasonText(
        "minutes_change",
        "usage_decline",
        "call minutes down {value}%",
        "通话时长下降 {value}%",
        "pct_change",
    ),
    ReasonText(
        "data_change", "usage_decline", "data down {value}%", "流量下降 {value}%", "pct_change"
    ),
    ReasonText(
        "complaints", "service_complaints", "{value} complaints", "投诉 {value} 次", "integer"
    ),
    ReasonText(
        "arrears", "payment_difficulty", "arrears {value} CNY", "欠费 {value} 元", "decimal"
    ),
]


def test_catalog_reasons_aggregate_categories_and_fill_templates() -> None:
    contrib = pd.DataFrame(
        {
            "minutes_change": [0.5, 0.0, -0.1],
            "data_change": [0.4, 0.1, 0.0],
            "complaints": [0.6, 0.0, -0.2],
            "arrears": [0.0, 0.3, -0.1],
        }
    )
    values = pd.DataFrame(
        {
            "minutes_change": [-0.62, -0.1, 0.0],
            "data_change": [-0.3, -0.5, 0.0],
            "complaints": [3.0, 0.0, 0.0],
            "arrears": [0.0, 120.55, 0.0],
        }
    )
    cats = category_contributions(contrib, categories={t.feature: t.category for t in TEXTS})
    assert cats.loc[0, "usage_decline"] == 0.9
    out = render_catalog_reasons(contrib, values, texts=TEXTS, top=2)
    # usage (0.9) beats complaints (0.6); within usage the minutes tell the story
    assert out.loc[0, "top_categories"] == "usage_decline,service_complaints"
    assert out.loc[0, "top_reasons_en"] == "call minutes down 62%; 3 complaints"
    assert out.loc[0, "top_reasons_zh"] == "通话时长下降 62%；投诉 3 次"
    assert out.loc[1, "top_reasons_en"] == "arrears 120.6 CNY; data down 50%"
    # nothing raises the risk: no reasons
    assert out.loc[2, "top_reasons_en"] == "" and out.loc[2, "top_categories"] == ""


def test_join_texts_skips_empty_and_missing_pieces() -> None:
    from churnguard.models.reasons import join_texts

    a = np.array(["calls down", "", None, "x", np.nan], dtype=object)
    b = pd.Series(["bill late", "bill late", None, pd.NA, ""], dtype=object)
    c = ["", "3 complaints", None, "z", 7]
    out = join_texts([a, b, c], "; ")
    assert out.tolist() == [
        "calls down; bill late",
        "bill late; 3 complaints",
        "",
        "x; z",
        "",
    ]
    assert out.dtype == object
    assert join_texts([a], "; ").tolist() == ["calls down", "", "", "x", ""]
    assert join_texts([], ";").tolist() == []


def test_format_values_per_format_with_missing_and_non_finite() -> None:
    """Each format's text; NA for missing and ±inf; -0.0 reads 0.0; the index is kept."""
    v = pd.Series([0.123, -0.456, np.nan, np.inf, -0.04, 2.5, 0.123], index=list("abcdefg"))
    got = {
        fmt: format_values(v, fmt).fillna("?").tolist()
        for fmt in ("pct_change", "share_pct", "integer", "abs_decimal", "one_decimal")
    }
    assert got["pct_change"] == ["12", "46", "?", "?", "4", "250", "12"]
    assert got["share_pct"] == ["12", "-46", "?", "?", "-4", "250", "12"]
    assert got["integer"] == ["0", "0", "?", "?", "0", "2", "0"]  # 2.5 rounds half to even
    assert got["abs_decimal"] == ["0.1", "0.5", "?", "?", "0.0", "2.5", "0.1"]
    assert got["one_decimal"] == ["0.1", "-0.5", "?", "?", "0.0", "2.5", "0.1"]
    out = format_values(v, "integer")
    assert list(out.index) == list("abcdefg") and str(out.dtype) == "string"
    assert out.isna().tolist() == [False, False, True, True, False, False, False]
