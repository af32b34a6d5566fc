"""Snapshots stored in a workspace: build, replace, load, training sets, errors, CLI."""

from __future__ import annotations

import itertools
import json
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from churnguard.cli import _register, app
from churnguard.config import Settings, load_settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.features import (
    CATALOG,
    build_labels,
    build_snapshot,
    feature_columns,
    load_snapshot,
    training_frame,
)
from churnguard.features.store import RUNS_TABLE, SNAPSHOT_TABLE

from .perturb import perturb_future
from .synth import load_duckdb


def _count(settings: Settings, sql: str) -> int:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_build_replace_and_load(synth_workspace: Settings) -> None:
    info = build_snapshot(synth_workspace, as_of="2024-09")
    assert info.engine == "duckdb" and info.features == len(CATALOG)
    assert info.subscribers == sum(info.by_service.values()) > 20
    assert set(info.by_service) <= {"mobile", "broadband", "tv"}
    again = build_snapshot(synth_workspace, as_of=date(2024, 9, 20))
    assert again.subscribers == info.subscribers  # replaced, not appended
    build_snapshot(synth_workspace, as_of="2024-08")
    n_sept = _count(
        synth_workspace, f"SELECT count(*) FROM {SNAPSHOT_TABLE} WHERE as_of = '2024-09-01'"
    )
    assert n_sept == info.subscribers
    assert _count(synth_workspace, f"SELECT count(*) FROM {RUNS_TABLE}") == 2
    df = load_snapshot(synth_workspace, as_of="2024-09")
    assert len(df) == info.subscribers and df["subscriber_id"].is_unique
    assert list(df.columns) == ["as_of", "subscriber_id", *feature_columns()]
    assert info.to_dict()["as_of"] == "2024-09"


def test_errors_say_what_to_do(synth_workspace: Settings, workspace: Settings) -> None:
    with pytest.raises(
        InputError, match=r"no usage data for 2025-05; the warehouse covers 2024-01\.\.2024-12"
    ):
        build_snapshot(synth_workspace, as_of="2025-05")
    with pytest.raises(NotFoundError, match="features build --as-of 2024-03"):
        load_snapshot(synth_workspace, as_of="2024-03")
    with pytest.raises(InputError, match="unknown engine"):
        build_snapshot(synth_workspace, as_of="2024-03", engine="polars")  # type: ignore[arg-type]


def test_empty_workspace_is_refused(tmp_path_factory: pytest.TempPathFactory) -> None:
    from churnguard.config import load_settings

    empty = load_settings(tmp_path_factory.mktemp("empty") / "ws", create=True)
    with pytest.raises(NotFoundError, match="nothing has been ingested"):
        build_snapshot(empty, as_of="2024-03")


def test_training_frame_builds_missing_snapshots(synth_workspace: Settings) -> None:
    df = training_frame(synth_workspace, as_ofs=["2024-08", "2024-09"])
    assert sorted(df["as_of"].unique()) == [date(2024, 8, 1), date(2024, 9, 1)]
    assert list(df.columns) == ["as_of", "subscriber_id", *feature_columns(), "label"]
    assert set(df["label"].unique()) <= {0, 1}
    assert (df["tenure_months"] >= synth_workspace.labels.exclude_tenure_months).all()
    labels = build_labels(synth_workspace, as_of="2024-09")
    kept = labels[~labels["excluded"]].set_index("subscriber_id")["label_voluntary"]
    sept = df[df["as_of"] == date(2024, 9, 1)].set_index("subscriber_id")["label"]
    pd.testing.assert_series_equal(sept.sort_index(), kept.sort_index(), check_names=False)
    value = training_frame(synth_workspace, as_ofs=["2024-09"], target="value")
    assert len(value) == len(sept)


def test_training_frame_refuses_unknown_labels(synth_workspace: Settings) -> None:
    with pytest.raises(StateError, match="2024-12 are not known yet"):
        training_frame(synth_workspace, as_ofs=["2024-12"])
    with pytest.raises(StateError, match="not known yet"):
        build_labels(synth_workspace, as_of="2024-11")
    with pytest.raises(InputError, match="unknown target"):
        training_frame(synth_workspace, as_ofs=["2024-09"], target="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no snapshot months"):
        training_frame(synth_workspace, as_ofs=[])


runner = CliRunner()
_register()


def test_cli_build_json_and_table(synth_workspace: Settings) -> None:
    ws = str(synth_workspace.workspace)
    result = runner.invoke(
        app, ["features", "build", "--as-of", "2024-09", "--workspace", ws, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["as_of"] == "2024-09" and out["features"] == len(CATALOG)
    assert out["subscribers"] == sum(out["by_service"].values())
    result = runner.invoke(app, ["features", "build", "--as-of", "2024-09", "--workspace", ws])
    assert result.exit_code == 0 and "mobile" in result.stdout and "features" in result.stdout


def test_cli_describe() -> None:
    result = runner.invoke(app, ["features", "describe"])
    lines = [ln for ln in result.stdout.splitlines() if ln.strip()]
    assert result.exit_code == 0 and len(lines) == len(CATALOG) >= 40
    assert lines[0].split()[0] == CATALOG[0].name
    zh = runner.invoke(app, ["features", "describe", "--lang", "zh"])
    assert "通话时长" in zh.stdout
    js = json.loads(runner.invoke(app, ["features", "describe", "--json"]).stdout)
    assert [f["name"] for f in js["features"]] == feature_columns()
    bad = runner.invoke(app, ["features", "describe", "--lang", "fr"])
    assert bad.exit_code != 0


@pytest.mark.spark
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_build_on_changed_future_equals_duckdb(
    synth_workspace: Settings,
    synth_tables: dict[str, pa.Table],
    spark_backend: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # One Spark run shows both engine parity and point-in-time on Spark: the Spark
    # snapshot is computed on a warehouse whose data after the as-of month was changed.
    build_snapshot(synth_workspace, as_of="2024-10")
    duck = load_snapshot(synth_workspace, as_of="2024-10")
    other = load_settings(tmp_path_factory.mktemp("future") / "ws", create=True)
    changed = perturb_future(synth_tables, date(2024, 10, 1), seed=5)
    load_duckdb(changed, str(other.warehouse_path)).disconnect()
    info = build_snapshot(other, as_of="2024-10", engine="spark")
    spark = load_snapshot(other, as_of="2024-10")
    assert info.engine == "spark" and info.subscribers == len(duck) > 20
    numeric = [f.name for f in CATALOG if not f.categorical]
    pd.testing.assert_frame_equal(duck[numeric], spark[numeric], rtol=1e-9, atol=1e-9)
    cats = [f.name for f in CATALOG if f.categorical]
    assert duck[cats].fillna("").equals(spark[cats].fillna(""))
    assert duck["subscriber_id"].tolist() == spark["subscriber_id"].tolist()


def test_partitioned_build_equals_the_whole_build(synth_workspace: Settings) -> None:
    wh = synth_workspace.warehouse.model_copy(update={"snapshot_partition_rows": 12})
    sliced = synth_workspace.model_copy(update={"warehouse": wh})  # 60 subscribers: 5 parts
    group_churn = 0.0
    for as_of in ("2024-04", "2024-08", "2024-12"):
        whole_info = build_snapshot(synth_workspace, as_of=as_of)
        whole = load_snapshot(synth_workspace, as_of=as_of)
        assert whole["group_size"].max() > 3  # groups exist, so a split group would show
        group_churn = max(group_churn, float(whole["group_churned_3m"].max()))
        info = build_snapshot(sliced, as_of=as_of)
        assert info.subscribers == whole_info.subscribers
        pd.testing.assert_frame_equal(load_snapshot(sliced, as_of=as_of), whole)
    assert group_churn > 0  # churned group members were counted in some month


def test_partitions_split_every_table_by_subscriber(duck: object) -> None:
    from churnguard.features.context import IdRange, Sources, id_ranges

    ranges = id_ranges(duck, 4)
    assert len(ranges) == 4 and ranges[0].low is None and ranges[-1].high is None
    assert all(a.high == b.low for a, b in itertools.pairwise(ranges))
    sliced = [Sources(duck, partition=r) for r in ranges]
    parts = [src["subscribers"].execute() for src in sliced]
    everyone = Sources(duck)["subscribers"].execute()
    ids = pd.concat([p["subscriber_id"] for p in parts])
    assert ids.is_unique and set(ids) == set(everyone["subscriber_id"])
    sizes = [len(p) for p in parts]  # quantile bounds: about a quarter each
    assert min(sizes) >= len(everyone) // 4 - 1 and max(sizes) <= len(everyone) // 4 + 2
    groups = [set(p["group_id"].dropna()) for p in parts]
    assert any(groups[i] & groups[j] for i in range(4) for j in range(i + 1, 4))  # split
    usage = [src["usage"].execute() for src in sliced]
    assert sum(len(u) for u in usage) == len(Sources(duck)["usage"].execute())
    for part, rows in zip(parts, usage, strict=True):
        assert set(rows["subscriber_id"]) <= set(part["subscriber_id"])
    # the whole base stays at hand for features across subscribers (groups)
    assert len(sliced[0].unsliced()["subscribers"].execute()) == len(everyone)
    assert id_ranges(duck, 1) == [IdRange()]
    with pytest.raises(InputError, match="empty subscriber range"):
        IdRange("S2", "S1")
