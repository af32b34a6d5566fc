from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from churnguard.config import ValueSettings
from churnguard.value import customer_value, value_risk_matrix


@pytest.fixture
def tables() -> dict[str, ibis.Table]:
    subs = pd.DataFrame(
        {
            "subscriber_id": ["a", "b", "c", "d", "e", "gone"],
            "service_type": ["mobile", "mobile", "broadband", "tv", "mobile", "mobile"],
            "payment_type": ["postpaid", "postpaid", "postpaid", "postpaid", "prepaid", "postpaid"],
            "customer_type": ["individual"] * 6,
            "region": ["r1"] * 6,
            "monthly_fee": [100.0, 50.0, 30.0, 20.0, 10.0, 99.0],
            "activation_date": pd.to_datetime(
                ["2020-01-15", "2024-11-02", "2022-03-01", "2023-01-01", "2024-01-01", "2020-01-01"]
            ).date,
            "churn_date": [
                None,
                None,
                pd.Timestamp("2025-07-03").date(),
                None,
                None,
                pd.Timestamp("2025-04-10").date(),
            ],
        }
    )
    months = [date(2025, m, 1) for m in range(1, 7)]
    bill = []
    for sid, due in [("a", 100.0), ("b", 50.0), ("c", 30.0), ("d", 20.0)]:
        for i, mth in enumerate(months):
            # d's bill halves in the last three months
            amount = due / 2 if sid == "d" and i >= 3 else due
            bill.append((sid, mth, amount, amount))
    for i, mth in enumerate(months):  # prepaid e tops up every other month
        bill.append(("e", mth, 0.0, 20.0 if i % 2 == 0 else 0.0))
    billing = pd.DataFrame(bill, columns=["subscriber_id", "month", "amount_due", "amount_paid"])
    usage = pd.DataFrame(
        [
            (s, mth, 20 if (s == "a" or i < 3) else 5)
            for s in "abcde"
            for i, mth in enumerate(months)
        ],
        columns=["subscriber_id", "month", "active_days"],
    )
    con = ibis.duckdb.connect()
    return {
        "subscribers": con.create_table("subscribers", subs),
        "billing": con.create_table("billing", billing),
        "usage": con.create_table("usage", usage),
    }


def test_values_tiers_lifecycle(tables: dict[str, ibis.Table]) -> None:
    out = customer_value(tables, as_of=date(2025, 6, 1), settings=ValueSettings()).execute()
    out = out.set_index("subscriber_id")
    # 'gone' churned in April; 'c' churns in July, which is unknown at the end of June
    assert sorted(out.index) == ["a", "b", "c", "d", "e"]
    assert out.loc["a", "arpu_3m"] == pytest.approx(100.0)
    assert out.loc["d", "arpu_3m"] == pytest.approx(10.0)
    assert out.loc["d", "arpu_6m"] == pytest.approx(15.0)
    assert out.loc["d", "arpu_change"] == pytest.approx(10 / 15 - 1)
    assert out.loc["e", "arpu_3m"] == pytest.approx(20 / 3)  # prepaid revenue = top-ups
    assert out.loc["a", "margin_3m"] == pytest.approx(60.0)
    # revenue 100+50+30+10+6.67 = 196.67: a alone is 51 %, a+b 76 % → a high, b high
    # (b starts below 70 %), c starts at 76 % → medium, d at 91.5 % → low
    assert out["value_tier"].to_dict() == {
        "a": "high",
        "b": "high",
        "c": "medium",
        "d": "low",
        "e": "low",
    }
    assert out.loc["b", "tenure_months"] == 7
    assert out.loc["a", "lifecycle"] == "mature"
    assert out.loc["c", "lifecycle"] == "declining"  # active days 20 → 5
    # prepaid RFM: last top-up in May (index 4) → recency 1 month, 3 top-ups
    assert out.loc["e", "recency_months"] == 1
    assert out.loc["e", "frequency_6m"] == 3
    assert out.loc["e", "monetary_6m"] == pytest.approx(60.0)
    assert pd.isna(out.loc["a", "rfm_r"])


def _prepaid_world(order: list[int]) -> dict[str, ibis.Table]:
    """Ten prepaid customers, p0–p9: p0–p4 behave alike, p5–p9 top up more, later, more."""
    months = [date(2025, m, 1) for m in range(1, 7)]
    ids = [f"p{i}" for i in range(10)]
    subs = pd.DataFrame(
        {
            "subscriber_id": ids,
            "service_type": "mobile",
            "payment_type": "prepaid",
            "customer_type": "individual",
            "region": "r1",
            "monthly_fee": 10.0,
            "activation_date": date(2023, 1, 1),
            "churn_date": date(2026, 1, 1),  # after the as-of month: active
        }
    )
    bill = []
    for i, sid in enumerate(ids):
        tops = 2 if i < 5 else 2 + (i - 4)  # p5: 3 top-ups ... p9: 6 (every month)
        for k, mth in enumerate(months):
            # the alike top up in Jan and Feb; the others in their last months
            topped = k < tops if i < 5 else k >= 6 - tops
            bill.append((sid, mth, 0.0, 10.0 * (1 + i // 5) if topped else 0.0))
    billing = pd.DataFrame(bill, columns=["subscriber_id", "month", "amount_due", "amount_paid"])
    usage = pd.DataFrame(
        [(s, m, 10) for s in ids for m in months], columns=["subscriber_id", "month", "active_days"]
    )
    con = ibis.duckdb.connect()
    return {
        "subscribers": con.create_table("subscribers", subs.iloc[order]),
        "billing": con.create_table("billing", billing.sample(frac=1.0, random_state=order[0])),
        "usage": con.create_table("usage", usage),
    }


def test_rfm_scores_equal_customers_alike_whatever_the_row_order() -> None:
    """Equal behaviour, equal RFM scores; row order changes nothing; the best scores 5."""
    cols = ["rfm_r", "rfm_f", "rfm_m", "rfm_segment"]
    runs = []
    for order in (list(range(10)), list(range(9, -1, -1)), [3, 7, 0, 9, 5, 1, 8, 2, 6, 4]):
        out = customer_value(
            _prepaid_world(order), as_of=date(2025, 6, 1), settings=ValueSettings()
        ).execute()
        runs.append(out.set_index("subscriber_id").sort_index()[cols])
    for other in runs[1:]:
        pd.testing.assert_frame_equal(other, runs[0])
    out = runs[0]
    alike = out.loc[[f"p{i}" for i in range(5)]]
    assert (alike[cols].nunique() == 1).all()  # p0–p4: one score each
    # p0–p4, half the base, last topped up in February with 2 top-ups of 10: each a
    # mid-rank share of 0.25 → score 2 (ntile gave them 1, 1, 2, 2, 3)
    assert alike.iloc[0][["rfm_r", "rfm_f", "rfm_m"]].tolist() == [2, 2, 2]
    assert alike["rfm_segment"].iloc[0] == "lapsing"
    # p5–p9 topped up in June (recency 0, a tie: share 0.75 → 4); top-ups 3, 4, 5, 6, 6
    # (p8 and p9 tie: share 0.9 → 5) and amounts 60, 80, 100, 120, 120 alike
    assert out.loc[[f"p{i}" for i in range(5, 10)], "rfm_r"].tolist() == [4] * 5
    assert out.loc[[f"p{i}" for i in range(5, 10)], "rfm_f"].tolist() == [3, 4, 4, 5, 5]
    assert out.loc[[f"p{i}" for i in range(5, 10)], "rfm_m"].tolist() == [3, 4, 4, 5, 5]
    assert out.loc["p9", "rfm_segment"] == "champions"  # r 4, score 14
    assert out.loc["p5", "rfm_segment"] == "loyal"  # r 4, score 10


def test_rfm_is_null_without_billing(tables: dict[str, ibis.Table]) -> None:
    """No billing table: no top-ups known, so no RFM scores or segment (not all alike)."""
    no_bills = {k: v for k, v in tables.items() if k != "billing"}
    out = customer_value(no_bills, as_of=date(2025, 6, 1), settings=ValueSettings()).execute()
    assert out[["rfm_r", "rfm_f", "rfm_m"]].isna().all().all()
    assert out["rfm_segment"].isna().all()


def test_clv_and_matrix(tables: dict[str, ibis.Table]) -> None:
    risk = ibis.memtable(
        pd.DataFrame(
            {"subscriber_id": list("abcde"), "churn_probability": [0.0, 0.2, 0.1, 0.01, 0.5]}
        )
    )
    s = ValueSettings(clv_horizon_months=12, annual_discount_rate=0.0)
    v = customer_value(tables, as_of=date(2025, 6, 1), settings=s, risk=risk)
    out = v.execute().set_index("subscriber_id")
    assert out.loc["a", "clv"] == pytest.approx(60.0 * 12)  # never churns, no discount
    keep = 0.8
    assert out.loc["b", "clv"] == pytest.approx(30.0 * keep * (1 - keep**12) / (1 - keep))
    assert out["risk_band"].to_dict() == {
        "a": "low",
        "b": "high",
        "c": "medium",
        "d": "low",
        "e": "high",
    }
    assert out.loc["a", "loyalty"] == "loyal"
    assert out.loc["d", "tenure_months"] == 29
    assert out.loc["d", "loyalty"] == "loyal"  # low risk and 29 months ≥ 24
    assert out.loc["c", "loyalty"] == "potentially_loyal"  # medium risk
    assert out.loc["b", "loyalty"] == "disloyal"
    matrix = value_risk_matrix(v).execute()
    assert matrix["customers"].sum() == 5
    high_high = matrix[(matrix.value_tier == "high") & (matrix.risk_band == "high")]
    assert int(high_high["customers"].iloc[0]) == 1


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="medium_revenue_share"):
        ValueSettings(high_revenue_share=0.8, medium_revenue_share=0.7)
    with pytest.raises(ValueError, match="risk_bands"):
        ValueSettings(risk_bands=(0.3, 0.1))
