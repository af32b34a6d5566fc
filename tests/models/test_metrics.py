from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from churnguard.config import ModelSettings
from churnguard.errors import InputError
from churnguard.models.metrics import (
    Economics,
    classification_metrics,
    emp,
    expected_calibration_error,
    lift_capture,
    precision_at_recall,
)

ECON = Economics(clv=200.0, offer_cost=10.0, contact_cost=1.0, gamma_mean=0.3)


def test_lift_and_capture_on_a_known_ranking() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 1] * 2)
    p = np.linspace(1.0, 0.0, 20)
    lift, capture = lift_capture(y, p, share=0.10)  # top 2 rows: both churners
    assert lift == pytest.approx((2 / 2) / (6 / 20))
    assert capture == pytest.approx(2 / 6)


def test_precision_at_recall() -> None:
    y = np.array([1, 0, 1, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    # recall >= 0.7 needs all 3 churners: cutoff 0.5 -> 3 of 5
    assert precision_at_recall(y, p, recall=0.7) == pytest.approx(3 / 5)


def test_ece_is_small_when_calibrated_and_large_when_not() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.3, 0, 1)) > 0.2


def test_emp_of_a_perfect_model_matches_the_integral() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(5_000) < 0.1).astype(int)
    pi = y.mean()

    def best(g: float) -> float:
        # perfect ranking: contact exactly the churners when that pays
        return max(0.0, (g * (ECON.clv - ECON.offer_cost) - ECON.contact_cost) * pi)

    expected, _ = integrate.quad(lambda g: best(g) * stats.beta.pdf(g, ECON.alpha, ECON.beta), 0, 1)
    assert emp(y, y.astype(float), economics=ECON, grid=2000) == pytest.approx(expected, rel=1e-3)


def test_emp_ranks_models_by_usefulness() -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(20_000) < 0.05).astype(int)
    good = y + rng.normal(0, 0.5, y.size)
    random = rng.random(y.size)
    assert emp(y, good, economics=ECON) > emp(y, random, economics=ECON) >= 0.0


def test_classification_metrics_all_keys_and_threshold() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 2_000)
    y = (rng.random(2_000) < p).astype(int)
    m = classification_metrics(y, p, economics=ECON, threshold=0.5)
    assert m["threshold"] == 0.5
    assert m["precision"] == pytest.approx(y[p >= 0.5].mean())
    assert m["recall"] == pytest.approx(y[p >= 0.5].sum() / y.sum())
    assert 0.8 < m["roc_auc"] < 0.9
    assert m["rows"] == 2_000 and m["positives"] == int(y.sum())
    auto = classification_metrics(y, p, economics=ECON)
    assert 0.0 < auto["threshold"] < 1.0
    assert auto["expected_profit"] <= auto["emp"] + 1e-9  # Jensen: E[max] >= max E


def test_economics_from_settings() -> None:
    e = Economics.from_settings(ModelSettings(monthly_value=40.0, customer_value_months=10))
    assert e.clv == 400.0
    assert e.alpha == pytest.approx(6.0) and e.beta == pytest.approx(14.0)


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="both churners"):
        classification_metrics(np.zeros(5), np.ones(5) / 2, economics=ECON)
    with pytest.raises(InputError, match="shape"):
        classification_metrics(np.zeros(5), np.ones(4), economics=ECON)
    with pytest.raises(InputError, match="NaN"):
        classification_metrics(np.array([0, 1]), np.array([0.1, np.nan]), economics=ECON)
    with pytest.raises(InputError, match="0/1"):
        lift_capture(np.array([0, 2]), np.array([0.1, 0.2]), share=0.5)
