from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from churnguard.errors import ConfigError
from churnguard.warnings.rules import GroupCollectiveRule, ThresholdRule, load_rules


def _table() -> ibis.Table:
    return ibis.memtable(
        pd.DataFrame(
            {
                "subscriber_id": ["a", "b", "c", "d"],
                "service_type": ["mobile", "mobile", "tv", "mobile"],
                "arrears_streak": [0, 2, 3, None],
                "voice_chg": [-0.6, -0.2, None, -0.9],
                "call_forward_offnet_last": [5, 5, 0, 1],
                "call_forward_offnet_3m": [3, 12, 0, 0],
                "group_id": ["g1", "g1", None, "g2"],
                "group_churned_3m": [2, 2, None, 0],
                "port_out_queries_3m": [1, 0, 0, 1],
                "cancel_inquiries_3m": [0, 0, 0, 0],
            }
        )
    )


def test_default_rules_load_with_unique_codes() -> None:
    rules = load_rules()
    codes = [r.code for r in rules.all]
    assert len(codes) == len(set(codes)) >= 14
    kinds = {r.kind for r in rules.all}
    assert kinds == {"threshold", "group_collective"}
    assert rules.by_code("W001").passive


def test_threshold_rule_fires_vectorized() -> None:
    rules = load_rules()
    t = _table()
    w001 = rules.by_code("W001")
    w002 = rules.by_code("W002")
    w011 = rules.by_code("W011")
    assert isinstance(w001, ThresholdRule) and isinstance(w002, ThresholdRule)
    assert isinstance(w011, ThresholdRule)
    out = t.mutate(
        w001=w001.hit(t), w002=w002.hit(t), w011=w011.hit(t), v002=w002.value(t)
    ).execute()
    assert out["w001"].tolist() == [False, True, True, False]  # NULL never fires
    assert out["w002"].tolist() == [True, False, False, True]  # tv is out of scope
    # forwarded calls rising: 5 > 0.5 × 3 yes; 5 > 0.5 × 12 no; 1 < 3
    assert out["w011"].tolist() == [True, False, False, False]
    assert w002.render(out["v002"].iloc[0], lang="zh") == "通话时长较三个月均值下降 60%"
    assert w002.render(out["v002"].iloc[0], lang="en") == "call minutes down 60% vs 3-month average"


def test_group_rule_counts_churned_plus_signalling_members() -> None:
    rule = load_rules().by_code("W014")
    assert isinstance(rule, GroupCollectiveRule)
    counts = rule.group_counts(_table()).execute().set_index("group_id")
    assert counts.loc["g1", "churned"] == 2
    # a asked about portability, b forwards calls to rivals
    assert counts.loc["g1", "signalling"] == 2
    assert counts.loc["g1", "affected"] == 4
    assert counts.loc["g2", "affected"] == 1


def test_workspace_rules_are_copied_and_editable(tmp_path: Path) -> None:
    rules = load_rules(workspace=tmp_path)
    assert (tmp_path / "rules.yaml").is_file()
    text = (tmp_path / "rules.yaml").read_text(encoding="utf-8")
    text = text.replace("    passive: true", "    passive: true\n    muted: true", 1)
    (tmp_path / "rules.yaml").write_text(text, encoding="utf-8")
    again = load_rules(workspace=tmp_path)
    assert "W001" not in [r.code for r in again.active]
    assert len(again.active) == len(rules.active) - 1


@pytest.mark.parametrize(
    ("yaml_text", "fragment"),
    [
        (
            "rules: [{code: W1, title_en: a, title_zh: b, severity: red, category: x, show: y,"
            " when: [{column: y, op: '>', value: 1}]}]",
            "code",
        ),
        (
            "rules: [{code: W001, title_en: a, title_zh: b, severity: purple, category: x,"
            " show: y, when: [{column: y, op: '>', value: 1}]}]",
            "severity",
        ),
        (
            "rules: [{code: W001, title_en: a, title_zh: b, severity: red, category: x, show: y,"
            " when: [{column: y, op: '>'}]}]",
            "exactly one of value",
        ),
        ("rules: [: bad", "cannot read"),
    ],
)
def test_invalid_rule_files_name_the_problem(tmp_path: Path, yaml_text: str, fragment: str) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=fragment):
        load_rules(f)


def test_unknown_columns_are_reported_with_close_matches() -> None:
    rules = load_rules()
    with pytest.raises(
        ConfigError, match=r"W001 reads unknown column 'arrears_streak'.*arrears_streaks"
    ):
        rules.check_columns(["arrears_streaks", "service_type"])
