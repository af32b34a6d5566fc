"""Regions over time: network incidents and competitor promotions, drawn once per world.

The timeline is drawn from its own random stream (seeded by the world seed), far
past the simulated months, so that stepping the world forward later finds the
same regional history it would have had in one long run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .catalog import REGIONS

__all__ = ["HORIZON_MONTHS", "RegionTimeline", "make_timeline"]

HORIZON_MONTHS = 240  # months of regional history drawn up front (simulated + stepped)


@dataclass(frozen=True)
class RegionTimeline:
    """Per region and month: incident severity, competitor pressure, base cell quality.

    ``incident[r, t]`` in [0, 1] degrades the network of region ``r`` in month ``t``;
    ``pressure[r, t]`` in [0, 1] is the strength of rivals' offers there.
    """

    incident: npt.NDArray[np.float64]
    pressure: npt.NDArray[np.float64]
    base_quality: npt.NDArray[np.float64]  # 0 good ... 1 poor coverage

    def to_table(self, *, months: int, month_days: npt.NDArray[np.int32]) -> pa.Table:
        """The first ``months`` months as a long table for ``truth/regions.parquet``."""
        r = len(REGIONS)
        region_names = np.array([x.name for x in REGIONS], dtype=object)
        return pa.table(
            {
                "region": pa.array(np.repeat(region_names, months), type=pa.string()),
                "month": pa.array(np.tile(month_days[:months], r), type=pa.date32()),
                "incident_severity": pa.array(self.incident[:, :months].ravel()),
                "competitor_pressure": pa.array(self.pressure[:, :months].ravel()),
                "base_quality": pa.array(np.repeat(self.base_quality, months)),
            }
        )


def _episodes(
    rng: np.random.Generator,
    shape: tuple[int, int],
    *,
    start_prob: float,
    min_len: int,
    max_len: int,
    low: float,
    high: float,
) -> npt.NDArray[np.float64]:
    """Random episodes: each region-month starts one with ``start_prob``; overlaps take the max."""
    starts = rng.random(shape) < start_prob
    lengths = rng.integers(min_len, max_len + 1, size=shape)
    levels = rng.uniform(low, high, size=shape)
    out = np.zeros(shape)
    for k in range(max_len):  # a handful of shifts, not a loop over subscribers
        active = starts & (lengths > k)
        shifted = np.zeros(shape)
        shifted[:, k:] = np.where(active, levels, 0.0)[:, : shape[1] - k]
        out = np.maximum(out, shifted)
    return out


def make_timeline(seed: int) -> RegionTimeline:
    """Draw the regional history of world ``seed``."""
    rng = np.random.default_rng([seed, 7_001])
    shape = (len(REGIONS), HORIZON_MONTHS)
    incident = _episodes(rng, shape, start_prob=0.035, min_len=1, max_len=3, low=0.4, high=1.0)
    promo = _episodes(rng, shape, start_prob=0.03, min_len=2, max_len=4, low=0.5, high=1.0)
    base_pressure = rng.uniform(0.05, 0.25, size=(len(REGIONS), 1))
    pressure = np.clip(base_pressure + promo, 0.0, 1.0)
    base_quality = rng.beta(2.0, 6.0, size=len(REGIONS))
    return RegionTimeline(incident=incident, pressure=pressure, base_quality=base_quality)
