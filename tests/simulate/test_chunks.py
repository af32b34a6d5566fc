"""Simulating a large operator in chunks: globally unique ids, the same rates, ingestible."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnguard.config import load_settings
from churnguard.errors import InputError
from churnguard.simulate import SimulationSummary, simulate
from churnguard.simulate.runner import chunk_plan

from .conftest import Sim

SUBSCRIBERS = 4000
MONTHS = 8


@pytest.fixture(scope="module")
def chunked(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    out = tmp_path_factory.mktemp("chunks") / "op"
    return simulate(out, subscribers=SUBSCRIBERS, months=MONTHS, seed=5, chunk_size=2000)


def _read(summary: SimulationSummary, name: str, *, truth: bool = False) -> pd.DataFrame:
    parts = [
        pd.read_parquet(Path(c) / ("truth" if truth else "") / f"{name}.parquet")
        for c in summary.chunks
    ]
    return pd.concat(parts, ignore_index=True)


def test_two_chunks_have_folders_and_sizes(chunked: SimulationSummary) -> None:
    assert [Path(c).name for c in chunked.chunks] == ["chunk-000", "chunk-001"]
    assert chunked.subscribers == SUBSCRIBERS
    first = pd.read_parquet(Path(chunked.chunks[0]) / "subscribers.parquet")
    second = pd.read_parquet(Path(chunked.chunks[1]) / "subscribers.parquet")
    # the initial base plus the month's joiners (about as many as leave)
    assert 2000 < len(first) < 2600 and 2000 < len(second) < 2600
    assert first["subscriber_id"].min() == "S00000001"
    assert second["subscriber_id"].min() == "S00005001"  # chunk 1 starts at 1 x (2 x 2,000 + 1,000)


def test_ids_are_globally_unique(chunked: SimulationSummary) -> None:
    subs = _read(chunked, "subscribers")
    assert subs["subscriber_id"].is_unique
    assert subs["msisdn"].is_unique
    assert subs["email"].dropna().duplicated().mean() < 0.001
    groups = subs.dropna(subset=["group_id"]).groupby("group_id")["subscriber_id"]
    per_chunk = subs.assign(chunk=subs["subscriber_id"].str[1:].astype(int) // 5000)
    owners = per_chunk.dropna(subset=["group_id"]).groupby("group_id")["chunk"].nunique()
    assert len(groups) > 20 and owners.max() == 1  # a group never spans two chunks
    complaints = _read(chunked, "complaints")
    assert len(complaints) > 100 and complaints["complaint_id"].is_unique
    usage = _read(chunked, "usage")
    assert set(usage["subscriber_id"]) <= set(subs["subscriber_id"])
    truth = _read(chunked, "churn_probability", truth=True)
    assert set(truth["subscriber_id"]) <= set(subs["subscriber_id"])
    offers = _read(chunked, "offer_response", truth=True)
    assert set(offers["subscriber_id"]) <= set(subs["subscriber_id"])


def test_chunks_are_different_worlds_with_the_same_rates(
    chunked: SimulationSummary, sim: Sim
) -> None:
    first = pd.read_parquet(Path(chunked.chunks[0]) / "usage.parquet")
    second = pd.read_parquet(Path(chunked.chunks[1]) / "usage.parquet")
    assert first["voice_minutes"].head(50).tolist() != second["voice_minutes"].head(50).tolist()
    # the unchunked 6,000-subscriber world of the session (seed 5): same distributions
    rates = chunked.monthly_voluntary_churn
    assert 0.005 < chunked.median_voluntary_churn < 0.04
    assert abs(chunked.median_voluntary_churn - sim.summary.median_voluntary_churn) < 0.008
    assert len(rates) == MONTHS
    assert 0.75 < chunked.bayes_auc < 0.9
    subs = _read(chunked, "subscribers")
    whole = sim.table("subscribers")
    for col in ("service_type", "payment_type"):
        a = subs[col].value_counts(normalize=True)
        b = whole[col].value_counts(normalize=True)
        assert (a - b).abs().max() < 0.04, col
    assert abs(subs["monthly_fee"].mean() / whole["monthly_fee"].mean() - 1) < 0.05


def test_one_chunk_alone_equals_the_same_chunk_of_a_full_run(
    chunked: SimulationSummary, tmp_path: Path
) -> None:
    alone = simulate(tmp_path / "op", subscribers=SUBSCRIBERS, months=MONTHS, seed=5, chunk=(1, 2))
    assert [Path(c).name for c in alone.chunks] == ["chunk-001"]
    got = pd.read_parquet(tmp_path / "op" / "chunk-001" / "subscribers.parquet")
    want = pd.read_parquet(Path(chunked.chunks[1]) / "subscribers.parquet")
    pd.testing.assert_frame_equal(got, want)


def test_chunks_ingest_one_after_the_other(chunked: SimulationSummary, tmp_path: Path) -> None:
    from churnguard.features.engines import open_warehouse
    from churnguard.ingest import ingest

    settings = load_settings(tmp_path / "ws", create=True)
    expected = 0
    for c in chunked.chunks:
        ingest(Path(c), settings=settings)
        expected += len(pd.read_parquet(Path(c) / "subscribers.parquet"))
    backend = open_warehouse(settings, read_only=True)
    try:
        n = backend.con.execute("SELECT count(DISTINCT subscriber_id) FROM subscribers").fetchall()
        plans = backend.con.execute("SELECT count(*) FROM plans").fetchall()
    finally:
        backend.disconnect()
    assert n[0][0] == expected
    assert plans[0][0] == len(pd.read_parquet(Path(chunked.chunks[0]) / "plans.parquet"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 10, "chunk": (0, 2)}, "not both"),
        ({"chunk_size": 0, "chunk": None}, "at least 1"),
        ({"chunk_size": None, "chunk": (2, 2)}, "between 0 and N-1"),
        ({"chunk_size": None, "chunk": (0, 5000)}, "more chunks than subscribers"),
    ],
)
def test_bad_chunk_options(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        chunk_plan(100, months=4, **kwargs)  # type: ignore[arg-type]


def test_chunk_size_above_the_base_is_one_world() -> None:
    assert chunk_plan(100, months=4, chunk_size=100, chunk=None) is None
