"""Association rules 'attributes → churn': support, confidence and lift checked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from churnguard.analytics.rules import items_of, rules_for_frame, rules_from
from churnguard.analytics.texts import Bi

TEXTS = {"plan=A": Bi("套餐 A", "plan A"), "net2": Bi("网络投诉", "network complaints")}


def tiny() -> tuple[pd.DataFrame, pd.Series]:
    # 10 customers: plan A (rows 0-4), ≥2 network complaints (rows 0-2, 5), churn rows 0, 1, 5
    items = pd.DataFrame(
        {
            "plan=A": [True] * 5 + [False] * 5,
            "net2": [True, True, True, False, False, True, False, False, False, False],
        }
    )
    churn = pd.Series([True, True, False, False, False, True, False, False, False, False])
    return items, churn


def test_support_confidence_and_lift_match_a_hand_count() -> None:
    items, churn = tiny()
    result = rules_from(items, churn, texts=TEXTS, min_churner_share=0.3, min_lift=1.0)
    assert result.rows == 10 and result.churners == 3 and result.base_rate == pytest.approx(0.3)
    by = {r.antecedent: r for r in result.rules}
    both = by[("net2", "plan=A")]
    # plan A ∧ net2: rows 0-2 (3 customers), 2 of them churned
    assert both.customers == 3 and both.churners == 2
    assert both.support == pytest.approx(2 / 10)
    assert both.confidence == pytest.approx(2 / 3)
    assert both.lift == pytest.approx((2 / 3) / 0.3)
    net = by[("net2",)]  # rows 0, 1, 2, 5: 3 churned
    assert net.support == pytest.approx(0.3) and net.confidence == pytest.approx(0.75)
    assert net.lift == pytest.approx(2.5)
    assert both.text_zh == "网络投诉 ∧ 套餐 A → 离网"
    assert both.text_en == "network complaints ∧ plan A → churn"
    # strongest lift first
    assert [r.lift for r in result.rules] == sorted((r.lift for r in result.rules), reverse=True)
    # plan A alone: confidence 2/5 = 0.4, lift 1.33; filtered out by min_lift 1.5
    strict = rules_from(items, churn, texts=TEXTS, min_churner_share=0.3, min_lift=1.5)
    assert ("plan=A",) not in {r.antecedent for r in strict.rules}


def test_no_churners_or_no_rows_give_no_rules() -> None:
    items, churn = tiny()
    assert rules_from(items, churn & False, texts=TEXTS).rules == []
    empty = rules_from(items.iloc[:0], churn.iloc[:0], texts=TEXTS)
    assert empty.rules == [] and empty.rows == 0


def test_items_are_readable_and_thresholded() -> None:
    frame = pd.DataFrame(
        {
            "plan_id": ["M058", "M088", "M058"],
            "service_type": ["mobile", "mobile", "broadband"],
            "complaints_network_6m": [2.0, 1.0, None],
            "tenure_months": [3.0, 30.0, 60.0],
        }
    )
    items, texts = items_of(frame)
    assert items["net_complaints>=2"].tolist() == [True, False, False]
    assert items["plan_id=M058"].tolist() == [True, False, True]
    assert items["tenure=0-6"].tolist() == [True, False, False]
    assert texts["service_type=broadband"] == Bi("宽带", "broadband")
    assert texts["net_complaints>=2"].zh == "近6个月网络投诉 ≥2 次"
    # an item nobody has is dropped
    assert "tenure=7-12" not in items.columns


def test_rules_on_the_simulated_operator_point_at_its_churn_drivers(labelled: pd.DataFrame) -> None:
    result = rules_for_frame(labelled, top=50)
    assert result.churners == int(labelled["label"].sum())
    assert result.rules and all(r.lift >= 1.2 for r in result.rules)
    # each rule's figures agree with a direct count on the frame
    items, _ = items_of(labelled)
    top = result.rules[0]
    mask = items[list(top.antecedent)].all(axis=1)
    assert top.customers == int(mask.sum())
    assert top.churners == int((mask & (labelled["label"] == 1)).sum())
    assert top.lift == pytest.approx(labelled.loc[mask, "label"].mean() / labelled["label"].mean())
    # the simulator's port-out precursors (portability queries, cancel inquiries) show up
    found = {i for r in result.rules for i in r.antecedent}
    assert {"port_out_query", "cancel_inquiry"} & found
