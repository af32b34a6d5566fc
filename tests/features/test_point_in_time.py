"""Point in time: nothing dated after the as-of month changes any feature of its snapshot."""

from __future__ import annotations

from datetime import date
from functools import cache

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnguard.features import snapshot_expr

from .perturb import perturb_future
from .synth import load_duckdb, make_tables

TABLES = make_tables(11, subscribers=50)


def _snapshot(tables: dict[str, pa.Table], as_of: date) -> pd.DataFrame:
    backend = load_duckdb(tables)
    try:
        df = backend.execute(snapshot_expr(backend, as_of=as_of))
    finally:
        backend.disconnect()
    return df.sort_values("subscriber_id").reset_index(drop=True)


@cache
def _original(as_of: date) -> pd.DataFrame:
    return _snapshot(TABLES, as_of)


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(month=st.integers(2, 11), seed=st.integers(0, 2**31 - 1))
def test_future_data_changes_nothing(month: int, seed: int) -> None:
    as_of = date(2024, month, 1)
    changed = perturb_future(TABLES, as_of, seed)
    # the perturbation really touched the data
    assert changed["usage"].num_rows != TABLES["usage"].num_rows or not changed["usage"].equals(
        TABLES["usage"]
    )
    before = _original(as_of)
    after = _snapshot(changed, as_of)
    assert len(before) > 0
    pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-12)


def test_past_data_does_change_the_snapshot() -> None:
    # the converse, so the property above cannot pass vacuously
    as_of = date(2024, 8, 1)
    before = _snapshot(TABLES, as_of)
    usage = TABLES["usage"].to_pandas()
    usage.loc[usage["month"] == date(2024, 8, 1), "voice_minutes"] += 1000.0
    changed = dict(TABLES, usage=pa.Table.from_pandas(usage, schema=TABLES["usage"].schema))
    after = _snapshot(changed, as_of)
    diff = (before["voice_last"] - after["voice_last"]).abs()
    assert (diff > 999).sum() >= 10
