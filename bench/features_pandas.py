"""A straightforward pandas implementation of the feature catalog, for the speed benchmark.

Written independently of the Ibis expressions (groupby per window, then joins),
the way an analyst would write it in a notebook. The benchmark checks that it
gives the same numbers as the engine before comparing their speed.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

SID = "subscriber_id"
ALL = ("mobile", "broadband", "tv")


def _month_index(s: pd.Series) -> pd.Series:
    d = pd.to_datetime(s)
    return d.dt.year * 12 + d.dt.month


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def _back(m: date, n: int) -> date:
    i = m.year * 12 + m.month - 1 - n
    return date(i // 12, i % 12 + 1, 1)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den != 0)).astype(float)


def _chg(cur: pd.Series, base: pd.Series) -> pd.Series:
    return (cur / base.where(base > 0) - 1.0).astype(float)


def _days_to(end: pd.Timestamp, last: pd.Series) -> pd.Series:
    return (end - last).dt.total_seconds() / 86400.0


class _Win:
    """Per-subscriber aggregates of one frame over month-offset windows."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df

    def _sel(self, lo: int, hi: int) -> pd.DataFrame:
        k = self.df["k"]
        return self.df[(k >= lo) & (k <= hi)]

    def sum(self, col: str, lo: int, hi: int) -> pd.Series:
        d = self._sel(lo, hi)
        return d.groupby(SID)[col].sum(min_count=1)

    def mean(self, col: str, lo: int, hi: int) -> pd.Series:
        d = self._sel(lo, hi)
        return d.groupby(SID)[col].mean()

    def count(self, mask: pd.Series) -> pd.Series:
        return mask.fillna(False).astype("int64").groupby(self.df[SID]).sum()

    def slope(self, col: str, months: int) -> pd.Series:
        d = self._sel(0, months - 1)
        d = d[d[col].notna()]
        x = -d["k"].astype(float)
        y = d[col].astype(float)
        g = pd.DataFrame({SID: d[SID], "n": 1.0, "x": x, "y": y, "xy": x * y, "xx": x * x})
        s = g.groupby(SID).sum()
        den = s.n * s.xx - s.x**2
        slope = (s.n * s.xy - s.x * s.y) / den.where(den != 0)
        mean = s.y / s.n
        return (slope / mean.where(mean > 0)).astype(float)


def pandas_snapshot(t: dict[str, pd.DataFrame], as_of: date) -> pd.DataFrame:
    """The catalog's features at ``as_of`` from contract tables held as pandas DataFrames."""
    nxt = pd.Timestamp(_next_month(as_of))
    idx = as_of.year * 12 + as_of.month
    subs = t["subscribers"]
    act = pd.to_datetime(subs["activation_date"])
    churn = pd.to_datetime(subs["churn_date"])
    pop = subs[(act < nxt) & (churn.isna() | (churn >= nxt))].set_index(SID)
    out = pd.DataFrame(index=pop.index)
    for c in (
        "service_type",
        "payment_type",
        "customer_type",
        "region",
        "acquisition_channel",
        "gender",
    ):
        out[c] = pop[c]
    out["tenure_months"] = (idx - _month_index(pop["activation_date"])).astype(float)
    ce = pop["contract_end_date"]
    out["months_to_contract_end"] = (_month_index(ce) - idx).where(ce.notna()).astype(float)
    out["age"] = pop["age"].astype(float)

    # usage
    u = t["usage"]
    m = pd.to_datetime(u["month"])
    u = u[(m < nxt) & (m >= pd.Timestamp(_back(as_of, 5)))].copy()
    u["k"] = idx - _month_index(u["month"])
    w = _Win(u)
    for col, p in (
        ("voice_minutes", "voice"),
        ("data_mb", "data"),
        ("sms", "sms"),
        ("viewing_hours", "viewing"),
    ):
        out[f"{p}_last"] = w.sum(col, 0, 0)
        out[f"{p}_avg3"] = w.mean(col, 0, 2)
        out[f"{p}_avg6"] = w.mean(col, 0, 5)
        out[f"{p}_chg"] = _chg(w.sum(col, 0, 0), w.mean(col, 1, 3))
        out[f"{p}_trend6"] = w.slope(col, 6)
    prior = u[(u.k >= 1) & (u.k <= 5)].groupby(SID)["data_mb"]
    out["data_zscore"] = _ratio(w.sum("data_mb", 0, 0) - prior.mean(), prior.std())
    out["calls_in_out_ratio_3m"] = _ratio(w.sum("calls_in", 0, 2), w.sum("calls_out", 0, 2))
    out["offnet_share_3m"] = _ratio(w.sum("offnet_minutes", 0, 2), w.sum("voice_minutes", 0, 2))
    out["offnet_share_chg"] = _ratio(
        w.sum("offnet_minutes", 0, 0), w.sum("voice_minutes", 0, 0)
    ) - _ratio(w.sum("offnet_minutes", 1, 3), w.sum("voice_minutes", 1, 3))
    out["call_forward_offnet_3m"] = w.sum("call_forward_offnet", 0, 2)
    out["call_forward_offnet_last"] = w.sum("call_forward_offnet", 0, 0)
    out["roaming_minutes_3m"] = w.sum("roaming_minutes", 0, 2)
    out["active_days_last"] = w.sum("active_days", 0, 0)
    out["active_days_chg"] = _chg(w.sum("active_days", 0, 0), w.mean("active_days", 1, 3))
    out["device_offline_days_last"] = w.sum("device_offline_days", 0, 0)
    out["device_offline_days_avg3"] = w.mean("device_offline_days", 0, 2)
    out["device_offline_days_max6"] = u.groupby(SID)["device_offline_days"].max().astype(float)
    out["device_offline_days_chg"] = w.sum("device_offline_days", 0, 0) - w.mean(
        "device_offline_days", 1, 3
    )

    # billing
    b = t["billing"]
    m = pd.to_datetime(b["month"])
    b = b[(m < nxt) & (m >= pd.Timestamp(_back(as_of, 5)))].copy()
    b["k"] = idx - _month_index(b["month"])
    paid_date = pd.to_datetime(b["paid_date"])
    due_date = pd.to_datetime(b["due_date"])
    b["paid_known"] = b["amount_paid"].where(paid_date.isna() | (paid_date < nxt), 0.0)
    known_paid = paid_date.where(paid_date < nxt)
    in_full = paid_date.isna() & (b["amount_paid"].fillna(0) >= b["amount_due"].fillna(0))
    settled = known_paid.where(known_paid.notna(), due_date.where(in_full, nxt))
    is_due = (due_date < nxt) & (b["amount_due"] > 0)
    late = is_due & (settled > due_date)
    b["days_late"] = ((settled - due_date).dt.days.astype(float)).where(late, 0.0)
    w = _Win(b)
    out["bill_last"] = w.sum("amount_due", 0, 0)
    out["arpu_3m"] = w.mean("amount_due", 0, 2)
    out["arpu_chg"] = _chg(w.mean("amount_due", 0, 2), w.mean("amount_due", 3, 5))
    out["bill_chg"] = _chg(w.sum("amount_due", 0, 0), w.mean("amount_due", 1, 3))
    out["paid_ratio_3m"] = _ratio(w.sum("paid_known", 0, 2), w.sum("amount_due", 0, 2))
    out["payments_3m"] = w.count((b.k <= 2) & (b["paid_known"] > 0))
    out["paid_chg"] = _chg(w.sum("paid_known", 0, 2), w.sum("paid_known", 3, 5))
    out["late_payments_6m"] = w.count(late).reindex(out.index).fillna(0.0)
    due_rows = b[is_due]
    out["days_late_avg_6m"] = due_rows.groupby(SID)["days_late"].mean()
    out["days_late_max_6m"] = due_rows.groupby(SID)["days_late"].max()
    out["arrears_last"] = w.sum("arrears_balance", 0, 0)
    owing = b["arrears_balance"] > 0
    first_clear = b.loc[~owing, ["k", SID]].groupby(SID)["k"].min()
    n_owing = w.count(owing)
    out["arrears_streak"] = first_clear.reindex(n_owing.index).fillna(n_owing).astype(float)
    out["arrears_months_6m"] = n_owing.astype(float)

    # complaints
    c = t["complaints"]
    created = pd.to_datetime(c["created_at"])
    c = c[created < nxt].copy()
    created = pd.to_datetime(c["created_at"])
    resolved = pd.to_datetime(c["resolved_at"])
    c["k"] = idx - _month_index(c["created_at"])
    c["known"] = resolved.notna() & (resolved < nxt)
    c["hours"] = (resolved - created).dt.total_seconds() / 3600.0
    w = _Win(c)
    in3, in6, prev3 = c.k <= 2, c.k <= 5, (c.k >= 3) & (c.k <= 5)
    cnt = {
        "complaints_3m": w.count(in3),
        "complaints_6m": w.count(in6),
        "complaints_trend": w.count(in3) - w.count(prev3),
    }
    for cat in ("network", "billing", "service", "price", "other"):
        cnt[f"complaints_{cat}_6m"] = w.count(in6 & (c["category"] == cat))
    for name, s in cnt.items():
        out[name] = s.reindex(out.index).fillna(0).astype(float)
    out["days_since_complaint"] = _days_to(nxt, created.groupby(c[SID]).max())
    out["complaints_open"] = w.count(~c["known"]).reindex(out.index).fillna(0).astype(float)
    out["complaints_dissatisfied_6m"] = (
        w.count(in6 & c["known"] & (c["satisfied"] == False))  # noqa: E712
        .reindex(out.index)
        .fillna(0)
        .astype(float)
    )
    out["complaint_resolution_hours_6m"] = c[in6 & c["known"]].groupby(SID)["hours"].mean()

    # network
    n = t["network_quality"]
    m = pd.to_datetime(n["month"])
    n = n[(m < nxt) & (m >= pd.Timestamp(_back(as_of, 5)))].copy()
    n["k"] = idx - _month_index(n["month"])
    w = _Win(n)
    out["dropped_call_rate_last"] = w.sum("dropped_call_rate", 0, 0)
    out["dropped_call_rate_avg3"] = w.mean("dropped_call_rate", 0, 2)
    out["dropped_call_rate_chg"] = w.sum("dropped_call_rate", 0, 0) - w.mean(
        "dropped_call_rate", 1, 3
    )
    out["dropped_call_rate_trend6"] = w.slope("dropped_call_rate", 6)
    out["signal_dbm_last"] = w.sum("avg_signal_dbm", 0, 0)
    out["signal_dbm_chg"] = w.sum("avg_signal_dbm", 0, 0) - w.mean("avg_signal_dbm", 1, 3)
    out["download_mbps_avg3"] = w.mean("avg_download_mbps", 0, 2)
    out["download_mbps_chg"] = _chg(
        w.sum("avg_download_mbps", 0, 0), w.mean("avg_download_mbps", 1, 3)
    )
    out["outage_minutes_last"] = w.sum("outage_minutes", 0, 0)
    out["outage_minutes_3m"] = w.sum("outage_minutes", 0, 2)
    out["outage_minutes_chg"] = w.sum("outage_minutes", 0, 0) - w.mean("outage_minutes", 1, 3)

    # interactions
    i = t["interactions"]
    ts = pd.to_datetime(i["ts"])
    i = i[ts < nxt].copy()
    ts = pd.to_datetime(i["ts"])
    i["k"] = idx - _month_index(i["ts"])
    w = _Win(i)
    in3, prev3, in6 = i.k <= 2, (i.k >= 3) & (i.k <= 5), i.k <= 5
    fill0 = {
        "interactions_3m": w.count(in3),
        "channels_3m": i[in3].groupby(SID)["channel"].nunique(),
        "cancel_inquiries_3m": w.count(in3 & (i["kind"] == "cancel_inquiry")),
        "cancel_inquiries_6m": w.count(in6 & (i["kind"] == "cancel_inquiry")),
        "port_out_queries_3m": w.count(in3 & (i["kind"] == "port_out_query")),
        "bill_queries_3m": w.count(in3 & (i["kind"] == "bill_query")),
    }
    out["interactions_chg"] = _chg(w.count(in3), w.count(prev3))
    out["days_since_interaction"] = _days_to(nxt, ts.groupby(i[SID]).max())
    cancel_ts = ts[i["kind"] == "cancel_inquiry"]
    out["days_since_cancel_inquiry"] = _days_to(
        nxt, cancel_ts.groupby(i.loc[cancel_ts.index, SID]).max()
    )
    for name, s in fill0.items():
        out[name] = s.reindex(out.index).fillna(0).astype(float)

    # plan changes
    p = t["plan_changes"]
    ts = pd.to_datetime(p["changed_at"])
    p = p[ts < nxt].copy()
    ts = pd.to_datetime(p["changed_at"])
    p["k"] = idx - _month_index(p["changed_at"])
    w = _Win(p)
    in6 = p.k <= 5
    out["plan_changes_6m"] = w.count(in6).reindex(out.index).fillna(0).astype(float)
    out["downgrades_6m"] = (
        w.count(in6 & (p.fee_delta < 0)).reindex(out.index).fillna(0).astype(float)
    )
    out["upgrades_6m"] = w.count(in6 & (p.fee_delta > 0)).reindex(out.index).fillna(0).astype(float)
    out["fee_delta_6m"] = w.sum("fee_delta", 0, 5).reindex(out.index).fillna(0.0)
    out["days_since_plan_change"] = _days_to(nxt, ts.groupby(p[SID]).max())

    # surveys
    s = t["surveys"]
    ts = pd.to_datetime(s["surveyed_at"])
    s = s[ts < nxt].copy()
    s["surveyed_at"] = pd.to_datetime(s["surveyed_at"])
    for col, name in (("csat", "csat_last"), ("nps", "nps_last")):
        v = s[s[col].notna()].sort_values("surveyed_at")
        out[name] = v.groupby(SID)[col].last().astype(float)
    out["csat_mean"] = s.groupby(SID)["csat"].mean()
    out["days_since_survey"] = _days_to(nxt, s.groupby(SID)["surveyed_at"].max())

    # groups
    members = pop[pop["group_id"].notna()]
    size = members.groupby("group_id").size()
    gl = subs[subs["group_id"].notna() & (churn >= pd.Timestamp(_back(as_of, 2))) & (churn < nxt)]
    left = gl.groupby("group_id").size()
    gid = pop["group_id"]
    out["group_size"] = gid.map(size).astype(float)
    churned = gid.map(left).fillna(0).astype(float)
    out["group_churned_3m"] = churned.where(gid.notna())
    out["group_churn_share_3m"] = _ratio(churned, out["group_size"] + churned).where(gid.notna())
    return out


def apply_services(out: pd.DataFrame, services: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """Blank features for service types they do not apply to (as the catalog does)."""
    for name, svc in services.items():
        if set(svc) != set(ALL):
            out.loc[~out["service_type"].isin(svc), name] = np.nan
    return out
