"""A small simulated operator with a champion model and warnings, and API clients on it."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from churnguard.config import Settings, load_settings
from tests.support.operator import AS_OF, LAST, RUN

__all__ = ["AS_OF", "LAST", "PHONE", "RUN", "client_for"]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

# an unmasked mainland mobile number anywhere in a text
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


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
