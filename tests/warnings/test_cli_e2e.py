"""warn and worklist end to end through the CLI on a small simulated operator."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.conftest import CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("warn-e2e")
    data, ws = root / "sim", root / "ws"
    run(
        "simulate",
        str(data),
        "--subscribers",
        "2500",
        "--months",
        "11",
        "--seed",
        "4",
        "--start",
        "2024-01",
    )
    run("ingest", str(data), "--workspace", str(ws))
    run(
        "model",
        "train",
        "--as-of",
        "2024-11",
        "--families",
        "logistic,lightgbm",
        "--workspace",
        str(ws),
    )
    return ws


def _scored_month(trained: Path) -> tuple[Any, date, str]:
    """The trained workspace's settings, the month its tests explain, and the champion."""
    from churnguard.config import load_settings
    from churnguard.models.registry import champion

    settings = load_settings(trained)
    return settings, date(2024, 11, 1), str(champion(settings)["version"])


def _by_id(f: pd.DataFrame) -> pd.DataFrame:
    """Explanations come in no set order: by subscriber, to compare them."""
    return f.sort_values("subscriber_id", ignore_index=True)


def test_warn_scores_grades_and_stores(trained: Path) -> None:
    ws = str(trained)
    first = json.loads(
        run(
            "warn", "--as-of", "2024-11", "--workspace", ws, "--run-date", "2024-12-02", "--json"
        ).stdout
    )
    # no score step was run: warn prepared the month's snapshot and scores itself
    assert "scores" in first["prepared"]
    assert first["warnings"] > 0
    assert set(first["by_level"]) == {"red", "orange", "yellow"}
    assert first["stored"]["new"] == first["warnings"]
    assert sum(first["by_queue"].values()) == first["warnings"]
    assert {"high", "medium", "low"} >= {r["value_tier"] for r in first["value_risk_matrix"]}
    sample = first["sample"][0]
    assert sample["reasons_zh"] and sample["reasons_en"] and sample["deadline"]

    # explanations were computed for the warned customers only, and kept with their scores
    import duckdb
    import sqlalchemy as sa

    con = duckdb.connect(str(trained / "warehouse.duckdb"), read_only=True)
    try:
        explained = {
            r[0]
            for r in con.execute(
                "SELECT subscriber_id FROM scores WHERE top_reasons_en IS NOT NULL"
            ).fetchall()
        }
        scored = con.execute("SELECT count(*) FROM scores").fetchall()[0][0]
    finally:
        con.close()
    engine = sa.create_engine(f"sqlite:///{trained / 'operational.db'}")
    with engine.connect() as c:
        warned = {r[0] for r in c.execute(sa.text("SELECT subscriber_id FROM warnings"))}
    engine.dispose()
    assert explained and explained <= warned
    assert len(explained) >= 0.9 * len(warned) and len(explained) < scored

    again = json.loads(
        run(
            "warn", "--as-of", "2024-11", "--workspace", ws, "--run-date", "2024-12-09", "--json"
        ).stdout
    )
    assert again["prepared"] == []
    assert again["stored"]["new"] == 0
    assert again["stored"]["kept_in_cooldown"] == first["warnings"]
    # the stored reasons came back with the candidates: nobody was explained again
    assert again["by_reason"] == first["by_reason"]
    assert again["by_churn_type"] == first["by_churn_type"]

    def without_deadline(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in r.items() if k != "deadline"} for r in rows]

    assert without_deadline(again["sample"]) == without_deadline(first["sample"])


def test_a_rerun_reads_the_stored_reasons(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A daily run of an explained month joins the stored reasons; it explains no one."""
    from datetime import date

    from churnguard.config import load_settings
    from churnguard.models import scoring
    from churnguard.warnings.run import raise_warnings

    settings = load_settings(trained)
    month = date(2024, 11, 1)
    first = raise_warnings(settings, as_of=month, run_date=date(2024, 12, 10), push=False)

    def no_explaining(*_a: object, **_k: object) -> None:
        raise AssertionError("explained again")

    monkeypatch.setattr(scoring, "explain_subscribers", no_explaining)
    again = raise_warnings(settings, as_of=month, run_date=date(2024, 12, 11), push=False)
    cols = ["subscriber_id", "level", "reasons_zh", "reasons_en", "top_category", "churn_type"]
    a, b = (
        r.batch.warnings[cols].sort_values("subscriber_id", ignore_index=True)
        for r in (first, again)
    )
    assert len(a) > 0 and a["reasons_en"].str.len().gt(0).all()
    pd.testing.assert_frame_equal(a, b)


def test_worklist_is_masked_and_sorted(trained: Path, tmp_path: Path) -> None:
    ws = str(trained)
    text = run("worklist", "--workspace", ws, "--format", "csv").stdout
    df = pd.read_csv(io.StringIO(text), dtype=str)
    assert len(df) > 0
    assert {"reasons", "deadline", "queue", "msisdn", "name"} <= set(df.columns)
    assert not df["msisdn"].str.fullmatch(r"1\d{10}").any()
    assert df["msisdn"].str.fullmatch(r"1\d{2}\*{4}\d{4}").all()
    order = df["level"].map({"red": 0, "orange": 1, "yellow": 2})
    assert order.is_monotonic_increasing
    queue = df["queue"].iloc[0]
    only = pd.read_csv(
        io.StringIO(run("worklist", "--workspace", ws, "--queue", queue, "--level", "red").stdout),
        dtype=str,
    )
    assert set(only["queue"]) <= {queue} and set(only["level"]) <= {"red"}
    xlsx = tmp_path / "list.xlsx"
    run("worklist", "--workspace", ws, "--format", "xlsx", "--out", str(xlsx), "--lang", "en")
    back = pd.read_excel(xlsx, dtype=str)
    assert len(back) == len(df)
    assert not back["msisdn"].str.fullmatch(r"1\d{10}").any()


def test_worklist_errors_are_clear(trained: Path) -> None:
    out = subprocess.run(
        [CLI, "worklist", "--workspace", str(trained), "--queue", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1
    assert "queues with warnings" in out.stderr and "Traceback" not in out.stderr


def test_explanations_from_the_frame_in_memory_equal_the_stored_rows(trained: Path) -> None:
    """warn explains from the snapshot it scored: the same reasons as rows read again."""
    from churnguard.models.scoring import explain_subscribers, month_frame, month_table

    settings, month, version = _scored_month(trained)
    frame = month_frame(settings, as_of=month)
    # some customers, out of order, one twice and one unknown
    ids = [*frame["subscriber_id"].iloc[[40, 3, 17, 3, 900]].astype(str), "NOPE"]

    read = _by_id(explain_subscribers(settings, as_of=month, version=version, subscriber_ids=ids))
    assert len(read) == 4
    # the pandas frame, the Arrow table warn holds, and the frame in another row order
    table = month_table(settings, as_of=month)
    shuffled = frame.sample(frac=1.0, random_state=0)
    for held in (frame, table, shuffled):
        got = explain_subscribers(
            settings, as_of=month, version=version, subscriber_ids=ids, frame=held
        )
        pd.testing.assert_frame_equal(_by_id(got), read)


def test_scores_of_the_arrow_snapshot_in_slices_equal_the_pandas_frame(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring the Arrow snapshot a slice at a time gives the frame's scores exactly."""
    from churnguard.models import scoring

    settings, month, version = _scored_month(trained)
    _row, model = scoring.load_registered(settings, version=version)
    frame = scoring.month_frame(settings, as_of=month)
    whole, _ = scoring.compute_scores(
        settings, as_of=month, frame=frame, model=model, version=version, explain_share=0.1
    )
    monkeypatch.setattr(scoring, "SCORE_SLICE", 37)  # many slices, a short last one
    sliced, explained = scoring.compute_scores(
        settings,
        as_of=month,
        frame=scoring.month_table(settings, as_of=month),
        model=model,
        version=version,
        explain_share=0.1,
    )
    assert len(sliced) == len(frame) and explained == int(np.ceil(0.1 * len(frame)))
    cols = [c for c in sliced.columns if c != "scored_at"]
    pd.testing.assert_frame_equal(sliced[cols], whole[cols])


def test_explanations_in_chunks_equal_one_pass(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Explanations are computed a bounded chunk at a time; chunks change nothing."""
    from churnguard.features import iter_snapshot, load_snapshot
    from churnguard.models import scoring

    settings, month, version = _scored_month(trained)
    frame = load_snapshot(settings, as_of=month)
    ids = frame["subscriber_id"].iloc[::7].astype(str).tolist()

    whole = _by_id(
        scoring.explain_subscribers(settings, as_of=month, version=version, subscriber_ids=ids)
    )
    assert len(whole) == len(ids) and whole["top_reasons_en"].notna().all()
    monkeypatch.setattr(scoring, "EXPLAIN_CHUNK", 37)
    for held in (None, frame):
        chunked = scoring.explain_subscribers(
            settings, as_of=month, version=version, subscriber_ids=ids, frame=held
        )
        pd.testing.assert_frame_equal(_by_id(chunked), whole)
    streamed = list(
        iter_snapshot(settings, as_of=month, subscriber_ids=ids, rows_per_chunk=50, ordered=False)
    )
    pd.testing.assert_frame_equal(
        _by_id(pd.concat(streamed, ignore_index=True)), frame.iloc[::7].reset_index(drop=True)
    )
    parts = list(iter_snapshot(settings, as_of=month, subscriber_ids=ids, rows_per_chunk=50))
    assert max(len(p) for p in parts) <= 50 and len(parts) == -(-len(ids) // 50)
    pd.testing.assert_frame_equal(
        pd.concat(parts, ignore_index=True), frame.iloc[::7].reset_index(drop=True)
    )
    everyone = pd.concat(
        iter_snapshot(settings, as_of=month, rows_per_chunk=300), ignore_index=True
    )
    pd.testing.assert_frame_equal(everyone, frame)


def test_streamed_reads_run_within_the_stream_memory_limit(trained: Path) -> None:
    """Unordered reads open DuckDB with ``stream_memory_limit``, ordered ones with its limit."""
    from datetime import date

    import duckdb

    from churnguard.config import load_settings
    from churnguard.features import build_snapshot, iter_snapshot

    month = date(2024, 10, 1)
    build_snapshot(load_settings(trained), as_of=month)
    tight = load_settings(trained, overrides={"warehouse": {"stream_memory_limit": "1KB"}})
    with pytest.raises(duckdb.OutOfMemoryException):
        list(iter_snapshot(tight, as_of=month, rows_per_chunk=50, ordered=False))
    assert sum(len(p) for p in iter_snapshot(tight, as_of=month, rows_per_chunk=50)) > 0


def test_only_warned_customers_are_looked_up_as_active(trained: Path) -> None:
    """record tells churners from calmer customers; warn asks about the warned ones only."""
    from datetime import date

    import sqlalchemy as sa

    from churnguard.config import load_settings
    from churnguard.warehouse.analytical import connect
    from churnguard.warehouse.operational import session_scope
    from churnguard.warnings.run import _still_active
    from churnguard.warnings.store import CustomerWarning, open_warnings

    settings = load_settings(trained)
    run("warn", "--as-of", "2024-11", "--workspace", str(trained), "--run-date", "2024-12-02")
    with session_scope(settings) as session:
        warned = set(open_warnings(session)["subscriber_id"])
    assert warned
    backend = connect(settings, read_only=True)
    try:
        in_may = set(_still_active(settings, backend, as_of=date(2024, 5, 1)))
        in_nov = set(_still_active(settings, backend, as_of=date(2024, 11, 1)))
        subs = backend.table("subscribers").execute()
    finally:
        backend.disconnect()
    assert in_nov == warned  # warned on the November snapshot: all active then
    # in May, the warned customers activated later are not active yet
    later = set(subs.loc[subs["activation_date"] >= pd.Timestamp("2024-06-01"), "subscriber_id"])
    assert in_may == warned - later and warned & later
    with session_scope(settings) as session:
        session.execute(sa.update(CustomerWarning).values(status="closed"))
    backend = connect(settings, read_only=True)
    try:
        assert _still_active(settings, backend, as_of=date(2024, 11, 1)).empty
    finally:
        backend.disconnect()
        with session_scope(settings) as session:  # leave the module's workspace as it was
            session.execute(
                sa.update(CustomerWarning)
                .where(CustomerWarning.subscriber_id.in_(sorted(warned)))
                .values(status="open")
            )
