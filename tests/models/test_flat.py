from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from churnguard.config import ModelSettings
from churnguard.errors import InputError
from churnguard.models.flat import (
    evaluate_table,
    read_table,
    score_table,
    target_vector,
    train_table,
)

from .conftest import run_cli


def test_evaluate_reports_mean_and_std_per_family(
    flat: pd.DataFrame, model_settings: ModelSettings
) -> None:
    res = evaluate_table(flat, target="churned", positive="Yes", folds=3, settings=model_settings)
    assert set(res["families"]) == {"logistic", "lightgbm"}
    for m in res["families"].values():
        assert 0.7 < m["roc_auc"] < 0.95
        assert 0.0 <= m["roc_auc_std"] < 0.1
        assert {
            "pr_auc",
            "lift_10",
            "capture_5",
            "brier",
            "ece",
            "emp",
            "precision_at_recall_70",
        } <= set(m)
    assert res["rows"] == len(flat)
    assert res["positives"] == int((flat["churned"] == "Yes").sum())
    assert res["plan"]["dropped"] == {
        "customer_key": "id_like",
        "row_no": "id_like",
        "country": "constant",
    }


def test_target_errors(flat: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="did you mean 'churned'"):
        target_vector(flat, target="Churn", positive="Yes")
    with pytest.raises(InputError, match="exactly 2 classes, found 3"):
        target_vector(flat, target="plan", positive="basic")
    with pytest.raises(InputError, match=r"is not a value of 'churned'.*'No' and 'Yes'"):
        target_vector(flat, target="churned", positive="yes please")
    _, y, label = target_vector(flat, target="churned", positive=None)  # "Yes" is recognised
    assert label == "Yes" and int(y.sum()) == int((flat["churned"] == "Yes").sum())
    odd = pd.DataFrame({"t": ["stay", "go"] * 10, "x": range(20)})
    with pytest.raises(InputError, match="pass --positive"):
        target_vector(odd, target="t", positive=None)


def test_rows_without_a_target_are_left_out(flat: pd.DataFrame) -> None:
    df = flat.copy()
    df.loc[:9, "churned"] = None
    rows, y, _ = target_vector(df, target="churned", positive="Yes")
    assert len(rows) == len(y) == len(flat) - 10


def test_train_then_score_keeps_input_columns(
    flat: pd.DataFrame, model_settings: ModelSettings, tmp_path: Path
) -> None:
    res = train_table(
        flat.iloc[:1000],
        target="churned",
        positive="Yes",
        folds=3,
        settings=model_settings,
        out=tmp_path / "model",
    )
    assert res["family"] in {"logistic", "lightgbm"}
    assert len(res["checksum"]) == 64
    new = flat.iloc[1000:].drop(columns=["churned"])
    scored = score_table(tmp_path / "model", new)
    assert list(scored.columns[: new.shape[1]]) == list(new.columns)
    assert scored["churn_probability"].between(0, 1).all()
    assert len(scored) == len(new)
    assert scored["top_reasons"].str.contains(" = ").mean() > 0.9
    # calibrated on out-of-fold predictions: the mean is close to the churn rate
    rate = (flat["churned"] == "Yes").mean()
    assert abs(scored["churn_probability"].mean() - rate) < 0.06


def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        read_table(tmp_path / "none.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(InputError, match="cannot read"):
        read_table(bad)


def test_cli_table_evaluate_json_and_errors(flat: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    flat.iloc[:600].to_csv(path, index=False)
    run = run_cli(
        "table",
        "evaluate",
        str(path),
        "--target",
        "churned",
        "--positive",
        "Yes",
        "--cv",
        "3",
        "--families",
        "logistic",
        "--json",
    )
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert 0.6 < out["families"]["logistic"]["roc_auc"] < 1.0
    bad = run_cli("table", "evaluate", str(path), "--target", "churn")
    assert isinstance(bad.exception, InputError)
    assert "did you mean 'churned'" in str(bad.exception)


def test_cli_table_train_and_score(flat: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    flat.iloc[:800].astype({"total": str}).to_parquet(src)
    trained = run_cli(
        "table",
        "train",
        str(src),
        "--target",
        "churned",
        "--positive",
        "Yes",
        "--out",
        str(tmp_path / "m"),
        "--cv",
        "3",
        "--families",
        "logistic",
    )
    assert trained.exit_code == 0, trained.output
    assert "saved" in trained.stdout
    scored = run_cli(
        "table", "score", str(tmp_path / "m"), str(src), "--out", str(tmp_path / "s.csv")
    )
    assert scored.exit_code == 0, scored.output
    out = pd.read_csv(tmp_path / "s.csv")
    assert {"churn_probability", "top_reasons", "top_reasons_zh", "churned"} <= set(out.columns)
    assert len(out) == 800


def test_cv_needs_enough_rows_per_fold(model_settings: ModelSettings) -> None:
    tiny = pd.DataFrame({"x": range(40), "y": ["Yes"] * 3 + ["No"] * 37})
    with pytest.raises(InputError, match="rarer class has 3 rows"):
        evaluate_table(tiny, target="y", positive="Yes", folds=5, settings=model_settings)
    with pytest.raises(InputError, match="at least 2 folds"):
        evaluate_table(tiny, target="y", positive="Yes", folds=1, settings=model_settings)
