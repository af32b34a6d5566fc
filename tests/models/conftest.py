"""Model-lab fixtures: seeded synthetic flat tables and stacked monthly snapshots."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from churnguard.config import ModelSettings


def run_cli(*args: str) -> Result:
    """Run model-lab commands in-process (a subprocess would re-import everything)."""
    from churnguard.cli import model_cmd, table_cmd

    app = typer.Typer()
    table_cmd.register(app)
    model_cmd.register(app)
    return CliRunner().invoke(app, list(args))


def make_flat(n: int = 1200, *, seed: int = 0) -> pd.DataFrame:
    """A churn table with numeric, text-numeric, categorical, ID and constant columns.

    Churn depends on ``tenure`` (negative), ``charges`` (positive, log scale),
    ``plan`` and ``complaints``; ``noise`` carries nothing.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 72, n)
    charges = np.exp(rng.normal(4.0, 0.6, n))
    plan = rng.choice(["basic", "plus", "premium"], n, p=[0.5, 0.3, 0.2])
    complaints = rng.poisson(0.5, n)
    noise = rng.normal(size=n)
    z = (
        -1.0
        - 0.04 * tenure
        + 0.8 * (np.log(charges) - 4.0)
        + np.where(plan == "basic", 0.8, 0.0)
        + 0.6 * complaints
    )
    churn = rng.random(n) < 1.0 / (1.0 + np.exp(-z))
    total = (charges * tenure).round(2).astype(object)
    total[tenure == 0] = " "  # blanks in a numeric column, as in exported CSVs
    region = rng.choice(["north", "south", None], n, p=[0.45, 0.45, 0.10])
    return pd.DataFrame(
        {
            "customer_key": [f"C{i:06d}" for i in range(n)],
            "row_no": np.arange(1, n + 1),
            "tenure": tenure,
            "charges": charges.round(2),
            "total": total,
            "plan": plan,
            "region": region,
            "complaints": complaints,
            "noise": noise,
            "country": "CN",
            "churned": np.where(churn, "Yes", "No"),
        }
    )


def true_logit(frame: pd.DataFrame) -> np.ndarray:
    """The log-odds :func:`make_flat` drew churn from (the Bayes-optimal score)."""
    return np.asarray(
        -1.0
        - 0.04 * frame["tenure"].to_numpy()
        + 0.8 * (np.log(frame["charges"].to_numpy()) - 4.0)
        + np.where(frame["plan"].to_numpy() == "basic", 0.8, 0.0)
        + 0.6 * frame["complaints"].to_numpy()
    )


@pytest.fixture(scope="session")
def flat() -> pd.DataFrame:
    return make_flat()


@pytest.fixture
def model_settings() -> ModelSettings:
    return ModelSettings(families=("logistic", "lightgbm"))


def make_snapshots(
    features: list[str],
    *,
    months: int = 4,
    per_month: int = 1500,
    seed: int = 1,
    directions: tuple[int, int, int] = (1, 1, -1),
) -> pd.DataFrame:
    """Stacked monthly snapshots with named numeric features and a churn ``label``.

    The first three features carry the risk in ``directions`` (+1: higher is
    riskier); the rest is noise.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for m in range(months):
        x = rng.normal(size=(per_month, len(features)))
        d0, d1, d2 = directions
        z = -3.0 + 1.2 * d0 * x[:, 0] + 0.8 * d1 * x[:, 1] + 0.8 * d2 * x[:, 2]
        y = (rng.random(per_month) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
        f = pd.DataFrame(x, columns=features)
        f.insert(0, "subscriber_id", [f"S{i:05d}" for i in range(per_month)])
        f.insert(0, "as_of", date(2024, 1 + m, 1))
        f["label"] = y
        frames.append(f)
    return pd.concat(frames, ignore_index=True)
