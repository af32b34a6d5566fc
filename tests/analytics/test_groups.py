"""VPMN collective churn and second-SIM big customers: evidence, and masking."""

from __future__ import annotations

import json
import re
from datetime import date

import pandas as pd

from churnguard.analytics.groups import group_analysis
from churnguard.analytics.population import duck
from churnguard.config import Settings

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_groups_with_collective_churn_and_their_evidence(warned_settings: Settings) -> None:
    result = group_analysis(warned_settings, as_of="2024-09")
    assert result.masked and result.groups
    with duck(warned_settings) as con:
        subs = con.execute(
            "SELECT subscriber_id, group_id, activation_date, churn_date FROM subscribers "
            "WHERE group_id IS NOT NULL"
        ).df()
    end = pd.Timestamp(date(2024, 10, 1))
    left = subs[(subs["churn_date"] >= pd.Timestamp(date(2024, 7, 1))) & (subs["churn_date"] < end)]
    active = subs[(subs["activation_date"] < end) & ~(subs["churn_date"] < end)]
    for g in result.groups:
        assert g["churned_3m"] == int((left["group_id"] == g["group_id"]).sum())
        assert g["active_members"] == int((active["group_id"] == g["group_id"]).sum())
        assert g["churned_3m"] >= 2 or g["churn_share_3m"] >= 0.2
        assert len(g["leavers"]) == g["churned_3m"]
    # a group the warnings flagged is listed with its warning
    assert any(g["group_warning"] and g["group_warning"]["rule"] == "W014" for g in result.groups)
    # no unmasked phone number anywhere in the result
    text = json.dumps(result.to_dict(), ensure_ascii=False, default=str)
    assert not PHONE.search(text)
    assert "****" in text


def test_second_sim_list_holds_high_value_customers_above_the_rule_ratio(
    warned_settings: Settings,
) -> None:
    result = group_analysis(warned_settings, as_of="2024-09", clear_text=True)
    # the workspace does not allow clear-text exports: still masked
    assert result.masked
    assert result.second_sim_ratio == 4.0 and result.second_sim
    for r in result.second_sim:
        assert r["value_tier"] == "high" and r["calls_in_out_ratio_3m"] >= 4.0
        assert "****" in r["msisdn"]
    ratios = [r["calls_in_out_ratio_3m"] for r in result.second_sim]
    assert ratios == sorted(ratios, reverse=True)
