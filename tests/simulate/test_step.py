"""Stepping the world: treatments change next month's churn through the true response."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import pandas as pd
import pytest

from churnguard.errors import InputError, NotFoundError
from churnguard.simulate import OFFER_TYPES, simulate, step


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "op"
    simulate(out, subscribers=4000, months=6, seed=13)
    return out


def _copy(world: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(world, dst)
    return dst


def _best_offers(world: Path) -> pd.DataFrame:
    """Each currently active subscriber with the offer that truly helps most."""
    subs = pd.read_parquet(world / "subscribers.parquet")
    active = subs[subs.status != "churned"].subscriber_id
    resp = pd.read_parquet(world / "truth" / "offer_response.parquet")
    resp = resp[resp.subscriber_id.isin(active)]
    best = resp.loc[resp.groupby("subscriber_id").p_multiplier.idxmin()]
    return best[best.p_multiplier < 1][["subscriber_id", "offer_type"]]


def test_helpful_treatments_lower_churn_and_are_deterministic(world: Path, tmp_path: Path) -> None:
    plain = _copy(world, tmp_path, "plain")
    treated = _copy(world, tmp_path, "treated")
    again = _copy(world, tmp_path, "again")
    offers = _best_offers(world)
    assert len(offers) > 2000
    s0 = step(plain, treatments=None, out=tmp_path / "d0")
    s1 = step(treated, treatments=offers, out=tmp_path / "d1")
    step(again, treatments=offers, out=tmp_path / "d2")
    assert s0.treated == 0 and s1.treated == len(offers)
    assert s0.voluntary_churn_untreated == s1.voluntary_churn_untreated
    assert s1.voluntary_churn < 0.8 * s0.voluntary_churn
    assert s1.saved > 0 and s1.pushed == 0
    for f in sorted(p.name for p in (tmp_path / "d1").iterdir()):
        assert filecmp.cmp(tmp_path / "d1" / f, tmp_path / "d2" / f, shallow=False), f
    log = pd.read_parquet(treated / "truth" / "treatment_log.parquet")
    assert len(log) == len(offers)
    assert (log.p_treated <= log.p_untreated).all()
    # The rewritten truth of the last month shows the treated outcomes.
    t0 = pd.read_parquet(plain / "truth" / "churn_probability.parquet")
    t1 = pd.read_parquet(treated / "truth" / "churn_probability.parquet")
    last = pd.Timestamp("2024-06-01")
    assert (
        t1[pd.to_datetime(t1.month) == last].churned_voluntary.sum()
        < t0[pd.to_datetime(t0.month) == last].churned_voluntary.sum()
    )
    assert (pd.to_datetime(t1.month) == pd.Timestamp("2024-07-01")).sum() > 3000


def test_sleeping_dogs_are_pushed_away(world: Path, tmp_path: Path) -> None:
    resp = pd.read_parquet(world / "truth" / "offer_response.parquet")
    subs = pd.read_parquet(world / "subscribers.parquet")
    dogs = resp[
        resp.sleeping_dog & resp.subscriber_id.isin(subs[subs.status != "churned"].subscriber_id)
    ]
    offers = dogs[dogs.offer_type == "price_discount"][["subscriber_id", "offer_type"]]
    s = step(_copy(world, tmp_path, "dogs"), treatments=offers, out=tmp_path / "d")
    assert s.pushed >= s.saved
    log = pd.read_parquet(tmp_path / "dogs" / "truth" / "treatment_log.parquet")
    ratio = log.p_treated / log.p_untreated
    assert ratio.mean() > 1.5
    assert (ratio > 1).mean() > 0.95


def test_delta_batch_holds_the_new_month_only(world: Path, tmp_path: Path) -> None:
    w = _copy(world, tmp_path, "w")
    step(w, treatments=None, out=tmp_path / "d")
    step(w, treatments=None, out=tmp_path / "e")
    use = pd.read_parquet(tmp_path / "e" / "usage.parquet")
    assert set(pd.to_datetime(use.month)) == {pd.Timestamp("2024-08-01")}
    subs = pd.read_parquet(tmp_path / "e" / "subscribers.parquet")
    changed = subs.subscriber_id
    assert 0 < len(subs) < 1000
    new = subs[pd.to_datetime(subs.activation_date) >= pd.Timestamp("2024-08-01")]
    assert len(new) > 0 and set(new.subscriber_id) <= set(use.subscriber_id)
    left = subs[subs.status == "churned"]
    assert (pd.to_datetime(left.churn_date) >= pd.Timestamp("2024-08-01")).all()
    assert not set(left.subscriber_id) & set(use.subscriber_id) - set(
        left[left.churn_reason == "inactivity"].subscriber_id
    )
    assert changed.is_unique
    truth = pd.read_parquet(w / "truth" / "churn_probability.parquet")
    assert sorted(set(pd.to_datetime(truth.month).dt.month)) == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"subscriber_id": ["S00000001"], "offer": ["price_discount"]}), "offer_type"),
        (pd.DataFrame({"subscriber_id": ["S00000001"], "offer_type": ["free_beer"]}), "free_beer"),
        (pd.DataFrame({"subscriber_id": ["X1"], "offer_type": [OFFER_TYPES[0]]}), "X1"),
    ],
)
def test_bad_treatments_are_refused(
    world: Path, tmp_path: Path, frame: pd.DataFrame, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        step(world, treatments=frame, out=tmp_path / "x")


def test_step_needs_a_simulated_world(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="simulate"):
        step(tmp_path, treatments=None, out=tmp_path / "x")


def test_untreated_step_continues_exactly_like_a_longer_simulation(tmp_path: Path) -> None:
    short, long_ = tmp_path / "six", tmp_path / "seven"
    simulate(short, subscribers=800, months=6, seed=4)
    simulate(long_, subscribers=800, months=7, seed=4)
    step(short, treatments=None, out=tmp_path / "delta")
    july = pd.Timestamp("2024-07-01")
    for name, col in (("usage", "month"), ("interactions", "ts"), ("complaints", "created_at")):
        stepped = pd.read_parquet(tmp_path / "delta" / f"{name}.parquet")
        full = pd.read_parquet(long_ / f"{name}.parquet")
        full = full[pd.to_datetime(full[col]) >= july].reset_index(drop=True)
        pd.testing.assert_frame_equal(stepped, full)
    pd.testing.assert_frame_equal(
        pd.read_parquet(short / "truth" / "churn_probability.parquet"),
        pd.read_parquet(long_ / "truth" / "churn_probability.parquet"),
    )
    delta = pd.read_parquet(tmp_path / "delta" / "subscribers.parquet").set_index("subscriber_id")
    end = pd.read_parquet(long_ / "subscribers.parquet").set_index("subscriber_id")
    pd.testing.assert_frame_equal(delta, end.loc[delta.index])


def test_step_keeps_the_csv_format_of_the_world(tmp_path: Path) -> None:
    simulate(tmp_path / "w", subscribers=200, months=2, seed=8, fmt="csv", encoding="gbk")
    step(tmp_path / "w", treatments=None, out=tmp_path / "d")
    assert sorted(p.suffix for p in (tmp_path / "d").iterdir()) == [".csv"] * 9
    usage = pd.read_csv(tmp_path / "d" / "usage.csv", encoding="gbk")
    assert set(usage.month) == {"2024-03-01"}
    with pytest.raises(InputError, match="--out"):
        step(tmp_path / "w", treatments=None, out=tmp_path / "w")
