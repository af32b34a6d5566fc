from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numba
import numpy as np
import pandas as pd
import pytest
from numba.core import caching

from churnguard.errors import InputError
from churnguard.models import compiled
from churnguard.models.artifacts import TrainedModel, load_model, save_model
from churnguard.models.compiled import CompiledEnsemble
from churnguard.models.families import LightGBMFamily, make_family, use_explainer
from churnguard.models.preprocessing import infer_plan, prepare_frame

_CAT = 4  # index of the categorical column in the synthetic matrices


def _train_matrix(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns with NaN, exact zeros and tiny values; one categorical code column."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[rng.random(n) < 0.25, 0] = np.nan
    x[rng.random(n) < 0.35, 1] = 0.0  # many exact zeros
    x[:, 2] = np.where(rng.random(n) < 0.3, 0.0, np.abs(x[:, 2]))  # zero is the minimum
    x[:, 3] = rng.normal(size=n)  # never missing in training: missing type None
    x[:, _CAT] = rng.integers(0, 40, n)
    x[rng.random(n) < 0.1, _CAT] = np.nan
    x[rng.random(n) < 0.2, 5] = np.nan
    cat_effect = np.where(np.isin(x[:, _CAT], [1, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]), 1.0, 0)
    z = (
        np.nan_to_num(x[:, 0], nan=1.0)
        + (x[:, 1] == 0) * 0.8
        - x[:, 2]
        + 0.5 * x[:, 3]
        + cat_effect
        + np.isnan(x[:, 5]) * 0.7
    )
    y = (z + rng.normal(size=n) > 0.6).astype(np.int64)
    return x, y


def _probe_matrix(n: int, *, seed: int) -> np.ndarray:
    """Rows that hit every decision edge: NaN, ±0, ±1e-36, ±1e-35, odd and unseen categories."""
    x, _ = _train_matrix(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    specials = np.array([np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 1e-30, -1e-30])
    for j in (0, 1, 2, 3, 5):
        pick = rng.random(n) < 0.3
        x[pick, j] = rng.choice(specials, int(pick.sum()))
    odd_cats = np.array([np.nan, -1.0, -0.5, 0.0, 2.7, 39.9, 40.0, 63.0, 64.0, 1000.0, 3e9, -3e9])
    pick = rng.random(n) < 0.4
    x[pick, _CAT] = rng.choice(odd_cats, int(pick.sum()))
    return x


_CASES: dict[str, dict[str, Any]] = {
    "default": {},
    "zero_as_missing": {"zero_as_missing": True},
    "no_missing_handling": {"use_missing": False},
    "one_hot_categoricals": {"max_cat_to_onehot": 64},
    "random_forest": {
        "boosting": "rf",
        "bagging_fraction": 0.7,
        "bagging_freq": 1,
        "feature_fraction": 0.8,
    },
}


def _booster(params: dict[str, Any], *, rounds: int = 40, seed: int = 0) -> lgb.Booster:
    x, y = _train_matrix(3000, seed=seed)
    base = {
        "objective": "binary",
        "num_leaves": 15,
        "min_data_in_leaf": 10,
        "min_data_per_group": 5,
        "cat_smooth": 1.0,
        "cat_l2": 1.0,
        "max_cat_threshold": 32,
        "seed": seed,
        "deterministic": True,
        "num_threads": 1,
        "verbose": -1,
    }
    data = lgb.Dataset(x, y, categorical_feature=[_CAT])
    return lgb.train({**base, **params}, data, num_boost_round=rounds)


@pytest.fixture(scope="module", params=list(_CASES))
def case(request: pytest.FixtureRequest) -> tuple[lgb.Booster, CompiledEnsemble, np.ndarray]:
    booster = _booster(_CASES[request.param])
    return booster, CompiledEnsemble.from_booster(booster), _probe_matrix(2000, seed=7)


def test_models_under_test_use_every_decision_kind(case: tuple) -> None:
    booster, model, _ = case
    flags = model.arrays["flags"]
    assert (flags & compiled._CATEGORICAL).any()  # categorical splits present
    assert ((flags & compiled._CATEGORICAL) == 0).any()
    assert model.n_trees == booster.num_trees()
    # rows below the lockstep depth finish alone: both phases of the walk are exercised
    assert (model.steps < model.depths).any()


@pytest.mark.parametrize("threads", [1, 2, 0])
def test_raw_scores_equal_lightgbm(case: tuple, threads: int) -> None:
    booster, model, x = case
    want = booster.predict(x, raw_score=True, num_threads=1)
    got = model.raw_scores(x, threads=threads)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert np.std(got) > 0.1  # the probe rows really reach different leaves


def test_row_major_column_major_and_strided_inputs_score_alike(case: tuple) -> None:
    booster, model, x = case
    want = booster.predict(x, raw_score=True)
    for arr in (np.asfortranarray(x), x[::2], x.astype(np.float32)):
        ref = booster.predict(arr, raw_score=True)
        np.testing.assert_array_equal(model.raw_scores(arr, threads=2), ref)
    np.testing.assert_array_equal(model.raw_scores(np.asfortranarray(x)), want)


def test_probabilities_equal_lightgbm(case: tuple) -> None:
    booster, model, x = case
    np.testing.assert_allclose(
        model.probabilities(x, threads=2), booster.predict(x), rtol=0, atol=1e-12
    )


def test_path_attributions_add_up_and_share_the_shap_bias(case: tuple) -> None:
    booster, model, x = case
    contrib = model.contributions(x, threads=2)
    assert contrib.shape == (len(x), x.shape[1] + 1)
    raw = booster.predict(x, raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=0, atol=1e-9)
    shap = booster.predict(x[:200], pred_contrib=True)
    # the bias is the ensemble's expected value, as in pred_contrib
    np.testing.assert_allclose(contrib[:200, -1], shap[:, -1], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(contrib, model.contributions(x, threads=1))


def test_single_leaf_trees_and_a_serial_parallel_split() -> None:
    x, y = _train_matrix(300, seed=3)
    # min_data_in_leaf above half the rows: every tree is one leaf
    booster = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 200, "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, y),
        num_boost_round=3,
    )
    model = CompiledEnsemble.from_booster(booster)
    assert int(model.depths.max()) == 0
    probe = _probe_matrix(500, seed=4)
    np.testing.assert_allclose(
        model.raw_scores(probe, threads=2), booster.predict(probe, raw_score=True), atol=1e-12
    )
    contrib = model.contributions(probe)
    assert np.all(contrib[:, :-1] == 0)
    np.testing.assert_allclose(contrib[:, -1], booster.predict(probe, raw_score=True))


def test_regression_objective_and_num_iteration() -> None:
    x, y = _train_matrix(1000, seed=5)
    target = y + np.nan_to_num(x[:, 0])
    booster = lgb.train(
        {"objective": "regression", "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, target),
        num_boost_round=20,
    )
    probe = _probe_matrix(300, seed=6)
    model = CompiledEnsemble.from_booster(booster, num_iteration=7)
    assert model.n_trees == 7
    np.testing.assert_allclose(
        model.raw_scores(probe), booster.predict(probe, num_iteration=7), atol=1e-12
    )
    with pytest.raises(InputError, match="binary model"):
        model.probabilities(probe)


def _strip_counts(node: dict[str, Any]) -> None:
    for key in ("leaf_count", "internal_count"):
        node.pop(key, None)
    for child in ("left_child", "right_child"):
        if child in node:
            _strip_counts(node[child])


def test_a_dump_without_training_counts_still_scores_exactly() -> None:
    booster = _booster({}, rounds=15)
    dump = booster.dump_model()
    for tree in dump["tree_info"]:
        _strip_counts(tree["tree_structure"])
    model = CompiledEnsemble.from_dump(dump)
    assert np.array_equal(model.steps, model.depths)  # no counts: lockstep to full depth
    x = _probe_matrix(500, seed=8)
    raw = booster.predict(x, raw_score=True)
    np.testing.assert_array_equal(model.raw_scores(x, threads=2), raw)
    # node values fall back to LightGBM's internal values: still additive
    np.testing.assert_allclose(model.contributions(x).sum(axis=1), raw, atol=1e-9)


def test_bad_input_is_refused() -> None:
    booster = _booster({}, rounds=3)
    model = CompiledEnsemble.from_booster(booster)
    x = _probe_matrix(10, seed=1)
    with pytest.raises(InputError, match="6 feature columns"):
        model.raw_scores(x[:, :5])
    with pytest.raises(InputError, match="6 feature columns"):
        model.contributions(x[0])
    with pytest.raises(InputError, match="numbers"):
        model.raw_scores(x.astype(str))
    with pytest.raises(InputError, match="threads"):
        model.raw_scores(x, threads=-1)


def test_multiclass_models_are_refused() -> None:
    x, y = _train_matrix(600, seed=2)
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
        lgb.Dataset(x, (y + (x[:, 3] > 0)).astype(int)),
        num_boost_round=2,
    )
    with pytest.raises(InputError, match="single-output"):
        CompiledEnsemble.from_booster(booster)


def test_pickles_to_the_same_scores() -> None:
    booster = _booster({}, rounds=10)
    model = CompiledEnsemble.from_booster(booster)
    again = pickle.loads(pickle.dumps(model))
    x = _probe_matrix(300, seed=9)
    np.testing.assert_array_equal(again.raw_scores(x), model.raw_scores(x))
    assert again.bias == model.bias


def _double(x: np.ndarray) -> np.ndarray:
    return x * 2.0


def test_kernels_compile_without_a_writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # numba finds no place for a cache (read-only package, no NUMBA_CACHE_DIR, no home)
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in numba 0.6x
    monkeypatch.setattr(impl, "_locator_classes", [])
    with pytest.raises(RuntimeError, match="no locator"):
        numba.njit(cache=True)(_double)
    kernel = compiled._jit(_double)
    assert isinstance(kernel._cache, caching.NullCache)
    np.testing.assert_array_equal(kernel(np.arange(3.0)), [0.0, 2.0, 4.0])


# -- the family ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted(flat: pd.DataFrame) -> tuple[LightGBMFamily, pd.DataFrame]:
    plan = infer_plan(flat, exclude=("churned",))
    x = prepare_frame(flat, plan)
    y = (flat["churned"] == "Yes").to_numpy(dtype=np.int64)
    family = make_family("lightgbm", plan, seed=1, threads=0).fit(x.iloc[:900], y[:900])
    assert isinstance(family, LightGBMFamily)
    return family, x.iloc[900:]


def test_family_predicts_like_the_booster(fitted: tuple) -> None:
    family, x = fitted
    want = family.booster_.predict(family._matrix(x))
    np.testing.assert_allclose(family.predict_proba(x), want, rtol=0, atol=1e-12)


def test_family_explains_by_path_or_exact_shap(fitted: tuple) -> None:
    family, x = fitted
    m = family._matrix(x)
    path = family.explain(x)
    np.testing.assert_allclose(
        path.sum(axis=1) + family.compiled.bias,
        family.booster_.predict(m, raw_score=True),
        atol=1e-9,
    )
    shap = use_explainer(family, "shap").explain(x)
    try:
        np.testing.assert_allclose(
            shap.to_numpy(), family.booster_.predict(m, pred_contrib=True)[:, :-1]
        )
        # Saabas and SHAP rank the main reason alike on most rows (report, loose check)
        top1 = float(
            np.mean(path.abs().to_numpy().argmax(axis=1) == shap.abs().to_numpy().argmax(axis=1))
        )
        print(f"path vs SHAP top-1 reason agreement: {top1:.3f} on {len(x)} rows")
        assert top1 > 0.5
    finally:
        use_explainer(family, "path")
    with pytest.raises(InputError, match="explainer"):
        use_explainer(family, "lime")


def test_load_model_chooses_the_explainer(fitted: tuple, tmp_path: Path) -> None:
    family, x = fitted
    save_model(TrainedModel(family=family, plan=family.plan), tmp_path / "m")
    exact = load_model(tmp_path / "m", explainer="shap", threads=1)
    fast = load_model(tmp_path / "m", threads=2)
    assert isinstance(exact.family, LightGBMFamily) and exact.family.explainer == "shap"
    assert isinstance(fast.family, LightGBMFamily) and fast.family.explainer == "path"
    np.testing.assert_allclose(exact.raw_scores(x), fast.raw_scores(x), rtol=0, atol=1e-15)
    with pytest.raises(InputError, match="explainer"):
        load_model(tmp_path / "m", explainer="exact")
