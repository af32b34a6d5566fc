"""The monthly batch on Spark gives the same warnings, levels and reasons as on DuckDB.

Both runs start from copies of the session's simulated operator (2,500
subscribers, LightGBM champion, warnings already raised for 2024-09) and batch
2024-10, whose snapshot and scores do not exist yet.
"""

from __future__ import annotations

import gc
import shutil
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from churnguard.batch import BatchResult, run_batch
from churnguard.config import load_settings
from churnguard.errors import InputError, NotFoundError, StateError

pytestmark = [
    pytest.mark.spark,
    # py4j leaves sockets for the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

MONTH = date(2024, 10, 1)
RUN = date(2024, 11, 1)
KEY = "subscriber_id"


@pytest.fixture(autouse=True)
def _collect_py4j_sockets() -> Iterator[None]:
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gc.collect()


@pytest.fixture(scope="module")
def spark() -> Any:
    """The local session (shared with the other Spark tests of the run)."""
    from churnguard.warehouse import spark as spark_wh

    return spark_wh.session(partitions=2, driver_memory="1g", cores=2)


@pytest.fixture(scope="module")
def runs(
    warned_ws: Path, spark: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, BatchResult]]:
    root = tmp_path_factory.mktemp("batch")
    out: dict[str, tuple[Path, BatchResult]] = {}
    for engine in ("duckdb", "spark"):
        ws = root / engine
        shutil.copytree(warned_ws, ws)
        settings = load_settings(ws)
        out[engine] = (
            ws,
            run_batch(settings, as_of=MONTH, engine=engine, run_date=RUN, push=False, spark=spark),
        )
    return out


def _warnings(result: BatchResult) -> pd.DataFrame:
    cols = [KEY, "level", "model_level", "rule_codes", "reasons_en", "reasons_zh", "top_category"]
    cols += ["churn_type", "queue", "deadline", "passive", "value_tier"]
    w = result.batch.warnings[[*cols, "churn_probability", "clv"]]
    return w.sort_values(KEY).reset_index(drop=True)


def test_same_warnings_levels_and_reasons(runs: dict[str, tuple[Path, BatchResult]]) -> None:
    duck, spark = runs["duckdb"][1], runs["spark"][1]
    assert duck.batch.scored == spark.batch.scored > 2000
    d, s = _warnings(duck), _warnings(spark)
    assert len(d) > 100 and set(d["level"]) == {"red", "orange", "yellow"}
    assert (d["rule_codes"] != "").sum() > 50 and (d["reasons_en"] != "").all()
    text = [c for c in d.columns if c not in ("churn_probability", "clv")]
    pd.testing.assert_frame_equal(d[text], s[text], check_dtype=False)
    for col in ("churn_probability", "clv"):
        assert (d[col] - s[col]).abs().max() < 1e-9, col
    dt, st = duck.batch.thresholds, spark.batch.thresholds
    for level in ("red", "orange", "yellow"):
        assert abs(getattr(dt, level) - getattr(st, level)) < 1e-12


def test_same_group_warnings_and_sync(runs: dict[str, tuple[Path, BatchResult]]) -> None:
    duck, spark = runs["duckdb"][1], runs["spark"][1]
    cols = ["group_id", "affected", "level", "rule_code", "reason_en"]
    dg = duck.batch.groups.sort_values("group_id").reset_index(drop=True)
    sg = spark.batch.groups.sort_values("group_id").reset_index(drop=True)
    assert len(dg) > 0
    pd.testing.assert_frame_equal(dg[cols], sg[cols], check_dtype=False)
    assert [list(m) for m in dg["members"]] == [list(m) for m in sg["members"]]
    # the same dedup/cooldown decisions against the warnings of 2024-09
    assert duck.stored.to_dict() == spark.stored.to_dict()
    assert spark.stored.rewarned + spark.stored.escalated > 0
    assert sum(spark.stored.closed.values()) > 0


def test_spark_writes_scores_and_warnings_as_tables(
    runs: dict[str, tuple[Path, BatchResult]],
) -> None:
    ws, spark = runs["spark"]
    assert set(spark.stages) >= {"snapshot", "score", "value_warnings", "write", "sync"}
    scores = pd.read_parquet(spark.tables["churnguard_scores"])
    assert len(scores) == spark.batch.scored and scores[KEY].is_unique
    assert sorted(scores["rank"].tolist()) == list(range(1, len(scores) + 1))
    explained = scores.dropna(subset=["top_reasons_en"])
    # reasons for the warned customers only
    assert set(explained[KEY]) == set(spark.batch.warnings[KEY])
    assert spark.explained == len(spark.batch.warnings)
    warned = pd.read_parquet(spark.tables["churnguard_warnings"])
    assert sorted(warned[KEY]) == sorted(spark.batch.warnings[KEY])
    assert str(ws / "spark" / "tables") in spark.tables["churnguard_warnings"]
    # the DuckDB run scored into the warehouse; probabilities agree with Spark's
    from churnguard.features.engines import open_warehouse

    backend = open_warehouse(load_settings(runs["duckdb"][0]), read_only=True)
    try:
        duck_scores = backend.con.execute(
            "SELECT subscriber_id, churn_probability, rank FROM scores WHERE as_of = ?", [MONTH]
        ).df()
    finally:
        backend.disconnect()
    both = duck_scores.merge(scores, on=KEY, suffixes=("_d", "_s"))
    assert len(both) == len(scores)
    assert (both["churn_probability_d"] - both["churn_probability_s"]).abs().max() < 1e-12


def test_source_folder_of_chunks(spark: Any, tmp_path: Path, workspace: Any) -> None:
    from churnguard.batch.sources import Location, register_tables
    from churnguard.features.context import AsOf
    from churnguard.simulate import simulate

    summary = simulate(tmp_path / "sim", subscribers=300, months=3, seed=2, chunk_size=150)
    found = register_tables(
        spark,
        Location("parquet", str(tmp_path / "sim")),
        settings=workspace,
        asof=AsOf(date(2024, 2, 1)),
        work=tmp_path / "work",
    )
    assert found["usage"].count("chunk-") == 2
    subs = sum(len(pd.read_parquet(Path(c) / "subscribers.parquet")) for c in summary.chunks)
    assert spark.table("subscribers").count() == subs
    months = {r[0] for r in spark.sql("SELECT DISTINCT month FROM usage").collect()}
    assert months == {date(2024, 1, 1), date(2024, 2, 1)}  # March is after the as-of month


def test_bad_inputs(warned_ws: Path, spark: Any, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(warned_ws, ws)
    settings = load_settings(ws)
    with pytest.raises(InputError, match="unknown engine 'flink'"):
        run_batch(settings, as_of=MONTH, engine="flink")
    with pytest.raises(InputError, match="for --engine spark"):
        run_batch(settings, as_of=MONTH, engine="duckdb", source="parquet:/tmp")
    with pytest.raises(InputError, match="is not a location"):
        run_batch(settings, as_of=MONTH, engine="spark", source="s3://bucket/x")
    with pytest.raises(NotFoundError, match="no such folder"):
        run_batch(
            settings, as_of=MONTH, engine="spark", source=f"parquet:{tmp_path}/gone", spark=spark
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no subscribers table"):
        run_batch(
            settings, as_of=MONTH, engine="spark", source=f"parquet:{tmp_path}/empty", spark=spark
        )
    with pytest.raises(NotFoundError, match="no such database"):
        run_batch(settings, as_of=MONTH, engine="spark", source="catalog:nodb", spark=spark)
    bare = load_settings(tmp_path / "bare", create=True)
    for engine in ("duckdb", "spark"):
        with pytest.raises(StateError, match="no champion model"):
            run_batch(bare, as_of=MONTH, engine=engine, spark=spark)
