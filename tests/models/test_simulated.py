"""End to end on the simulator: ingest → model train → score → model evaluate, via the CLI."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from churnguard.config import Settings, load_settings

from .conftest import run_cli


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    from churnguard.ingest import ingest
    from churnguard.simulate import simulate

    root = tmp_path_factory.mktemp("sim")
    data = root / "data"
    simulate(data, subscribers=1500, months=9, seed=5, start=date(2024, 1, 1))
    settings = load_settings(root / "ws", create=True)
    ingest(data, settings=settings, as_of=date(2024, 9, 1))
    return settings, data


@pytest.mark.slow
def test_train_score_evaluate_on_the_simulator(operator: tuple, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, data = operator
    ws = str(settings.workspace)
    trained = run_cli(
        "model",
        "train",
        "--as-of",
        "2024-09",
        "--snapshots",
        "3",
        "--families",
        "logistic,lightgbm",
        "--workspace",
        ws,
        "--json",
    )
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["train_months"] == ["2024-05-01", "2024-06-01"]
    assert report["validation_month"] == "2024-07-01"
    assert report["families"][report["champion"]]["roc_auc"] > 0.6

    out = tmp_path / "scores.csv"
    scored = run_cli("score", "--as-of", "2024-09", "--workspace", ws, "--out", str(out))
    assert scored.exit_code == 0, scored.output
    s = pd.read_csv(out)
    truth = pd.read_parquet(data / "truth" / "churn_probability.parquet")
    truth = truth[pd.to_datetime(truth["month"]).dt.strftime("%Y-%m") == "2024-09"]
    assert s["subscriber_id"].is_unique
    # everyone active in the month gets a probability
    assert len(s.merge(truth, on="subscriber_id")) >= 0.95 * len(truth)
    assert s["churn_probability"].notna().all()
    assert s["top_reasons_zh"].head(20).notna().all()

    shown = run_cli("model", "show", "--workspace", ws, "--json")
    assert json.loads(shown.stdout)["status"] == "champion"

    evaluated = run_cli("model", "evaluate", "--as-of", "2024-07", "--workspace", ws, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    ev = json.loads(evaluated.stdout)
    assert len(ev["models"]) == 2 and isinstance(ev["retrain"], bool)
    assert ev["feature_psi"] and all(v >= 0 for v in ev["feature_psi"].values())

    early = run_cli("model", "evaluate", "--as-of", "2024-09", "--workspace", ws)
    assert early.exception is not None and "not known yet" in str(early.exception)
