"""Seeded random contract tables for feature tests: every table, NULLs and edge values included.

Vectorized (numpy), small, and independent of the simulator so that point-in-time
and parity tests control exactly which rows exist.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

from churnguard.contract import TABLES
from churnguard.features.context import empty_table

START = date(2024, 1, 1)


def _months(n: int) -> list[date]:
    out = []
    for i in range(n):
        y, m = divmod(START.month - 1 + i, 12)
        out.append(date(START.year + y, m + 1, 1))
    return out


def _with_nulls(rng: np.random.Generator, values: np.ndarray, share: float = 0.05) -> list:
    mask = rng.random(len(values)) < share
    return [None if m else v for v, m in zip(values.tolist(), mask, strict=True)]


def _table(name: str, cols: dict[str, list]) -> pa.Table:
    schema = empty_table(name).schema
    return pa.table({f.name: pa.array(cols[f.name], f.type) for f in schema})


def make_tables(seed: int, *, subscribers: int = 60, months: int = 12) -> dict[str, pa.Table]:
    """Contract tables for ``subscribers`` subscribers over ``months`` months from 2024-01."""
    rng = np.random.default_rng(seed)
    n = subscribers
    ids = [f"S{i:05d}" for i in range(n)]
    service = rng.choice(["mobile", "broadband", "tv"], n, p=[0.6, 0.2, 0.2])
    month_list = _months(months)
    span = (month_list[-1] - START).days + 28
    act_offset = rng.integers(-400, span - 40, n)
    activation = [START + timedelta(days=int(d)) for d in act_offset]
    churn_days = rng.integers(0, span + 60, n)
    churned = rng.random(n) < 0.35
    churn_date = [
        (a + timedelta(days=int(max(d, 1)) % (span + 60)) if c else None)
        for a, d, c in zip(activation, churn_days, churned, strict=True)
    ]
    churn_date = [
        None if (c is not None and c <= a) else c
        for c, a in zip(churn_date, activation, strict=True)
    ]
    reasons = rng.choice(
        ["port_out", "voluntary_cancel", "inactivity", "arrears_disconnect", "relocation"], n
    )
    groups = rng.choice(["G1", "G2", "G3", None], n, p=[0.15, 0.15, 0.1, 0.6])
    subs = _table(
        "subscribers",
        {
            "subscriber_id": ids,
            "msisdn": [None] * n,
            "name": [None] * n,
            "id_number": [None] * n,
            "email": [None] * n,
            "service_type": service.tolist(),
            "activation_date": activation,
            "plan_id": rng.choice(["P1", "P2"], n).tolist(),
            "monthly_fee": rng.uniform(10, 200, n).tolist(),
            "contract_end_date": _with_nulls(
                rng,
                np.array([START + timedelta(days=int(d)) for d in rng.integers(-100, 700, n)]),
                0.3,
            ),
            "payment_type": rng.choice(["prepaid", "postpaid"], n).tolist(),
            "customer_type": ["group" if g else "individual" for g in groups],
            "group_id": groups.tolist(),
            "region": _with_nulls(rng, rng.choice(["north", "south"], n)),
            "acquisition_channel": rng.choice(["hall", "web"], n).tolist(),
            "age": _with_nulls(rng, rng.integers(18, 80, n)),
            "gender": rng.choice(["M", "F", "U"], n).tolist(),
            "status": ["churned" if c else "active" for c in churn_date],
            "churn_date": churn_date,
            "churn_reason": [r if c else None for r, c in zip(reasons, churn_date, strict=True)],
            "marketing_opt_out": [False] * n,
        },
    )
    # monthly tables: every subscriber, every month, some rows dropped
    sid = np.repeat(np.array(ids), months)
    mon = np.tile(np.array(month_list, dtype=object), n)
    keep = rng.random(len(sid)) > 0.1
    sid, mon = sid[keep], mon[keep]
    m = len(sid)
    zero = rng.random(m) < 0.1  # silent months

    def usage_col(scale: float) -> list:
        return _with_nulls(rng, np.where(zero, 0.0, rng.gamma(2.0, scale, m)))

    usage = _table(
        "usage",
        {
            "subscriber_id": sid.tolist(),
            "month": mon.tolist(),
            "voice_minutes": usage_col(100),
            "calls_out": usage_col(20),
            "calls_in": usage_col(20),
            "sms": usage_col(10),
            "data_mb": usage_col(1000),
            "offnet_minutes": usage_col(30),
            "call_forward_offnet": _with_nulls(rng, rng.poisson(0.3, m).astype(float)),
            "roaming_minutes": usage_col(5),
            "active_days": _with_nulls(rng, rng.integers(0, 31, m)),
            "viewing_hours": usage_col(30),
            "device_offline_days": _with_nulls(rng, rng.integers(0, 10, m)),
        },
    )
    due = [d + timedelta(days=20) for d in mon]
    paid_delay = rng.integers(-10, 60, m)
    paid = [
        None if rng_v < 0.1 else d + timedelta(days=int(x))
        for d, x, rng_v in zip(due, paid_delay, rng.random(m), strict=True)
    ]
    billing = _table(
        "billing",
        {
            "subscriber_id": sid.tolist(),
            "month": mon.tolist(),
            "amount_due": _with_nulls(rng, rng.uniform(0, 150, m)),
            "amount_paid": _with_nulls(rng, np.where(zero, 0.0, rng.uniform(0, 150, m))),
            "due_date": _with_nulls(rng, np.array(due, dtype=object)),
            "paid_date": paid,
            "arrears_balance": _with_nulls(
                rng, np.where(rng.random(m) < 0.3, rng.uniform(1, 90, m), 0.0)
            ),
        },
    )
    nq = _table(
        "network_quality",
        {
            "subscriber_id": sid.tolist(),
            "month": mon.tolist(),
            "dropped_call_rate": _with_nulls(rng, rng.uniform(0, 0.1, m)),
            "avg_signal_dbm": _with_nulls(rng, rng.uniform(-120, -60, m)),
            "avg_download_mbps": _with_nulls(rng, rng.uniform(1, 300, m)),
            "outage_minutes": _with_nulls(
                rng, np.where(rng.random(m) < 0.2, rng.uniform(0, 600, m), 0.0)
            ),
        },
    )

    def events(k: int) -> tuple[list, list]:
        who = rng.choice(np.array(ids), k).tolist()
        secs = rng.integers(0, span * 86400, k)
        ts = [datetime(START.year, START.month, 1) + timedelta(seconds=int(s)) for s in secs]
        return who, ts

    k = n * 3
    who, ts = events(k)
    resolve = [
        t + timedelta(hours=int(h)) if r > 0.2 else None
        for t, h, r in zip(ts, rng.integers(1, 24 * 40, k), rng.random(k), strict=True)
    ]
    complaints = _table(
        "complaints",
        {
            "complaint_id": [f"C{i}" for i in range(k)],
            "subscriber_id": who,
            "created_at": ts,
            "category": rng.choice(["network", "billing", "service", "price", "other"], k).tolist(),
            "channel": rng.choice(["app", "hall"], k).tolist(),
            "text": ["x"] * k,
            "resolved_at": resolve,
            "satisfied": _with_nulls(rng, rng.random(k) < 0.5, 0.2),
        },
    )
    k = n * 6
    who, ts = events(k)
    interactions = _table(
        "interactions",
        {
            "subscriber_id": who,
            "ts": ts,
            "channel": rng.choice(["app", "hall", "web", "call_center"], k).tolist(),
            "kind": rng.choice(
                ["inquiry", "bill_query", "cancel_inquiry", "port_out_query", "other"], k
            ).tolist(),
        },
    )
    k = n
    who, ts = events(k)
    plan_changes = _table(
        "plan_changes",
        {
            "subscriber_id": who,
            "changed_at": ts,
            "from_plan": ["P1"] * k,
            "to_plan": ["P2"] * k,
            "fee_delta": _with_nulls(rng, rng.uniform(-50, 50, k)),
        },
    )
    k = n * 2
    who, ts = events(k)
    surveys = _table(
        "surveys",
        {
            "subscriber_id": who,
            "surveyed_at": ts,
            "csat": _with_nulls(rng, rng.integers(1, 6, k)),
            "nps": _with_nulls(rng, rng.integers(0, 11, k)),
            "comment": [None] * k,
        },
    )
    plans = _table(
        "plans",
        {
            "plan_id": ["P1", "P2"],
            "plan_name": ["a", "b"],
            "service_type": ["mobile", "mobile"],
            "monthly_fee": [50.0, 80.0],
            "data_quota_mb": [1000.0, 5000.0],
            "voice_quota_min": [100.0, 300.0],
        },
    )
    out = {
        "subscribers": subs,
        "plans": plans,
        "usage": usage,
        "billing": billing,
        "network_quality": nq,
        "complaints": complaints,
        "interactions": interactions,
        "plan_changes": plan_changes,
        "surveys": surveys,
    }
    assert set(out) == set(TABLES)
    return out


def load_duckdb(tables: dict[str, pa.Table], path: str = ":memory:"):  # type: ignore[no-untyped-def]
    """An Ibis DuckDB backend holding ``tables`` under their contract names."""
    import ibis

    backend = ibis.duckdb.connect(path)
    con = backend.con
    for name, table in tables.items():
        con.register("_incoming", table)
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _incoming')
        con.unregister("_incoming")
    return backend


def from_rows(**rows: list[dict]) -> dict[str, pa.Table]:  # type: ignore[type-arg]
    """Contract tables from row dicts (absent columns NULL); tables not given are empty."""
    out = {}
    for name in TABLES:
        schema = empty_table(name).schema
        given = rows.get(name, [])
        out[name] = pa.table(
            {f.name: pa.array([r.get(f.name) for r in given], f.type) for f in schema}
        )
    return out
