"""Exact feature values on a hand-made operator, including rows after the as-of month."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest

from churnguard.errors import InputError
from churnguard.features import snapshot_expr

from .synth import from_rows, load_duckdb

AS_OF = "2024-06"
D = date
T = datetime


def _sub(sid: str, service: str = "mobile", **kw: Any) -> dict[str, Any]:
    row = {"subscriber_id": sid, "service_type": service, "activation_date": D(2023, 1, 15)}
    row.update(kw)
    return row


def _months(sid: str, values: dict[str, list[Any]], start: int = 1) -> list[dict[str, Any]]:
    n = len(next(iter(values.values())))
    return [
        {
            "subscriber_id": sid,
            "month": D(2024, start + i, 1),
            **{k: v[i] for k, v in values.items()},
        }
        for i in range(n)
    ]


ROWS = {
    "subscribers": [
        _sub(
            "A",
            contract_end_date=D(2024, 9, 30),
            group_id="G",
            customer_type="group",
            payment_type="postpaid",
            region="north",
            age=40,
        ),
        _sub("B", "broadband", activation_date=D(2024, 6, 30)),
        _sub("C", activation_date=D(2024, 7, 1)),  # activated after M
        _sub("D", group_id="G", churn_date=D(2024, 6, 30), churn_reason="port_out"),  # left in M
        _sub("E", group_id="G", churn_date=D(2024, 7, 1), churn_reason="port_out"),  # left after M
        _sub("F", group_id="G", churn_date=D(2024, 5, 10), churn_reason="voluntary_cancel"),
        _sub("H", group_id="G", churn_date=D(2024, 3, 31), churn_reason="port_out"),
    ],
    "usage": [
        *_months(
            "A",
            {
                "voice_minutes": [10, 20, 30, 40, 50, 60, 999],
                "offnet_minutes": [5, 10, 15, 20, 25, 30, 999],
                "calls_in": [10] * 7,
                "calls_out": [5] * 7,
                "call_forward_offnet": [0, 0, 0, 1, 0, 2, 50],
                "active_days": [20, 20, 20, 20, 20, 10, 1],
                "device_offline_days": [9] * 7,
            },
        ),
        *_months(
            "B", {"data_mb": [100.0], "voice_minutes": [5.0], "device_offline_days": [3]}, start=6
        ),
    ],
    "billing": _months(
        "A",
        {
            "amount_due": [50, 50, 50, 100, 100, 100, 500],
            "amount_paid": [50, 0, 50, 100, 100, 100, 0],
            "due_date": [
                D(2024, 2, 10),
                D(2024, 3, 10),
                D(2024, 4, 10),
                D(2024, 5, 10),
                D(2024, 6, 10),
                D(2024, 7, 10),
                D(2024, 8, 10),
            ],
            "paid_date": [
                D(2024, 2, 10),
                None,
                None,
                D(2024, 5, 1),
                D(2024, 6, 20),
                D(2024, 7, 5),
                None,
            ],
            "arrears_balance": [0, 50, 0, 20, 0, 100, 600],
        },
    ),
    "complaints": [
        {
            "complaint_id": "c1",
            "subscriber_id": "A",
            "created_at": T(2024, 6, 15),
            "category": "network",
            "resolved_at": T(2024, 7, 3),
            "satisfied": False,
        },
        {
            "complaint_id": "c2",
            "subscriber_id": "A",
            "created_at": T(2024, 5, 2, 10),
            "category": "billing",
            "resolved_at": T(2024, 5, 3, 10),
            "satisfied": False,
        },
        {
            "complaint_id": "c3",
            "subscriber_id": "A",
            "created_at": T(2024, 1, 5),
            "category": "price",
            "resolved_at": T(2024, 1, 5, 12),
            "satisfied": True,
        },
        {
            "complaint_id": "c4",
            "subscriber_id": "A",
            "created_at": T(2024, 7, 2),
            "category": "service",
        },
        {
            "complaint_id": "c5",
            "subscriber_id": "A",
            "created_at": T(2023, 12, 1),
            "category": "other",
        },
    ],
    "interactions": [
        {"subscriber_id": "A", "ts": T(2024, 6, 20), "channel": "app", "kind": "cancel_inquiry"},
        {"subscriber_id": "A", "ts": T(2024, 5, 1), "channel": "hall", "kind": "inquiry"},
        {"subscriber_id": "A", "ts": T(2024, 2, 1), "channel": "web", "kind": "bill_query"},
        {"subscriber_id": "A", "ts": T(2024, 7, 3), "channel": "app", "kind": "cancel_inquiry"},
    ],
    "plan_changes": [
        {"subscriber_id": "A", "changed_at": T(2024, 3, 10), "to_plan": "P1", "fee_delta": -20.0},
        {"subscriber_id": "A", "changed_at": T(2024, 6, 1), "to_plan": "P2", "fee_delta": 5.0},
        {"subscriber_id": "A", "changed_at": T(2024, 7, 5), "to_plan": "P3", "fee_delta": -30.0},
    ],
    "surveys": [
        {"subscriber_id": "A", "surveyed_at": T(2024, 2, 1), "csat": 2, "nps": 3},
        {"subscriber_id": "A", "surveyed_at": T(2024, 6, 10), "csat": 4},
        {"subscriber_id": "A", "surveyed_at": T(2024, 7, 10), "csat": 1, "nps": 0},
    ],
    "network_quality": _months(
        "A",
        {
            "dropped_call_rate": [0.0, 0.0, 0.02, 0.02, 0.02, 0.05, 0.9],
            "avg_signal_dbm": [-80, -80, -80, -80, -80, -100, -140],
            "outage_minutes": [0, 0, 0, 0, 0, 30, 900],
        },
    ),
}


@pytest.fixture(scope="module")
def snap() -> Iterator[pd.DataFrame]:
    backend = load_duckdb(from_rows(**ROWS))
    df = backend.execute(snapshot_expr(backend, as_of=AS_OF)).set_index("subscriber_id")
    backend.disconnect()
    yield df


def test_population_is_active_at_end_of_month(snap: pd.DataFrame) -> None:
    assert sorted(snap.index) == ["A", "B", "E"]
    assert (snap["as_of"] == pd.Timestamp("2024-06-01")).all()


EXPECTED_A = {
    "tenure_months": 17,
    "months_to_contract_end": 3,
    "age": 40,
    "voice_last": 60,
    "voice_avg3": 50,
    "voice_avg6": 35,
    "voice_chg": 0.5,
    "voice_trend6": 10 / 35,
    "calls_in_out_ratio_3m": 2.0,
    "offnet_share_3m": 0.5,
    "offnet_share_chg": 0.0,
    "call_forward_offnet_3m": 3,
    "call_forward_offnet_last": 2,
    "active_days_last": 10,
    "active_days_chg": -0.5,
    "bill_last": 100,
    "arpu_3m": 100,
    "arpu_chg": 1.0,
    "bill_chg": 0.2,
    "paid_ratio_3m": 2 / 3,
    "payments_3m": 2,
    "paid_chg": 1.0,
    "late_payments_6m": 2,
    "days_late_avg_6m": 123 / 5,
    "days_late_max_6m": 113,
    "arrears_last": 100,
    "arrears_streak": 1,
    "arrears_months_6m": 3,
    "complaints_3m": 2,
    "complaints_6m": 3,
    "complaints_trend": 1,
    "complaints_network_6m": 1,
    "complaints_billing_6m": 1,
    "complaints_price_6m": 1,
    "complaints_service_6m": 0,
    "complaints_other_6m": 0,
    "days_since_complaint": 16,
    "complaints_open": 2,
    "complaints_dissatisfied_6m": 1,
    "complaint_resolution_hours_6m": 18,
    "dropped_call_rate_last": 0.05,
    "dropped_call_rate_avg3": 0.03,
    "dropped_call_rate_chg": 0.03,
    "signal_dbm_last": -100,
    "signal_dbm_chg": -20,
    "outage_minutes_last": 30,
    "outage_minutes_3m": 30,
    "outage_minutes_chg": 30,
    "interactions_3m": 2,
    "interactions_chg": 1.0,
    "channels_3m": 2,
    "days_since_interaction": 11,
    "cancel_inquiries_3m": 1,
    "cancel_inquiries_6m": 1,
    "days_since_cancel_inquiry": 11,
    "port_out_queries_3m": 0,
    "bill_queries_3m": 0,
    "plan_changes_6m": 2,
    "downgrades_6m": 1,
    "upgrades_6m": 1,
    "fee_delta_6m": -15,
    "days_since_plan_change": 30,
    "csat_last": 4,
    "nps_last": 3,
    "csat_mean": 3,
    "days_since_survey": 21,
    "group_size": 2,
    "group_churned_3m": 2,
    "group_churn_share_3m": 0.5,
}


@pytest.mark.parametrize("name", sorted(EXPECTED_A))
def test_values_of_a(snap: pd.DataFrame, name: str) -> None:
    assert snap.loc["A", name] == pytest.approx(EXPECTED_A[name], rel=1e-9, abs=1e-9)


def test_irrelevant_services_and_missing_data(snap: pd.DataFrame) -> None:
    a, b, e = snap.loc["A"], snap.loc["B"], snap.loc["E"]
    # mobile-only features are NULL for broadband, device features NULL for mobile
    assert pd.isna(b["voice_last"]) and b["data_last"] == 100.0
    assert b["device_offline_days_last"] == 3 and pd.isna(a["device_offline_days_last"])
    assert pd.isna(a["data_last"])  # no data values at all: unknown, not zero
    assert b["tenure_months"] == 0
    # no rows at all: counts are 0, levels unknown
    assert e["complaints_6m"] == 0 and e["late_payments_6m"] == 0
    assert pd.isna(e["voice_avg3"]) and pd.isna(e["days_since_complaint"])
    assert e["group_size"] == 2 and pd.isna(b["group_size"]) and pd.isna(b["group_churned_3m"])
    assert a["service_type"] == "mobile" and a["customer_type"] == "group"
    assert a["region"] == "north" and b["region"] is None


def test_missing_optional_tables_read_as_empty() -> None:
    rows = {"subscribers": ROWS["subscribers"]}
    tables = from_rows(**rows)
    only_subs = {"subscribers": tables["subscribers"]}
    backend = load_duckdb(only_subs)
    df = backend.execute(snapshot_expr(backend, as_of=AS_OF)).set_index("subscriber_id")
    backend.disconnect()
    assert sorted(df.index) == ["A", "B", "E"]
    assert (df["complaints_6m"] == 0).all() and df["voice_avg3"].isna().all()


def test_bad_as_of_and_missing_subscribers() -> None:
    backend = load_duckdb({"usage": from_rows()["usage"]})
    with pytest.raises(InputError, match="no subscribers table"):
        snapshot_expr(backend, as_of=AS_OF)
    with pytest.raises(InputError, match="not a month"):
        snapshot_expr(backend, as_of="June")
    backend.disconnect()
