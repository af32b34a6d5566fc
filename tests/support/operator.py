"""A small simulated operator with a champion model and warnings (service and web tests)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from churnguard.config import load_settings

AS_OF = date(2024, 9, 1)
LAST = date(2024, 11, 1)
RUN = date(2024, 10, 1)


def build_warned_workspace(root: Path) -> Path:
    """Simulate 2,500 subscribers, ingest, train LightGBM and raise warnings; the workspace."""
    from churnguard.ingest import ingest
    from churnguard.models.training import train_models
    from churnguard.simulate import simulate
    from churnguard.warnings.run import raise_warnings

    sim, ws = root / "sim", root / "ws"
    simulate(sim, subscribers=2500, months=11, seed=4, start=date(2024, 1, 1))
    settings = load_settings(ws, create=True)
    ingest(sim, settings=settings)
    train_models(settings, as_of=LAST, families=["lightgbm"])
    raise_warnings(settings, as_of=AS_OF, run_date=RUN, push=False)
    return ws
