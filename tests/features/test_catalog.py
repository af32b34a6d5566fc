"""The catalog: complete, well-formed, bilingual, versioned; its docs page is current."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import churnguard.features as features
from churnguard.features import (
    CATALOG,
    CATALOG_VERSION,
    REASON_CATEGORIES,
    FeatureDef,
    ReasonCategory,
    ReasonFormat,
    categorical_columns,
    feature,
    feature_columns,
)
from churnguard.features.catalog import catalog_version
from churnguard.features.docs import catalog_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_public_api_is_exactly_all() -> None:
    public = {n for n in dir(features) if not n.startswith("_")} - {"annotations"}
    modules = {
        "aggregates",
        "billing",
        "catalog",
        "complaints",
        "context",
        "devices",
        "docs",
        "engagement",
        "engines",
        "groups",
        "labels",
        "lifecycle",
        "network",
        "plans",
        "registry",
        "snapshot",
        "store",
        "surveys",
        "training",
        "usage",
    }
    assert public - modules == set(features.__all__)


def test_catalog_is_large_unique_and_ordered() -> None:
    names = [f.name for f in CATALOG]
    assert len(names) >= 80
    assert len(set(names)) == len(names)
    assert feature_columns() == names
    assert categorical_columns() == [
        "service_type",
        "payment_type",
        "customer_type",
        "region",
        "acquisition_channel",
        "gender",
    ]


def test_every_reason_category_is_used_and_bilingual() -> None:
    used = {f.category for f in CATALOG}
    assert used == set(ReasonCategory)
    for cat in ReasonCategory:
        en, zh = REASON_CATEGORIES[cat]
        assert cat.en == en and cat.zh == zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh)


@pytest.mark.parametrize("f", CATALOG, ids=lambda f: f.name)
def test_feature_is_documented_in_both_languages(f: FeatureDef) -> None:
    assert f.en and f.zh and f.unit
    assert any("\u4e00" <= ch <= "\u9fff" for ch in f.zh)
    if f.risk_direction:
        assert "{value}" in f.reason_en and "{value}" in f.reason_zh
        zh = f.reason(-0.356, lang="zh")
        en = f.reason(-0.356, lang="en")
        assert "{" not in zh and "{" not in en
    else:
        with pytest.raises(ValueError, match="descriptive"):
            f.reason(1.0)


def test_design_indicators_are_covered() -> None:
    # DESIGN.md's list of indicators, each mapped to at least one feature
    required = [
        "voice_chg",
        "data_zscore",
        "payments_3m",
        "late_payments_6m",
        "arrears_streak",
        "complaints_trend",
        "interactions_chg",
        "signal_dbm_chg",
        "dropped_call_rate_trend6",
        "plan_changes_6m",
        "downgrades_6m",
        "months_to_contract_end",
        "cancel_inquiries_3m",
        "call_forward_offnet_3m",
        "calls_in_out_ratio_3m",
        "viewing_chg",
        "device_offline_days_last",
        "group_churned_3m",
        "arpu_chg",
        "offnet_share_3m",
        "days_late_avg_6m",
        "complaints_open",
        "complaints_dissatisfied_6m",
        "complaint_resolution_hours_6m",
        "outage_minutes_3m",
        "download_mbps_chg",
        "csat_last",
        "nps_last",
        "tenure_months",
        "group_size",
        "port_out_queries_3m",
    ]
    for prefix in ("voice", "data", "sms", "viewing"):
        required += [f"{prefix}_{s}" for s in ("last", "avg3", "avg6", "chg", "trend6")]
    missing = [n for n in required if n not in feature_columns()]
    assert missing == []


def test_reason_rendering() -> None:
    assert feature("voice_chg").reason(-0.356, lang="zh") == "通话时长较前三个月均值下降 36%"
    assert feature("voice_chg").reason(-0.356, lang="en") == (
        "call minutes down 36% vs the 3-month average"
    )
    assert feature("offnet_share_3m").reason(0.42, lang="en") == (
        "42% of call minutes go to other operators"
    )
    assert feature("arrears_streak").reason(3.0) == "已连续欠费 3 个月"
    assert ReasonFormat.ABS_DECIMAL.render(-3.26) == "3.3"
    with pytest.raises(ValueError, match="language"):
        feature("voice_chg").reason(0.1, lang="fr")


def test_bad_definitions_are_refused() -> None:
    base = feature("voice_chg")
    with pytest.raises(ValueError, match="risk_direction"):
        dataclasses.replace(base, risk_direction=2)
    with pytest.raises(ValueError, match="reason templates"):
        dataclasses.replace(base, reason_en="")
    with pytest.raises(ValueError, match="lacks"):
        dataclasses.replace(base, reason_zh="下降了")


def test_version_tracks_definitions() -> None:
    from churnguard.features import aggregates, context
    from churnguard.features.registry import FAMILIES

    assert catalog_version(CATALOG, families=FAMILIES, helpers=(aggregates, context)) == (
        CATALOG_VERSION
    )
    assert len(CATALOG_VERSION) == 12
    assert catalog_version(CATALOG) != CATALOG_VERSION  # helpers and frames count
    changed = list(CATALOG)
    changed[0] = dataclasses.replace(changed[0], unit="other")
    assert catalog_version(changed) != catalog_version(CATALOG)
    other_expr = list(CATALOG)
    i = feature_columns().index("voice_avg3")
    other_expr[i] = dataclasses.replace(CATALOG[i], expr=feature("voice_avg6").expr)
    assert catalog_version(other_expr) != catalog_version(CATALOG)


def test_docs_page_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == catalog_markdown(), (
        "docs/features.md is stale: run "
        "'.venv/bin/python -m churnguard.features.docs > docs/features.md'"
    )
