"""Engine parity on expressions: labels on DuckDB and local PySpark agree.

The snapshot's parity (and its point-in-time property on Spark) is shown end to
end in ``test_build.py::test_spark_build_on_changed_future_equals_duckdb``.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from churnguard.config import LabelSettings
from churnguard.features import label_expr

from .synth import load_duckdb

# py4j leaves sockets for the garbage collector; collected inside the Spark tests
pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def _collect_py4j_sockets() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()


def _to_spark(spark_backend: Any, tables: dict[str, pa.Table], root: Path) -> None:
    # through DuckDB's Parquet writer, as 'features build --engine spark' does
    duck = load_duckdb(tables)
    session = spark_backend._session
    root.mkdir(parents=True, exist_ok=True)
    for name in tables:
        path = root / f"{name}.parquet"
        duck.con.execute(f"COPY \"{name}\" TO '{path}' (FORMAT parquet)")
        session.read.parquet(str(path)).createOrReplaceTempView(name)
    duck.disconnect()


def test_labels_parity(
    spark_backend: Any, synth_tables: dict[str, pa.Table], tmp_path: Path
) -> None:
    labels = LabelSettings()
    month = date(2024, 8, 1)
    duck = load_duckdb(synth_tables)
    expected = duck.execute(label_expr(duck, as_of=month, labels=labels))
    duck.disconnect()
    _to_spark(spark_backend, synth_tables, tmp_path)
    got = spark_backend.execute(label_expr(spark_backend, as_of=month, labels=labels))
    key = "subscriber_id"
    expected = expected.sort_values(key).reset_index(drop=True)
    got = got.sort_values(key).reset_index(drop=True)
    cols = [c for c in expected.columns if c not in ("as_of", "exclusion")]
    pd.testing.assert_frame_equal(expected[cols], got[cols], check_dtype=False)
    assert expected["exclusion"].fillna("").tolist() == got["exclusion"].fillna("").tolist()
