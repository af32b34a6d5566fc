from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churnguard.errors import InputError
from churnguard.models.calibration import Calibrator, fit_calibrator


def _miscalibrated(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.beta(1, 20, n)  # rare churn, like a monthly churn rate
    y = (rng.random(n) < true).astype(int)
    raw = np.sqrt(true)  # a model that ranks well but overstates the risk
    return true, y, raw


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_fixes_probabilities_and_keeps_the_ranking(method: str) -> None:
    _, y, raw = _miscalibrated()
    cal = fit_calibrator(raw, y, method=method)
    assert cal.method == method
    p = cal.transform(raw)
    assert np.mean((p - y) ** 2) < np.mean((raw - y) ** 2)
    assert abs(p.mean() - y.mean()) < 0.005
    assert roc_auc_score(y, p) == pytest.approx(roc_auc_score(y, raw), abs=1e-9)
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.transform(raw), p)


def test_isotonic_falls_back_to_platt_with_few_churners() -> None:
    rng = np.random.default_rng(1)
    raw = rng.random(500)
    y = np.zeros(500, dtype=int)
    y[np.argsort(-raw)[:20]] = 1
    assert fit_calibrator(raw, y, method="isotonic").method == "platt"


def test_identity_and_errors() -> None:
    assert Calibrator("identity").transform(np.array([0.2]))[0] == 0.2
    with pytest.raises(InputError, match="churners and non-churners"):
        fit_calibrator(np.array([0.1, 0.2]), np.array([0, 0]))
    with pytest.raises(InputError, match="unknown calibration"):
        Calibrator.from_dict({"method": "beta"})
