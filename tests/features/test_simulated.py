"""Integration on the simulator's operator: snapshots build, labels match its ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from churnguard.config import Settings, load_settings
from churnguard.features import build_labels, build_snapshot, labeled_as_ofs, training_frame


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    from churnguard.ingest import ingest
    from churnguard.simulate import simulate

    root = tmp_path_factory.mktemp("sim")
    data = root / "data"
    simulate(data, subscribers=500, months=10, seed=3, start=date(2024, 1, 1))
    settings = load_settings(root / "ws", create=True)
    ingest(data, settings=settings, as_of=date(2024, 10, 1))
    return settings, data


def test_snapshot_on_simulated_operator(simulated: tuple[Settings, Path]) -> None:
    settings, _ = simulated
    info = build_snapshot(settings, as_of="2024-08")
    assert set(info.by_service) == {"mobile", "broadband", "tv"}
    assert info.subscribers > 400


def test_labels_equal_the_simulators_truth(simulated: tuple[Settings, Path]) -> None:
    settings, data = simulated
    truth = pd.read_parquet(data / "truth" / "churn_probability.parquet")
    truth["month"] = pd.to_datetime(truth["month"]).dt.date
    months = labeled_as_ofs(settings, date(2024, 10, 1))
    assert months[-1] == date(2024, 8, 1)
    positives = 0
    for month in months[-3:]:
        labels = build_labels(settings, as_of=month)
        t = truth[truth["month"] == month].set_index("subscriber_id")["churned_voluntary"]
        joined = labels.set_index("subscriber_id").join(t, how="inner")
        assert len(joined) >= 0.98 * len(labels)
        agree = (joined["label_voluntary"] == joined["churned_voluntary"].astype(int)).mean()
        assert agree == 1.0, f"{month}: labels agree with the truth on {agree:.1%}"
        positives += int(joined["label_voluntary"].sum())
    assert positives >= 5


def test_training_frame_on_simulated_operator(simulated: tuple[Settings, Path]) -> None:
    settings, _ = simulated
    df = training_frame(settings, as_ofs=["2024-06", "2024-07"])
    assert df.groupby("as_of").size().min() > 300
    assert 0 < df["label"].mean() < 0.2
