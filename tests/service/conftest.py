"""A small simulated operator with a champion model and warnings, and API clients on it."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from churnguard.config import Settings, load_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

AS_OF = date(2024, 9, 1)
LAST = date(2024, 11, 1)
RUN = date(2024, 10, 1)

# an unmasked mainland mobile number anywhere in a text
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture(scope="session")
def warned_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulate, ingest, train (LightGBM) and warn once for the whole package (~25 s)."""
    from churnguard.ingest import ingest
    from churnguard.models.training import train_models
    from churnguard.simulate import simulate
    from churnguard.warnings.run import raise_warnings

    root = tmp_path_factory.mktemp("svc")
    sim, ws = root / "sim", root / "ws"
    simulate(sim, subscribers=2500, months=11, seed=4, start=date(2024, 1, 1))
    settings = load_settings(ws, create=True)
    ingest(sim, settings=settings)
    train_models(settings, as_of=LAST, families=["lightgbm"])
    raise_warnings(settings, as_of=AS_OF, run_date=RUN, push=False)
    return ws


@pytest.fixture(scope="module")
def module_ws(warned_ws: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the warned workspace for one test module (modules may write)."""
    dst = tmp_path_factory.mktemp("svcmod") / "ws"
    shutil.copytree(warned_ws, dst)
    return dst


def client_for(settings: Settings) -> TestClient:
    from churnguard.service import create_app

    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def make_user(module_ws: Path) -> Callable[..., dict[str, str]]:
    """Create a user in the module's workspace; returns auth headers."""
    from churnguard.service.auth import create_user

    counter = iter(range(10_000))

    def make(
        role: str, *, queues: tuple[str, ...] = (), password: str | None = None
    ) -> dict[str, str]:
        name = f"{role}{next(counter)}"
        _user, key = create_user(
            load_settings(module_ws), name, role=role, queues=queues, password=password
        )
        return {"Authorization": f"Bearer {key}"}

    return make
