"""Uplift model: metrics vs hand computations, learning a known uplift, persistence, workspace."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from churnguard.config import Settings, load_settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.retention.uplift import (
    LEARNERS,
    UpliftLearner,
    active_uplift,
    auuc,
    evaluate_uplift,
    fit_and_register,
    fit_uplift,
    load_uplift,
    offer_qini,
    policy_qini,
    qini_coefficient,
    qini_curve,
    save_uplift,
    split_heldout,
    uplift_curve,
    uplift_training_frame,
    with_features,
)

# --------------------------------------------------------------------------- metrics


def test_qini_curve_by_hand() -> None:
    # ranked: T kept, C churned, T churned, C kept
    score = [0.9, 0.7, 0.5, 0.1]
    churned = [0, 1, 1, 0]
    treated = [True, False, True, False]
    x, g = qini_curve(score, churned, treated)
    # k=1: R_t=1, no control yet → 1; k=2: 1 − 0·1/1 = 1; k=3: 1 − 0·2/1 = 1; k=4: 1 − 1·2/2 = 0
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert g.tolist() == pytest.approx([0.0, 0.25, 0.25, 0.25, 0.0])
    # area: 0.25·(0+0.25)/2 + 0.25·0.25 + 0.25·0.25 + 0.25·(0.25+0)/2 = 0.1875; diagonal ends at 0
    assert qini_coefficient(score, churned, treated) == pytest.approx(0.1875)
    # uplift curve: k=2 (1/1 − 0/1)·2 = 2; k=3 (1/2 − 0)·3 = 1.5; k=4 (1/2 − 1/2)·4 = 0
    _, u = uplift_curve(score, churned, treated)
    assert u.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.375, 0.0])
    assert auuc(score, churned, treated) == pytest.approx(
        0.25 * (0 + 0.5) / 2 + 0.25 * (0.5 + 0.375) / 2 + 0.25 * 0.375 / 2
    )


def test_reversed_ranking_is_negative_and_ties_are_grouped() -> None:
    churned = [0, 1, 1, 0]
    treated = [True, False, True, False]
    assert qini_coefficient([0.1, 0.5, 0.7, 0.9], churned, treated) < 0
    # all tied: only the end point exists, the curve is the diagonal → coefficient 0
    x, g = qini_curve([1.0] * 4, churned, treated)
    assert x.tolist() == [0.0, 1.0]
    assert qini_coefficient([1.0] * 4, churned, treated) == pytest.approx(0.0)
    # end value: all retained among treated (1 of 2) minus control (1 of 2) scaled → 0
    assert g[-1] == pytest.approx(0.0)


def test_metric_inputs_are_checked() -> None:
    with pytest.raises(InputError, match="one length"):
        qini_curve([0.1, 0.2], [0, 1, 0], [True, False])
    with pytest.raises(InputError, match="NaN"):
        auuc([0.1, np.nan], [0, 1], [True, False])


def test_perfect_score_beats_random_on_a_large_sample() -> None:
    rng = np.random.default_rng(0)
    n = 40_000
    true_save = rng.uniform(-0.05, 0.3, n)
    treated = rng.random(n) < 0.5
    p = np.where(treated, 0.4 - true_save, 0.4)
    churned = rng.random(n) < p
    perfect = qini_coefficient(true_save, churned, treated)
    random = qini_coefficient(rng.random(n), churned, treated)
    assert perfect > 0.01
    assert abs(random) < 0.004
    assert auuc(true_save, churned, treated) > auuc(rng.random(n), churned, treated)


# --------------------------------------------------------------------------- learning


def synthetic_campaigns(
    n: int, *, seed: int, campaigns: int = 2
) -> tuple[pd.DataFrame, np.ndarray]:
    """Two offers: ``discount`` helps price-sensitive customers, ``call`` backfires on dogs.

    Returns the frame and the true save per row for ``[discount, call]``.
    """
    rng = np.random.default_rng(seed)
    price = rng.beta(2, 3, n)
    dog = rng.random(n) < 0.2
    tenure = rng.gamma(2, 20, n)
    frame = pd.DataFrame(
        {
            "price_complaints": price * 4 + rng.normal(0, 0.3, n),
            "quiet_customer": np.where(dog, "yes", "no"),
            "tenure_months": tenure,
            "region": rng.choice(["north", "south", "east"], n),
            "noise": rng.normal(0, 1, n),
        }
    )
    z = -1.6 + 0.8 * price - 0.01 * tenure + rng.normal(0, 0.3, n)
    p0 = 1 / (1 + np.exp(-z))
    frame["churn_probability"] = np.clip(p0, 0.01, 0.99)
    mult_discount = np.exp(-2.2 * price)  # strong for price-sensitive customers
    mult_call = np.where(dog, 2.2, 0.75)  # contacting a sleeping dog wakes it up
    true = np.column_stack([p0 * (1 - mult_discount), p0 - np.minimum(p0 * mult_call, 1)])
    arm = np.where(rng.random(n) < 0.2, "control", "treatment")
    offer = np.where(rng.random(n) < 0.5, "discount", "call")
    mult = np.where(arm == "control", 1.0, np.where(offer == "discount", mult_discount, mult_call))
    churned = rng.random(n) < np.clip(p0 * mult, 0, 1)
    frame["arm"] = arm
    frame["offer"] = np.where(arm == "treatment", offer, None)
    frame["churned"] = churned
    frame["campaign_id"] = rng.integers(1, campaigns + 1, n)
    frame["as_of"] = pd.to_datetime("2025-01-01") + pd.to_timedelta(
        (frame["campaign_id"] - 1) * 31, unit="D"
    )
    return frame, true


@pytest.fixture(scope="module")
def synthetic() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_campaigns(12_000, seed=11)


@pytest.fixture(scope="module")
def fitted(synthetic: tuple[pd.DataFrame, np.ndarray]) -> tuple[UpliftLearner, pd.DataFrame]:
    frame, _ = synthetic
    train, heldout, _ = split_heldout(frame)
    return fit_uplift(train, learner="offset_t", seed=3), heldout


def test_offset_t_finds_the_backfire_and_the_price_effect(
    fitted: tuple[UpliftLearner, pd.DataFrame],
) -> None:
    model, heldout = fitted
    saves = model.predict_all(heldout)
    dog = heldout["quiet_customer"] == "yes"
    # the call makes sleeping dogs likelier to leave, helps the others
    assert saves.loc[dog, "call"].mean() < -0.02
    assert saves.loc[~dog, "call"].mean() > 0.0
    assert saves.loc[~dog, "call"].mean() - saves.loc[dog, "call"].mean() > 0.03
    # the discount saves more of the price-sensitive customers
    price = heldout["price_complaints"]
    high, low = price > price.quantile(0.75), price < price.quantile(0.25)
    assert saves.loc[high, "discount"].mean() > 1.5 * saves.loc[low, "discount"].mean()
    assert ((saves.to_numpy() >= -1) & (saves.to_numpy() <= 1)).all()


def test_heldout_qini_clearly_above_random(
    synthetic: tuple[pd.DataFrame, np.ndarray], fitted: tuple[UpliftLearner, pd.DataFrame]
) -> None:
    model, heldout = fitted
    metrics = evaluate_uplift(model, heldout)
    call = metrics["offers"]["call"]
    rng = np.random.default_rng(5)
    shuffled = pd.DataFrame(
        {"discount": rng.random(len(heldout)), "call": rng.random(len(heldout))}
    )
    random_call = offer_qini(heldout, shuffled, offer="call")
    frame, true = synthetic
    truth = pd.DataFrame(true[(frame["campaign_id"] == 2).to_numpy()], columns=["discount", "call"])
    oracle_call = offer_qini(heldout, truth, offer="call")
    assert random_call is not None and oracle_call is not None
    # the model's ranking gets most of what the true saves get, far above random
    assert call["qini"] > 0.6 * oracle_call["qini"]
    assert call["qini"] > random_call["qini"] + 0.008
    oracle_policy, random_policy = policy_qini(heldout, truth), policy_qini(heldout, shuffled)
    assert oracle_policy is not None and random_policy is not None
    assert metrics["policy"]["qini"] > 0.6 * oracle_policy["qini"]
    assert metrics["policy"]["qini"] > random_policy["qini"] + 0.005
    assert call["auuc"] > call["auuc_random"]
    assert np.corrcoef(model.predict(frame, offer="call"), true[:, 1])[0, 1] > 0.6


def test_every_learner_fits_and_predicts(synthetic: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = synthetic
    small = frame.iloc[:4000]
    for learner in LEARNERS:
        model = fit_uplift(small, learner=learner, seed=1)
        save = model.predict(small.iloc[:50], offer="discount")
        assert save.shape == (50,)
        assert np.isfinite(save).all()
    with pytest.raises(InputError, match="unknown uplift learner"):
        fit_uplift(small, learner="magic")


def test_default_learner_is_one_multiplier_per_offer(
    synthetic: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, true = synthetic
    train = frame.iloc[:6000]
    model = fit_uplift(train, seed=3)
    assert model.learner == "offset_intercept" and not model.boosters_
    rows = frame.iloc[6000:6400]
    p = rows["churn_probability"].to_numpy()
    a, b = model.control_
    base = a + b * np.log(p / (1 - p))
    for offer in ("call", "discount"):
        treated = 1 / (1 + np.exp(-base)) - model.predict(rows, offer=offer)
        shift = np.log(treated / (1 - treated)) - base
        # the same log-odds shift for every customer: the offer's shrunk shift
        assert np.allclose(shift, model.shift_[offer], atol=1e-6)
    # the discount helps a lot on average; the call helps 4 in 5 but backfires on the
    # rest, so its average multiplier is close to 1 — as in the truth
    assert model.shift_["discount"] < -0.5 < model.shift_["call"] < 0.5
    assert true[:6000, 0].mean() > 0.05 > abs(true[:6000, 1].mean())
    weights = model.shrinkage_["weight"]
    assert set(weights) == {"call", "discount"} and all(0 <= w <= 1 for w in weights.values())


def test_unknown_offer_gets_the_weighted_average(
    fitted: tuple[UpliftLearner, pd.DataFrame],
) -> None:
    model, heldout = fitted
    rows = heldout.iloc[:200]
    w = np.array([model.rows_["call"], model.rows_["discount"]], dtype=float)
    expected = (
        w[0] * model.predict(rows, offer="call") + w[1] * model.predict(rows, offer="discount")
    ) / w.sum()
    assert np.allclose(model.predict(rows, offer="never_tried"), expected)


def test_catalog_priors_anchor_the_offer_effects(
    tmp_path: Path, synthetic: tuple[pd.DataFrame, np.ndarray]
) -> None:
    frame, _ = synthetic
    small = frame.iloc[:600].assign(top_category=np.where(np.arange(600) % 2, "price", None))
    priors = {
        "discount": {"price": 0.5, "default": 0.2},
        "call": {"default": 0.1},
        "gift": {"default": 0.25},  # in the catalog, never tried
    }
    model = fit_uplift(small, learner="offset_intercept", priors=priors)
    a, b = model.control_
    p_c = 1 / (
        1 + np.exp(-(a + b * np.log(small["churn_probability"] / (1 - small["churn_probability"]))))
    )
    effect = np.where(small["top_category"] == "price", 0.5, 0.2)
    p_t = p_c * (1 - effect)
    z = np.log(p_t / (1 - p_t)) + model.shift_["discount"]
    expected = p_c - 1 / (1 + np.exp(-z))
    assert np.allclose(model.predict(small, offer="discount"), expected, atol=1e-6)
    # an offer never tried: its prior, moved by the pooled deviation of the tried offers
    p_g = p_c * 0.75
    z = np.log(p_g / (1 - p_g)) + model.pooled_shift_
    assert np.allclose(model.predict(small, offer="gift"), p_c - 1 / (1 + np.exp(-z)), atol=1e-6)
    # the shift from the priors is held toward 0 by the weight of the priors
    loose = fit_uplift(small, learner="offset_intercept", priors=priors)
    loose.prior_rows = 0.0
    loose.fit(small)
    assert abs(model.pooled_shift_) < abs(loose.pooled_shift_)
    # priors survive the artifact
    save_uplift(model, tmp_path / "p")
    again = load_uplift(tmp_path / "p")
    assert again.priors == priors
    assert np.allclose(again.predict(small, offer="gift"), model.predict(small, offer="gift"))


def test_bad_frames_are_refused(synthetic: tuple[pd.DataFrame, np.ndarray]) -> None:
    frame, _ = synthetic
    with pytest.raises(StateError, match="control group"):
        fit_uplift(frame[frame["arm"] == "treatment"])
    with pytest.raises(InputError, match="lacks columns"):
        fit_uplift(frame.drop(columns="churned"))
    bad = frame.copy()
    bad.loc[bad.index[0], "churn_probability"] = 1.5
    with pytest.raises(InputError, match="churn_probability"):
        fit_uplift(bad)
    model = fit_uplift(frame.iloc[:3000], learner="offset_intercept")
    with pytest.raises(InputError, match="price_complaints"):
        model.predict(frame.drop(columns="price_complaints").iloc[:5], offer="call")


def test_split_uses_the_latest_campaign_or_a_stratified_share(
    synthetic: tuple[pd.DataFrame, np.ndarray],
) -> None:
    frame, _ = synthetic
    train, held, desc = split_heldout(frame)
    assert desc["split"] == "latest_campaign" and desc["heldout_campaign"] == 2
    assert set(held["campaign_id"]) == {2} and set(train["campaign_id"]) == {1}
    one = frame.assign(campaign_id=1)
    train, held, desc = split_heldout(one, seed=1)
    assert desc["split"] == "random_30pct_stratified"
    assert len(held) == pytest.approx(0.3 * len(one), rel=0.01)
    # each arm keeps its share in the held-out part
    assert (held["arm"] == "control").mean() == pytest.approx(
        (one["arm"] == "control").mean(), abs=0.01
    )


# --------------------------------------------------------------------------- persistence


def test_save_load_roundtrip_and_tampering(
    tmp_path: Path, fitted: tuple[UpliftLearner, pd.DataFrame]
) -> None:
    model, heldout = fitted
    directory = tmp_path / "u1"
    checksum = save_uplift(model, directory)
    meta = json.loads((directory / "uplift.json").read_text("utf-8"))
    assert meta["offers"] == ["call", "discount"] and meta["learner"] == model.learner
    assert "price_complaints" in meta["features"]
    loaded = load_uplift(directory, expected_checksum=checksum)
    for offer in ("call", "discount"):
        assert np.allclose(
            loaded.predict(heldout, offer=offer), model.predict(heldout, offer=offer)
        )
    with pytest.raises(StateError, match="the registry"):
        load_uplift(directory, expected_checksum="0" * 64)
    boosters = sorted(directory.glob("*.lgb.txt"))
    assert boosters, "offset_t stores LightGBM text files"
    boosters[0].write_text(boosters[0].read_text() + "\n", "utf-8")
    with pytest.raises(StateError, match="SHA-256"):
        load_uplift(directory)
    save_uplift(model, directory)
    (directory / "uplift.json").write_text(
        (directory / "uplift.json").read_text("utf-8").replace('"call"', '"kall"'), "utf-8"
    )
    with pytest.raises(StateError, match="altered"):
        load_uplift(directory)
    with pytest.raises(NotFoundError, match="no uplift model"):
        load_uplift(tmp_path / "nothing")


# --------------------------------------------------------------------------- workspace


def test_fit_and_register_needs_resolved_campaigns(workspace: Settings) -> None:
    with pytest.raises(StateError, match=r"there are 0 campaign\(s\) and 0 member\(s\)"):
        fit_and_register(workspace)
    assert active_uplift(workspace) is None


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A small simulated operator, ingested, with the snapshot of 2024-05 built."""
    from churnguard.features import build_snapshot
    from churnguard.ingest import ingest
    from churnguard.simulate import simulate

    root = tmp_path_factory.mktemp("uplift")
    simulate(root / "data", subscribers=400, months=6, seed=4, start=date(2024, 1, 1))
    settings = load_settings(
        root / "ws", create=True, overrides={"retention": {"min_uplift_rows": 100}}
    )
    ingest(root / "data", settings=settings, as_of=date(2024, 6, 1))
    build_snapshot(settings, as_of="2024-05")
    return settings


def _add_campaign(settings: Settings, *, as_of: date, subscribers: list[str], seed: int) -> int:
    from churnguard.retention.store import Campaign, CampaignMember
    from churnguard.warehouse.operational import session_scope

    rng = np.random.default_rng(seed)
    outcomes = rng.choice(
        ["retained", "churned_voluntary", "churned_passive"],
        size=len(subscribers),
        p=[0.7, 0.2, 0.1],
    )
    now = datetime.now(UTC)
    with session_scope(settings) as s:
        c = Campaign(
            purpose="retention",
            name=f"test {seed}",
            as_of=as_of,
            planned_on=as_of,
            budget=1000.0,
            holdout_share=0.3,
            status="resolved",
            effect_source="priors",
            model_version=None,
            objective=0.0,
            bound=0.0,
            expected_cost=0.0,
            treated=0,
            control=0,
            observation_end=as_of,
            created_by="test",
            created_at=now,
        )
        s.add(c)
        s.flush()
        for i, sid in enumerate(subscribers):
            control = rng.random() < 0.3
            s.add(
                CampaignMember(
                    campaign_id=c.id,
                    subscriber_id=sid,
                    arm="control" if control else "treatment",
                    stratum="red|high",
                    churn_probability=float(rng.uniform(0.05, 0.6)),
                    offer=["price_discount", "data_gift"][i % 2],
                    contact_status="none" if control else "sent",
                    # the last five stay unresolved and must be left out
                    outcome=None if i >= len(subscribers) - 5 else str(outcomes[i]),
                )
            )
        return int(c.id)


def test_training_frame_fit_register_and_activate(simulated: Settings) -> None:
    from churnguard.features.store import read_snapshot
    from churnguard.retention.store import UpliftModel
    from churnguard.warehouse.analytical import connect
    from churnguard.warehouse.operational import session_scope

    backend = connect(simulated, read_only=True)
    snap = read_snapshot(backend, date(2024, 5, 1))
    backend.disconnect()
    ids = snap["subscriber_id"].tolist()[:240]
    first = _add_campaign(simulated, as_of=date(2024, 5, 1), subscribers=ids[:120], seed=1)
    second = _add_campaign(simulated, as_of=date(2024, 5, 1), subscribers=ids[120:], seed=2)

    frame = uplift_training_frame(simulated)
    assert len(frame) == 230  # 240 members, 10 unresolved
    assert set(frame["campaign_id"]) == {first, second}
    assert (frame["churned"] == (frame["outcome"] == "churned_voluntary")).all()
    assert "top_category" in frame.columns and "outcome" in frame.columns
    assert frame.loc[frame["arm"] == "control", "offer"].isna().all()
    assert frame.loc[frame["arm"] == "treatment", "offer"].notna().all()
    # the features are the snapshot's values of each member
    snap_by = snap.set_index("subscriber_id")
    cols = [c for c in snap.columns if c not in ("as_of", "subscriber_id")]
    assert set(cols) <= set(frame.columns)
    joined = frame.set_index("subscriber_id")[cols[:20]]
    pd.testing.assert_frame_equal(
        joined, snap_by.loc[joined.index, cols[:20]], check_dtype=False, check_names=False
    )
    # another purpose has no members
    assert uplift_training_frame(simulated, purpose="winback").empty

    summary = fit_and_register(simulated)
    assert summary.learner == "offset_intercept"  # the default
    assert summary.rows == 230 and summary.campaigns == (first, second)
    assert summary.metrics["split"] == "latest_campaign"
    assert summary.metrics["heldout_campaign"] == second
    assert (simulated.workspace / summary.artifact_path / "uplift.json").is_file()
    model = active_uplift(simulated)
    assert model is not None and model.offers_ == ("data_gift", "price_discount")
    save = model.predict(frame, offer="price_discount")
    assert save.shape == (230,) and np.isfinite(save).all()

    # with_features gives the planner the columns the model needs
    customers = pd.DataFrame(
        {"subscriber_id": [*ids[:3], "S99999999"], "churn_probability": [0.2, 0.3, 0.4, 0.5]}
    )
    enriched = with_features(simulated, customers, as_of="2024-05")
    assert len(enriched) == 4 and enriched.loc[3, cols].isna().all()
    assert np.isfinite(model.predict(enriched, offer="data_gift")).all()

    again = fit_and_register(simulated, learner="offset_intercept")
    with session_scope(simulated) as s:
        rows = s.execute(select(UpliftModel.version, UpliftModel.status)).all()
    status = dict(rows)
    assert status[summary.version] == "retired" and status[again.version] == "active"

    # tampering with the active artifact is caught on load
    path = simulated.workspace / again.artifact_path / "uplift.json"
    path.write_text(path.read_text("utf-8") + " ", "utf-8")
    with pytest.raises(StateError, match="altered"):
        active_uplift(simulated)


def test_fit_and_register_below_the_minimum_rows(simulated: Settings) -> None:
    strict = load_settings(simulated.workspace, overrides={"retention": {"min_uplift_rows": 5000}})
    with pytest.raises(StateError, match=r"5000 resolved members .* there are \d+ campaign"):
        fit_and_register(strict)


def test_missing_snapshot_month_is_reported(simulated: Settings) -> None:
    ids = [f"S{i:08d}" for i in range(1, 21)]
    _add_campaign(simulated, as_of=date(2024, 3, 1), subscribers=ids, seed=9)
    with pytest.raises(StateError, match="2024-03"):
        uplift_training_frame(simulated)
