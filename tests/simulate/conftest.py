"""Small simulated operators shared by the simulator tests (fixed seeds, built once per session)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnguard.simulate import SimulationSummary, simulate


class Sim:
    """A simulated folder with cached table readers."""

    def __init__(self, out: Path, summary: SimulationSummary) -> None:
        self.out = out
        self.summary = summary
        self._cache: dict[str, pd.DataFrame] = {}

    def table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            path = self.out / f"{name}.parquet"
            if not path.exists():
                path = self.out / "truth" / f"{name}.parquet"
            self._cache[name] = pd.read_parquet(path)
        return self._cache[name].copy()


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """6,000 subscribers over 12 months, clean Parquet."""
    out = tmp_path_factory.mktemp("sim") / "op"
    summary = simulate(out, subscribers=6000, months=12, seed=5)
    return Sim(out, summary)


@pytest.fixture(scope="session")
def dirty_csv(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """A small GBK CSV operator with 5 % defective rows."""
    out = tmp_path_factory.mktemp("dirty_csv") / "op"
    summary = simulate(
        out, subscribers=800, months=4, seed=9, dirty_rate=0.05, fmt="csv", encoding="gbk"
    )
    return Sim(out, summary)


@pytest.fixture(scope="session")
def dirty_parquet(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """A small Parquet operator with 5 % defective rows."""
    out = tmp_path_factory.mktemp("dirty_pq") / "op"
    summary = simulate(out, subscribers=800, months=4, seed=9, dirty_rate=0.05)
    return Sim(out, summary)
