from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from churnguard.config.warnings import WarningSettings
from churnguard.warnings.engine import evaluate
from churnguard.warnings.rules import load_rules


def _base(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "subscriber_id": [f"S{i:05d}" for i in range(n)],
            "churn_probability": rng.beta(0.6, 8, size=n),
            "service_type": rng.choice(["mobile", "broadband", "tv"], size=n, p=[0.7, 0.2, 0.1]),
            "payment_type": "postpaid",
            "customer_type": "individual",
            "group_id": None,
            "region": "r1",
            "value_tier": rng.choice(["high", "medium", "low"], size=n),
            "clv": rng.gamma(2, 500, size=n),
            "arpu_3m": rng.gamma(2, 40, size=n),
            "arrears_streak": 0,
            "voice_chg": rng.normal(0, 0.3, size=n),
            "data_chg": rng.normal(0, 0.3, size=n),
            "viewing_chg": rng.normal(0, 0.3, size=n),
            "device_offline_days_last": 0,
            "complaints_3m": 0,
            "complaints_open": 0,
            "cancel_inquiries_3m": 0,
            "port_out_queries_3m": 0,
            "months_to_contract_end": 12,
            "call_forward_offnet_last": 0,
            "call_forward_offnet_3m": 0,
            "calls_in_out_ratio_3m": 1.0,
            "arpu_chg": 0.0,
            "group_churned_3m": np.nan,
            "top_reasons_zh": [["通话时长较三个月均值下降 40%", "近3个月投诉 2 次"]] * n,
            "top_reasons_en": [["call minutes down 40%", "2 complaints"]] * n,
            "top_categories": [["usage_decline", "service_complaints"]] * n,
        }
    )
    # a low-risk customer in arrears: passive, orange by rule W001
    df.loc[0, ["churn_probability", "arrears_streak"]] = [0.01, 3]
    # a low-risk customer asking about number portability: red by rule W009
    df.loc[1, ["churn_probability", "port_out_queries_3m"]] = [0.01, 1]
    # a corporate group: 2 members already left, 1 active member forwards calls to rivals
    df.loc[2:5, "group_id"] = "G1"
    df.loc[2:5, "customer_type"] = "group"
    df.loc[2:5, "group_churned_3m"] = 2
    df.loc[2:5, "churn_probability"] = 0.01
    df.loc[3, "call_forward_offnet_last"] = 4
    # a low-risk mobile customer whose calls fell 80%: yellow by rule W002
    df.loc[6, ["churn_probability", "voice_chg", "service_type"]] = [0.01, -0.8, "mobile"]
    return df


def test_grading_in_slices_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates are graded a slice at a time; the slices change no warning or its order."""
    from churnguard.warnings import engine

    def run() -> pd.DataFrame:
        return evaluate(
            ibis.memtable(_base()),
            rules=load_rules(),
            settings=WarningSettings(),
            as_of=date(2025, 5, 1),
            run_date=date(2025, 6, 2),
        ).warnings

    whole = run()
    monkeypatch.setattr(engine, "GRADE_ROWS", 37)
    sliced = run()
    assert len(whole) > 3 * 37  # several slices, the last one short
    pd.testing.assert_frame_equal(sliced, whole)


def test_levels_reasons_queues_and_deadlines() -> None:
    df = _base()
    batch = evaluate(
        ibis.memtable(df),
        rules=load_rules(),
        settings=WarningSettings(),
        as_of=date(2025, 5, 1),
        run_date=date(2025, 6, 2),
    )
    w = batch.warnings.set_index("subscriber_id")
    th = batch.thresholds
    assert batch.scored == len(df)
    # every customer above the yellow cut is warned, at the level of its probability or higher
    above = df[df.churn_probability >= th.yellow]
    assert set(above.subscriber_id) <= set(w.index)
    red_by_model = df[df.churn_probability >= th.red].subscriber_id
    assert (w.loc[red_by_model, "level"] == "red").all()
    # the expected precision of the red level (mean calibrated p) reaches its target
    assert w.loc[w.model_level == "red", "churn_probability"].mean() >= 0.5

    arrears = w.loc["S00000"]
    assert arrears["level"] == "orange" and arrears["model_level"] is None
    assert arrears["passive"] and not arrears["retention_target"]
    assert arrears["churn_type"] == "passive" and arrears["queue"] == "collections"
    assert arrears["reasons_zh"].startswith("连续欠费 3 个月")
    assert arrears["next_step_en"].startswith("Payment reminder")

    port = w.loc["S00001"]
    assert port["level"] == "red" and port["rule_codes"] == "W009"
    assert port["churn_type"] == "competitor"
    assert port["reasons_en"].startswith("asked about number portability 1 times")
    # reasons are capped at 3 and mix rules first, then the model's
    assert port["reasons_zh"].split("；")[1] == "通话时长较三个月均值下降 40%"
    assert len(port["reasons_zh"].split("；")) == 3

    # a model reason of a category a rule already named is not repeated
    usage = w.loc["S00006"]
    assert usage["reasons_zh"].split("；") == ["通话时长较三个月均值下降 80%", "近3个月投诉 2 次"]
    assert usage["top_category"] == "usage_decline"

    # the group: 2 left + 1 signalling = 3 ≥ min_members → every active member warned red
    members = [f"S{i:05d}" for i in range(2, 6)]
    assert (w.loc[members, "level"] == "red").all()
    assert (w.loc[members, "queue"] == "group_accounts").all()
    g = batch.groups.set_index("group_id").loc["G1"]
    assert g["affected"] == 3 and g["members"] == members
    assert g["reason_zh"] == "所在集团已有 3 名成员离网或有转网迹象（集体离网）"

    # deadlines: raised Monday 2 June 2025 → red Tuesday, orange Thursday, yellow next Monday
    due = batch.warnings.groupby("level")["deadline"].first().to_dict()
    assert due == {"red": date(2025, 6, 3), "orange": date(2025, 6, 5), "yellow": date(2025, 6, 9)}


def test_muted_rules_do_not_fire(tmp_path: Path) -> None:
    ws = tmp_path
    load_rules(workspace=ws)
    text = (ws / "rules.yaml").read_text(encoding="utf-8")
    (ws / "rules.yaml").write_text(
        text.replace("  - code: W009\n", "  - code: W009\n    muted: true\n"), encoding="utf-8"
    )
    rules = load_rules(workspace=ws)
    batch = evaluate(
        ibis.memtable(_base()),
        rules=rules,
        settings=WarningSettings(),
        as_of=date(2025, 5, 1),
        run_date=date(2025, 6, 2),
    )
    assert "S00001" not in set(batch.warnings.subscriber_id)


def test_model_reasons_read_the_same_from_text_and_lists() -> None:
    from churnguard.warnings.engine import _model_reasons

    as_text = pd.DataFrame(
        {
            "top_reasons_zh": ["通话下降；账单逾期", None, "", "投诉增加"],
            "top_reasons_en": ["calls down; bill late", None, "", "complaints up"],
            "top_categories": ["usage_decline,payment_difficulty", None, "", "service_complaints"],
        }
    )
    as_lists = pd.DataFrame(
        {
            "top_reasons_zh": [["通话下降", "账单逾期"], None, [], np.array(["投诉增加"])],
            "top_reasons_en": [["calls down", "bill late"], None, [], np.array(["complaints up"])],
            "top_categories": [
                ["usage_decline", "payment_difficulty"],
                None,
                [],
                np.array(["service_complaints"]),
            ],
        }
    )
    for df in (as_text, as_lists):
        got = _model_reasons(df)
        assert got["row"].tolist() == [0, 0, 3]
        assert got["order"].tolist() == [1000, 1001, 1000]
        assert got["en"].tolist() == ["calls down", "bill late", "complaints up"]
        assert got["zh"].tolist() == ["通话下降", "账单逾期", "投诉增加"]
        assert got["category"].tolist() == [
            "usage_decline",
            "payment_difficulty",
            "service_complaints",
        ]
    broken = as_text.assign(top_categories=["usage_decline", None, "", "service_complaints"])
    with pytest.raises(ValueError, match="differ in length"):
        _model_reasons(broken)


def test_reason_counts_count_each_rule_and_top_category() -> None:
    from churnguard.warnings.engine import WarningBatch
    from churnguard.warnings.levels import LevelThresholds
    from churnguard.warnings.run import WarnResult
    from churnguard.warnings.store import RecordSummary

    w = pd.DataFrame(
        {
            "rule_codes": ["W001,W004", "W004", "", None, "W001,W004", "W010"],
            "top_category": [
                "payment_difficulty",
                "usage_decline",
                None,
                "usage_decline",
                "x",
                "x",
            ],
        }
    )
    batch = WarningBatch(
        as_of=date(2024, 11, 1),
        run_date=date(2024, 12, 2),
        thresholds=LevelThresholds(0.5, 0.3, 0.1, "precision"),
        warnings=w,
        groups=pd.DataFrame(),
        candidates=6,
        scored=10,
    )
    result = WarnResult(
        as_of=batch.as_of,
        run_date=batch.run_date,
        batch=batch,
        stored=RecordSummary(),
        matrix=pd.DataFrame(),
        model_version=None,
        seconds=0.0,
    )
    assert result.reason_counts() == {
        "category:usage_decline": 2,
        "category:x": 2,
        "category:payment_difficulty": 1,
        "rule:W004": 3,
        "rule:W001": 2,
        "rule:W010": 1,
    }
