from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnguard.models.drift import psi, reference_profile


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    ref = reference_profile(pd.Series(rng.normal(size=20_000)))
    assert psi(pd.Series(rng.normal(size=20_000)), ref) < 0.01
    assert psi(pd.Series(rng.normal(1.0, 1.0, 20_000)), ref) > 0.5


def test_psi_counts_missing_values_as_a_bin() -> None:
    rng = np.random.default_rng(1)
    ref = reference_profile(pd.Series(rng.normal(size=5_000)))
    values = pd.Series(rng.normal(size=5_000))
    values[:2_000] = np.nan
    assert psi(values, ref) > 0.5


def test_categorical_psi() -> None:
    ref = reference_profile(pd.Series(["a"] * 500 + ["b"] * 500))
    assert ref["kind"] == "categorical"
    assert psi(pd.Series(["a"] * 500 + ["b"] * 500), ref) == pytest.approx(0.0, abs=1e-9)
    assert psi(pd.Series(["a"] * 900 + ["c"] * 100), ref) > 0.5
