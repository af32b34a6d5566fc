"""Each causal chain of the synthetic operator is visible in its tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from .conftest import Sim


def _month(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.to_period("M").dt.to_timestamp()


@pytest.fixture(scope="module")
def panel(sim: Sim) -> pd.DataFrame:
    """One row per active subscriber-month with region, signals and the truth."""
    subs = sim.table("subscribers")[
        ["subscriber_id", "region", "service_type", "payment_type", "contract_end_date", "group_id"]
    ]
    df = sim.table("churn_probability").merge(subs, on="subscriber_id")
    df["month"] = pd.to_datetime(df.month)
    use = sim.table("usage").assign(month=lambda d: pd.to_datetime(d.month))
    net = sim.table("network_quality").assign(month=lambda d: pd.to_datetime(d.month))
    df = df.merge(use, on=["subscriber_id", "month"]).merge(net, on=["subscriber_id", "month"])
    regions = sim.table("regions").assign(month=lambda d: pd.to_datetime(d.month))
    df = df.merge(regions, on=["region", "month"])
    comp = sim.table("complaints").assign(month=lambda d: _month(d.created_at))
    for cat in ("network", "price"):
        n = comp[comp.category == cat].groupby(["subscriber_id", "month"]).size()
        df[f"complaints_{cat}"] = (
            n.reindex(pd.MultiIndex.from_frame(df[["subscriber_id", "month"]])).fillna(0).to_numpy()
        )
    inter = sim.table("interactions").assign(month=lambda d: _month(d.ts))
    for kind in ("port_out_query", "cancel_inquiry"):
        n = inter[inter.kind == kind].groupby(["subscriber_id", "month"]).size()
        df[kind] = (
            n.reindex(pd.MultiIndex.from_frame(df[["subscriber_id", "month"]])).fillna(0).to_numpy()
        )
    ordinary = inter[
        inter.kind.isin(["inquiry", "bill_query", "service_request", "other", "top_up"])
    ]
    n = ordinary.groupby(["subscriber_id", "month"]).size()
    df["contacts"] = (
        n.reindex(pd.MultiIndex.from_frame(df[["subscriber_id", "month"]])).fillna(0).to_numpy()
    )
    df = df.sort_values(["subscriber_id", "month"]).reset_index(drop=True)
    idx = df.voice_minutes.fillna(0) + df.data_mb.fillna(0) / 20
    idx = idx.where(df.service_type != "tv", df.viewing_hours)
    idx = idx.where(df.service_type != "broadband", df.data_mb / 1000)
    df["use"] = idx
    return df


def test_network_incidents_drive_drops_complaints_satisfaction_and_churn(
    sim: Sim, panel: pd.DataFrame
) -> None:
    hit = panel.incident_severity > 0.3
    calm = panel.incident_severity == 0
    mob = panel.service_type == "mobile"
    assert (
        panel[hit & mob].dropped_call_rate.mean() > 2 * panel[calm & mob].dropped_call_rate.mean()
    )
    assert panel[hit].outage_minutes.mean() > 3 * panel[calm].outage_minutes.mean()
    assert panel[hit].complaints_network.mean() > 3 * panel[calm].complaints_network.mean()
    assert panel[hit].churned_voluntary.mean() > 1.3 * panel[calm].churned_voluntary.mean()
    surveys = sim.table("surveys").assign(month=lambda d: _month(d.surveyed_at))
    s = surveys.merge(
        panel[["subscriber_id", "month", "incident_severity"]], on=["subscriber_id", "month"]
    )
    assert s[s.incident_severity > 0.3].csat.mean() < s[s.incident_severity == 0].csat.mean() - 0.3


def test_low_satisfaction_precedes_churn(sim: Sim, panel: pd.DataFrame) -> None:
    surveys = sim.table("surveys").assign(month=lambda d: _month(d.surveyed_at))
    s = surveys.merge(
        panel[["subscriber_id", "month", "churned_voluntary"]], on=["subscriber_id", "month"]
    )
    low = s[s.csat <= 2].churned_voluntary.mean()
    high = s[s.csat >= 4].churned_voluntary.mean()
    assert low > 2 * high


def test_competitor_pressure_drives_downgrades_forwarding_and_port_out(
    sim: Sim, panel: pd.DataFrame
) -> None:
    mob = panel[panel.service_type == "mobile"]
    hot = mob.competitor_pressure > 0.5
    cold = mob.competitor_pressure < 0.25
    assert mob[hot].call_forward_offnet.mean() > 1.5 * mob[cold].call_forward_offnet.mean()
    assert mob[hot].port_out_query.mean() > 1.5 * mob[cold].port_out_query.mean()
    changes = sim.table("plan_changes").assign(month=lambda d: _month(d.changed_at))
    down = changes[changes.fee_delta < 0].merge(panel, on=["subscriber_id", "month"])
    rate_hot = (down.competitor_pressure > 0.5).sum() / (panel.competitor_pressure > 0.5).sum()
    rate_cold = (down.competitor_pressure < 0.25).sum() / (panel.competitor_pressure < 0.25).sum()
    assert rate_hot > 1.5 * rate_cold
    # Port-outers forwarded calls to rivals and asked about porting before leaving.
    subs = sim.table("subscribers").set_index("subscriber_id")
    last = panel.groupby("subscriber_id").tail(1).set_index("subscriber_id")
    reason = subs.churn_reason.reindex(last.index)
    post = last[(last.service_type == "mobile") & (last.payment_type == "postpaid")]
    ported = post[reason.loc[post.index] == "port_out"]
    stayed = post[subs.status.reindex(post.index) == "active"]
    assert ported.call_forward_offnet.mean() > 3 * stayed.call_forward_offnet.mean()
    assert ported.port_out_query.mean() > 5 * stayed.port_out_query.mean()


def test_usage_and_contacts_fall_before_churn(panel: pd.DataFrame) -> None:
    g = panel.groupby("subscriber_id")
    before = g.use.transform(lambda s: s.shift(3))
    trend = np.log((panel.use + 1) / (before + 1))
    ok = before.notna()
    churners = trend[ok & panel.churned_voluntary]
    stayers = trend[ok & ~panel.churned_voluntary]
    assert churners.median() < stayers.median() - 0.2
    for service in ("mobile", "broadband", "tv"):
        sel = ok & (panel.service_type == service)
        assert (
            trend[sel & panel.churned_voluntary].median()
            < trend[sel & ~panel.churned_voluntary].median()
        )
    assert (
        panel[panel.churned_voluntary].contacts.mean()
        < 0.8 * panel[~panel.churned_voluntary].contacts.mean()
    )
    tvbb = panel.service_type.isin(["tv", "broadband"])
    off = panel[tvbb]
    assert (
        off[off.churned_voluntary].device_offline_days.mean()
        > 1.5 * off[~off.churned_voluntary].device_offline_days.mean()
    )


def test_contract_end_brings_a_churn_spike(panel: pd.DataFrame) -> None:
    end = pd.to_datetime(panel.contract_end_date)
    gap = (end.dt.year * 12 + end.dt.month) - (panel.month.dt.year * 12 + panel.month.dt.month)
    ending = panel[(gap >= 0) & (gap <= 1)]
    running = panel[gap > 3]
    assert ending.churned_voluntary.mean() > 2 * running.churned_voluntary.mean()


def test_group_members_leave_together(sim: Sim, panel: pd.DataFrame) -> None:
    members = panel[panel.group_id.notna()]
    per = members.groupby(["group_id", "month"]).churned_voluntary.agg(["sum", "count"])
    k, n = per["sum"].astype(float), per["count"].astype(float)
    # Chance that two members of one group both leave in the same month, vs independence.
    pair = (k * (k - 1)).sum() / (n * (n - 1)).sum()
    single = k.sum() / n.sum()
    assert pair / single**2 > 2
    # In the months a group decides to go (truth), most of its members leave together.
    events = sim.table("group_events").assign(month=lambda d: pd.to_datetime(d.month))
    assert len(events) >= 1
    deciding = per.index.isin(list(zip(events.group_id, events.month, strict=True)))
    rate_deciding = k[deciding].sum() / n[deciding].sum()
    rate_other = k[~deciding].sum() / n[~deciding].sum()
    assert rate_deciding > 0.4
    assert rate_deciding > 10 * rate_other


def test_second_sim_customers_take_calls_and_churn_more(panel: pd.DataFrame) -> None:
    mob = panel[panel.service_type == "mobile"]
    ratio = (mob.calls_in + 1) / (mob.calls_out + 1)
    two = mob[ratio > 3]
    one = mob[ratio < 1.5]
    assert len(two) > 100
    assert two.churned_voluntary.mean() > 1.5 * one.churned_voluntary.mean()


def test_value_churn_without_leaving(sim: Sim) -> None:
    bill = sim.table("billing").sort_values(["subscriber_id", "month"])
    subs = sim.table("subscribers").set_index("subscriber_id")
    first = bill.groupby("subscriber_id").amount_due.apply(lambda s: s.head(3).mean())
    last = bill.groupby("subscriber_id").amount_due.apply(lambda s: s.tail(3).mean())
    active = subs.status.reindex(first.index) == "active"
    dropped = (last < 0.75 * first) & active
    assert dropped.sum() > 0.005 * active.sum()


def test_seasonality(sim: Sim, panel: pd.DataFrame) -> None:
    tv = panel[panel.service_type == "tv"]
    by_month = tv.groupby(tv.month.dt.month).viewing_hours.mean()
    assert by_month.loc[[1, 2]].mean() > 1.15 * by_month.loc[[5, 6]].mean()
    p = panel.groupby(panel.month.dt.month).p_voluntary_churn.mean()
    # Churn in March (decided in February) is above churn in December.
    assert p.loc[2] > p.loc[11]


def test_leaving_customers_complaints_mention_port_out_and_price(
    sim: Sim, panel: pd.DataFrame
) -> None:
    comp = sim.table("complaints").assign(month=lambda d: _month(d.created_at))
    c = comp.merge(
        panel[["subscriber_id", "month", "churned_voluntary"]], on=["subscriber_id", "month"]
    )
    words = c.text.str.contains("携号转网|太贵|信号差|销户|转网|switch|cancel|port")
    assert words[c.churned_voluntary].mean() > 1.5 * words[~c.churned_voluntary].mean()


def test_promotion_riders_leave_when_the_discount_ends(sim: Sim, panel: pd.DataFrame) -> None:
    subs = sim.table("subscribers")[["subscriber_id", "activation_date", "acquisition_channel"]]
    df = panel[["subscriber_id", "month", "churned_voluntary"]].merge(subs, on="subscriber_id")
    act = pd.to_datetime(df.activation_date)
    tenure = (df.month.dt.year * 12 + df.month.dt.month) - (act.dt.year * 12 + act.dt.month)
    promo = df.acquisition_channel.isin(["线上商城", "电话营销", "校园营销"])
    ending = df[promo & (tenure == 5)]
    others = df[promo & tenure.between(3, 11) & (tenure != 5)]
    assert len(ending) > 100
    assert ending.churned_voluntary.mean() > 2 * others.churned_voluntary.mean()
