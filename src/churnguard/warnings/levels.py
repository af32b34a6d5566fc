"""Warning levels from calibrated probabilities: by target precision or by team capacity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config.warnings import LevelSettings

__all__ = ["LEVELS", "LevelThresholds", "assign_levels", "thresholds_for"]

LEVELS = ("red", "orange", "yellow")
LEVEL_RANK = {"yellow": 1, "orange": 2, "red": 3}


@dataclass(frozen=True)
class LevelThresholds:
    """Probability cut points: a customer at or above ``red`` is red, and so on."""

    red: float
    orange: float
    yellow: float
    mode: str

    def as_dict(self) -> dict[str, float | str]:
        return {"red": self.red, "orange": self.orange, "yellow": self.yellow, "mode": self.mode}


def _precision_threshold(p_sorted_desc: np.ndarray, target: float) -> float:
    """Lowest probability t such that the customers with p ≥ t have mean p ≥ target.

    With calibrated probabilities, the mean probability of a group is its expected
    precision, so no labels are needed. Returns +inf when even the top customer
    is below the target (the level stays empty).
    """
    if p_sorted_desc.size == 0:
        return float("inf")
    running = np.cumsum(p_sorted_desc) / np.arange(1, p_sorted_desc.size + 1)
    ok = np.flatnonzero(running >= target)
    if ok.size == 0:
        return float("inf")
    return float(p_sorted_desc[ok[-1]])


def thresholds_for(
    probability: pd.Series,
    *,
    settings: LevelSettings,
    deadline_days: dict[str, int],
    rank_value: pd.Series | None = None,
) -> LevelThresholds:
    """Cut points for this month's scores.

    Parameters
    ----------
    probability
        Calibrated monthly churn probabilities of the candidates.
    settings
        Mode and targets or capacities.
    deadline_days
        Working days to contact per level: in capacity mode a level holds
        ``capacity × days`` customers.
    rank_value
        Capacity mode with ``rank_by="expected_loss"``: the value to rank by
        (probability × CLV); thresholds are then on that value.
    """
    if settings.mode == "precision":
        p = np.sort(probability.to_numpy(dtype=float))[::-1]
        p = p[~np.isnan(p)]
        red = _precision_threshold(p, settings.precision_red)
        orange = min(red, _precision_threshold(p, settings.precision_orange))
        yellow = min(orange, _precision_threshold(p, settings.precision_yellow))
        return LevelThresholds(red, orange, yellow, "precision")
    values = probability if rank_value is None else rank_value
    v = np.sort(values.to_numpy(dtype=float))[::-1]
    v = v[~np.isnan(v)]
    cuts: list[float] = []
    taken = 0
    for level in LEVELS:
        taken += getattr(settings, f"capacity_{level}") * max(deadline_days[level], 1)
        # the level ends at the last customer the team can reach; empty levels get +inf
        cuts.append(float(v[min(taken, v.size) - 1]) if taken > 0 and v.size else float("inf"))
    return LevelThresholds(cuts[0], cuts[1], cuts[2], "capacity")


def assign_levels(values: pd.Series, thresholds: LevelThresholds) -> pd.Series:
    """The level of each customer by its probability (or ranking value); None below yellow."""
    v = values.to_numpy(dtype=float)
    out = np.select(
        [v >= thresholds.red, v >= thresholds.orange, v >= thresholds.yellow],
        ["red", "orange", "yellow"],
        default="",
    )
    return pd.Series(out, index=values.index).replace("", None)
