"""The written tables follow the data contract and look like a real operator's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from churnguard.contract import TABLES, ColumnType
from churnguard.simulate.writers import arrow_schema

from .conftest import Sim

MONTHLY = ("usage", "billing", "network_quality")
EVENTS = {
    "complaints": "created_at",
    "interactions": "ts",
    "plan_changes": "changed_at",
    "surveys": "surveyed_at",
}


@pytest.mark.parametrize("name", list(TABLES))
def test_columns_and_types_match_the_contract(sim: Sim, name: str) -> None:
    schema = pq.read_schema(sim.out / f"{name}.parquet")
    assert schema.names == list(TABLES[name].column_names)
    expected = arrow_schema(TABLES[name])
    for field in expected:
        assert schema.field(field.name).type == field.type, field.name


@pytest.mark.parametrize("name", list(TABLES))
def test_clean_rows_respect_required_ranges_and_enums(sim: Sim, name: str) -> None:
    df = sim.table(name)
    assert len(df) > 0
    for col in TABLES[name].columns:
        values = df[col.name]
        if col.required:
            assert values.notna().all(), col.name
        if col.minimum is not None:
            assert (values.dropna() >= col.minimum).all(), col.name
        if col.maximum is not None:
            assert (values.dropna() <= col.maximum).all(), col.name
        if col.allowed:
            assert set(values.dropna()) <= set(col.allowed), col.name
        if col.type == ColumnType.MONTH:
            assert (pd.to_datetime(values).dt.day == 1).all()


@pytest.mark.parametrize("name", list(TABLES))
def test_natural_keys_are_unique(sim: Sim, name: str) -> None:
    df = sim.table(name)
    key = list(TABLES[name].natural_key)
    assert not df.duplicated(key).any()


def test_all_service_types_and_realistic_personal_data(sim: Sim) -> None:
    subs = sim.table("subscribers")
    assert set(subs.service_type) == {"mobile", "broadband", "tv"}
    assert subs.msisdn.str.fullmatch(r"1[3-9]\d{9}").all()
    assert subs.msisdn.is_unique
    assert subs.name.str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()
    assert subs.email.str.fullmatch(r"[a-z0-9]+@[a-z0-9]+\.com").all()
    ids = subs.id_number
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    digits = np.array([[int(c) for c in s[:17]] for s in ids.head(500)])
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    check = np.array(list("10X98765432"))[(digits @ weights) % 11]
    assert (check == ids.head(500).str[17].to_numpy()).all()
    # Birth date in the ID matches the age at the end of the simulated period.
    end = pd.Timestamp("2025-01-01")
    birth = pd.to_datetime(ids.str[6:14], format="%Y%m%d")
    age = (
        end.year
        - birth.dt.year
        - ((birth.dt.month > 1) | ((birth.dt.month == 1) & (birth.dt.day > 1)))
    )
    assert (age == subs.age).all()
    # Gender follows the parity of the 17th digit.
    male = ids.str[16].astype(int) % 2 == 1
    assert ((subs.gender == "M") == male).all()
    assert subs.region.str.fullmatch(r"[\u4e00-\u9fff]{2,3}").all()


def test_service_specific_columns(sim: Sim) -> None:
    subs = sim.table("subscribers")[["subscriber_id", "service_type"]]
    use = sim.table("usage").merge(subs, on="subscriber_id")
    tv = use[use.service_type == "tv"]
    bb = use[use.service_type == "broadband"]
    mob = use[use.service_type == "mobile"]
    assert tv.viewing_hours.notna().all() and tv.device_offline_days.notna().all()
    assert tv.voice_minutes.isna().all()
    assert bb.data_mb.notna().all() and bb.device_offline_days.notna().all()
    assert mob.voice_minutes.notna().all() and mob.viewing_hours.isna().all()
    net = sim.table("network_quality").merge(subs, on="subscriber_id")
    assert net[net.service_type == "broadband"].avg_download_mbps.notna().all()
    assert net[net.service_type == "tv"].dropped_call_rate.isna().all()


def test_group_customers_and_downgrades(sim: Sim) -> None:
    subs = sim.table("subscribers")
    groups = subs[subs.customer_type == "group"]
    assert len(groups) > 100
    assert groups.group_id.notna().all()
    assert subs[subs.customer_type == "individual"].group_id.isna().all()
    changes = sim.table("plan_changes")
    assert (changes.fee_delta < 0).sum() > 0 and (changes.fee_delta > 0).sum() > 0
    kinds = set(sim.table("interactions").kind)
    assert {"cancel_inquiry", "port_out_query", "complaint", "plan_change"} <= kinds


def test_no_monthly_or_event_rows_after_churn(sim: Sim) -> None:
    subs = sim.table("subscribers")
    churned = subs[subs.status == "churned"][["subscriber_id", "churn_date", "churn_reason"]]
    formal = churned[churned.churn_reason != "inactivity"]
    month_of_churn = pd.to_datetime(formal.churn_date).dt.to_period("M").dt.to_timestamp()
    last = dict(zip(formal.subscriber_id, month_of_churn, strict=True))
    for name in MONTHLY:
        df = sim.table(name)
        m = df.subscriber_id.map(last)
        assert not (pd.to_datetime(df.month) >= m).any(), name
    for name, col in EVENTS.items():
        df = sim.table(name)
        m = df.subscriber_id.map(last)
        assert not (pd.to_datetime(df[col]) >= m).any(), name


def test_silent_churners_are_deactivated_two_months_later(sim: Sim) -> None:
    subs = sim.table("subscribers")
    inactive = subs[subs.churn_reason == "inactivity"]
    assert len(inactive) > 20
    assert set(inactive.service_type) <= {"mobile", "tv"}
    assert (inactive.churn_date.map(lambda d: d.day) == 1).all()
    use = sim.table("usage")
    last_use = pd.to_datetime(use.groupby("subscriber_id").month.max())
    deact = pd.to_datetime(inactive.set_index("subscriber_id").churn_date)
    # Silence started two months before deactivation: the last usage row is the month before.
    gap = (deact.dt.year * 12 + deact.dt.month) - (
        last_use[deact.index].dt.year * 12 + last_use[deact.index].dt.month
    )
    assert (gap == 3).all()
    # Mobile inactivity churners are prepaid; postpaid lines leave formally.
    mob = inactive[inactive.service_type == "mobile"]
    assert (mob.payment_type == "prepaid").all()


def test_new_customers_join_inside_the_period_and_base_is_stable(sim: Sim) -> None:
    subs = sim.table("subscribers")
    act = pd.to_datetime(subs.activation_date)
    new = subs[act >= pd.Timestamp("2024-01-01")]
    assert len(new) > 0.1 * 6000
    assert (pd.to_datetime(new.activation_date) < pd.Timestamp("2025-01-01")).all()
    use = sim.table("usage")
    first = pd.to_datetime(use.groupby("subscriber_id").month.min())
    act_month = act.dt.to_period("M").dt.to_timestamp().set_axis(subs.subscriber_id)
    joined = new.subscriber_id[new.subscriber_id.isin(first.index)]
    assert (first[joined] == act_month[joined]).all()
    per_month = use.groupby("month").size()
    assert per_month.max() / per_month.min() < 1.15


def test_arrears_lead_to_suspension_and_passive_disconnection(sim: Sim) -> None:
    subs = sim.table("subscribers")
    bill = sim.table("billing").sort_values(["subscriber_id", "month"])
    cut = subs[subs.churn_reason == "arrears_disconnect"]
    assert len(cut) > 10
    assert (cut.payment_type == "postpaid").all()
    last3 = bill[bill.subscriber_id.isin(cut.subscriber_id)].groupby("subscriber_id").tail(3)
    unpaid = last3.groupby("subscriber_id").apply(
        lambda g: bool((g.amount_paid == 0).all() and (g.arrears_balance > 0).all()),
        include_groups=False,
    )
    # Every disconnection follows three unpaid bills (unless it came in the first months).
    assert unpaid.mean() > 0.95
    suspended = subs[subs.status == "suspended"]
    last_bill = bill.groupby("subscriber_id").tail(1).set_index("subscriber_id")
    assert (last_bill.loc[suspended.subscriber_id].arrears_balance > 0).all()


def test_complaint_texts_are_mostly_chinese_and_varied(sim: Sim) -> None:
    c = sim.table("complaints")
    zh = c.text.str.contains(r"[\u4e00-\u9fff]")
    assert 0.7 < zh.mean() < 0.95
    assert c.text.nunique() > 200
    assert (c.resolved_at.dropna() >= c.created_at[c.resolved_at.notna()]).all()
    assert c.satisfied[c.resolved_at.isna()].isna().all()
