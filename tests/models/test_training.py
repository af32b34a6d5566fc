"""Train → register → promote → score → evaluate on synthetic snapshots named like the catalog."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnguard.config import Settings, load_settings
from churnguard.errors import InputError, NotFoundError, StateError
from churnguard.features import CATALOG
from churnguard.models.evaluation import evaluate_frame
from churnguard.models.registry import champion, get_version, list_versions, promote
from churnguard.models.scoring import SCORES_TABLE, score_month
from churnguard.models.training import choose_champion, train_models

from .conftest import make_snapshots, run_cli

_RISKY = [f for f in CATALOG if f.risk_direction != 0 and not f.categorical][:6]
FEATURES = [f.name for f in _RISKY]
# the synthetic risk follows each feature's catalog risk direction, as real churn would
DIRECTIONS = (_RISKY[0].risk_direction, _RISKY[1].risk_direction, _RISKY[2].risk_direction)
FAMILIES = ("logistic", "lightgbm")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, pd.DataFrame, dict]:
    settings = load_settings(tmp_path_factory.mktemp("lab") / "ws", create=True)
    frames = make_snapshots(FEATURES, months=5, per_month=1500, seed=4, directions=DIRECTIONS)
    history = frames[frames["as_of"] < date(2024, 5, 1)]
    report = train_models(settings, as_of="2024-04", frame=history, families=FAMILIES)
    return settings, frames, report.to_dict()


def test_out_of_time_report(trained: tuple) -> None:
    _, _, report = trained
    assert report["train_months"] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert report["validation_month"] == "2024-04-01"
    assert report["rows_train"] == 4500 and report["rows_validation"] == 1500
    assert set(report["families"]) == set(FAMILIES)
    for m in report["families"].values():
        assert m["roc_auc"] > 0.75
        assert m["brier_calibrated"] <= m["brier"] + 1e-3
    best = max(FAMILIES, key=lambda f: report["families"][f]["pr_auc"])
    assert report["champion"] == best


def test_registry_rows(trained: tuple) -> None:
    settings, _, report = trained
    rows = {r["family"]: r for r in list_versions(settings)}
    assert {r["status"] for r in rows.values()} == {"champion", "challenger"}
    champ = rows[report["champion"]]
    assert champ["status"] == "champion"
    assert champ["features"] == FEATURES
    # the champion is refit on every month, the validation month included
    assert champ["train_start"] == "2024-01-01" and champ["train_end"] == "2024-04-01"
    other = next(r for f, r in rows.items() if f != report["champion"])
    assert other["train_end"] == "2024-03-01"
    assert champ["validation_month"] == "2024-04-01"
    assert len(champ["checksum"]) == 64 and champ["catalog_version"]
    assert (settings.workspace / champ["artifact_path"] / "metadata.json").is_file()
    assert champion(settings)["version"] == champ["version"]


def test_score_month_writes_scores_with_reasons(trained: tuple, tmp_path: Path) -> None:
    settings, frames, _ = trained
    month = frames[frames["as_of"] == date(2024, 5, 1)].drop(columns=["label"])
    res = score_month(settings, as_of="2024-05", frame=month, out=tmp_path / "s.parquet")
    s = pd.read_parquet(tmp_path / "s.parquet")
    assert len(s) == res.rows == len(month)
    assert sorted(s["rank"]) == list(range(1, len(month) + 1))
    assert s["churn_probability"].is_monotonic_decreasing
    assert s["churn_probability"].between(0, 1).all()
    top = s.head(50)
    assert (top["top_reasons_zh"].str.len() > 0).all() and (
        top["top_reasons_en"].str.len() > 0
    ).all()
    assert (top["top_categories"].str.len() > 0).all()
    # scoring again replaces the month's rows of this model version
    score_month(settings, as_of="2024-05", frame=month)
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    n = con.execute(f"SELECT count(*) FROM {SCORES_TABLE}").fetchone()
    con.close()
    assert n == (len(month),)
    with pytest.raises(InputError, match=r"parquet or \.csv"):
        score_month(settings, as_of="2024-05", frame=month, out=tmp_path / "s.xlsx")
    # a snapshot with a subscriber twice is refused, and the stored month stays as it was
    doubled = pd.concat([month, month.head(3)], ignore_index=True)
    with pytest.raises(StateError, match=r"3 subscriber.*scored twice.*features build"):
        score_month(settings, as_of="2024-05", frame=doubled)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute(f"SELECT count(*) FROM {SCORES_TABLE}").fetchone() == (len(month),)
    con.close()


def test_evaluate_flags_drift_and_auc_loss(trained: tuple) -> None:
    settings, frames, _ = trained
    month = frames[frames["as_of"] == date(2024, 5, 1)]
    same = evaluate_frame(settings, month, as_of=date(2024, 5, 1))
    assert same["retrain"] is False, same["reasons_en"]
    assert same["score_psi"] < 0.1
    assert len(same["models"]) == 2
    shifted = month.copy()
    shifted[FEATURES[0]] = shifted[FEATURES[0]] + 2.0 * DIRECTIONS[0]  # the strongest moves
    shifted["label"] = np.random.default_rng(0).permutation(shifted["label"].to_numpy())
    drift = evaluate_frame(settings, shifted, as_of=date(2024, 5, 1))
    assert drift["retrain"] is True
    assert FEATURES[0] in drift["drifted_features"]
    assert drift["score_psi"] > settings.models.psi_limit
    assert any("ROC AUC" in r for r in drift["reasons_en"])
    assert any("重要特征" in r for r in drift["reasons_zh"])


def test_promote_retires_the_old_champion(trained: tuple) -> None:
    settings, _, report = trained
    old = report["versions"][report["champion"]]
    other = next(v for f, v in report["versions"].items() if f != report["champion"])
    result = promote(settings, other)
    assert result == {"champion": other, "retired": old}
    assert get_version(settings, old)["status"] == "retired"
    assert champion(settings)["version"] == other
    with pytest.raises(StateError, match="already the champion"):
        promote(settings, other)
    with pytest.raises(NotFoundError, match="no model version"):
        get_version(settings, "nope")
    listed = run_cli("model", "list", "--workspace", str(settings.workspace), "--json")
    assert listed.exit_code == 0, listed.output
    assert '"retired"' in listed.stdout


def test_a_tampered_registered_model_is_refused(trained: tuple, tmp_path: Path) -> None:
    settings, frames, _ = trained
    row = champion(settings)
    target = next((settings.workspace / row["artifact_path"] / "family").rglob("*.*"))
    original = target.read_bytes()
    target.write_bytes(original + b" ")
    try:
        month = frames[frames["as_of"] == date(2024, 5, 1)].drop(columns=["label"])
        with pytest.raises(StateError, match="altered"):
            score_month(settings, as_of="2024-05", frame=month)
    finally:
        target.write_bytes(original)


def test_choose_champion_and_errors() -> None:
    m = {"a": {"pr_auc": 0.2, "brier": 0.1}, "b": {"pr_auc": 0.3, "brier": 0.2}}
    assert choose_champion(m, metric="pr_auc") == "b"
    assert choose_champion(m, metric="brier") == "a"  # lower is better
    with pytest.raises(InputError, match="unknown champion metric"):
        choose_champion(m, metric="accuracy")


def test_without_refit_the_champion_is_the_validated_model(tmp_path: Path) -> None:
    settings = load_settings(
        tmp_path / "ws", create=True, overrides={"models": {"refit_champion": False}}
    )
    frames = make_snapshots(FEATURES, months=3, per_month=600, seed=2, directions=DIRECTIONS)
    report = train_models(settings, as_of="2024-03", frame=frames, families=("logistic",))
    row = champion(settings)
    assert row["train_end"] == "2024-02-01"
    assert row["version"] == report.versions["logistic"]


def test_train_needs_two_months_and_both_classes(workspace: Settings) -> None:
    one = make_snapshots(FEATURES, months=1, per_month=200)
    with pytest.raises(InputError, match="at least 2 labeled snapshots"):
        train_models(workspace, as_of="2024-01", frame=one, families=("logistic",))
    flat = make_snapshots(FEATURES, months=2, per_month=200)
    flat["label"] = 0
    with pytest.raises(StateError, match="no churners"):
        train_models(workspace, as_of="2024-02", frame=flat, families=("logistic",))


def test_comparison_table_shows_every_family_and_metric(trained: tuple) -> None:
    from rich.console import Console

    from churnguard.cli.model_cmd import comparison_table

    _, _, report = trained
    console = Console(record=True, width=100)
    console.print(comparison_table(report["families"], title="t", champion=report["champion"]))
    text = console.export_text()
    for word in ("logistic", "lightgbm", "ROC AUC", "PR AUC", "EMP", "precision @ recall 0.70"):
        assert word in text
    assert f"★{report['champion']}" in text


def test_with_reasons_fills_the_given_customers_only() -> None:
    from churnguard.models.scoring import with_reasons

    scores = pd.DataFrame(
        {
            "subscriber_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.5, 0.2, 0.1],
            "top_categories": pd.array(["usage", None, None, None], dtype="string"),
            "top_reasons_en": pd.array(["calls down", None, None, None], dtype="string"),
            "top_reasons_zh": pd.array(["通话下降", None, None, None], dtype="string"),
        }
    )
    reasons = pd.DataFrame(
        {
            "subscriber_id": ["c", "a", "c", "zz"],
            "top_categories": ["old", None, "billing", "x"],
            "top_reasons_en": ["old", None, "bill late", "x"],
            "top_reasons_zh": ["old", None, "账单逾期", "x"],
        }
    )
    out = with_reasons(scores, reasons)
    assert out["top_reasons_en"].tolist() == ["calls down", None, "bill late", None]
    assert out["top_reasons_zh"].tolist() == ["通话下降", None, "账单逾期", None]
    assert out["top_categories"].tolist() == ["usage", None, "billing", None]
    assert out["churn_probability"].tolist() == scores["churn_probability"].tolist()
    assert scores["top_reasons_en"].isna().sum() == 3  # the input is not changed
    assert with_reasons(scores, reasons.iloc[:0]) is scores


def test_store_reasons_fills_the_months_rows_of_that_version_only(trained: tuple) -> None:
    import duckdb

    from churnguard.models.scoring import store_reasons

    settings, frames, _ = trained
    may = frames[frames["as_of"] == date(2024, 5, 1)].drop(columns=["label"])
    res = score_month(settings, as_of="2024-05", frame=may, explain_share=0.0)
    april = frames[frames["as_of"] == date(2024, 4, 1)].drop(columns=["label"])
    score_month(settings, as_of="2024-04", frame=april, explain_share=0.0)

    def month(m: str, *, this_version: bool = True) -> pd.DataFrame:
        same = "=" if this_version else "<>"
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        try:
            return con.sql(
                f"SELECT * FROM {SCORES_TABLE} WHERE as_of = '{m}' "
                f"AND model_version {same} '{res.model_version}' "
                "ORDER BY model_version, subscriber_id"
            ).df()
        finally:
            con.close()

    before, april_before = month("2024-05-01"), month("2024-04-01")
    others_before = month("2024-05-01", this_version=False)  # other models' scores of May
    ids = before["subscriber_id"].tolist()
    reasons = pd.DataFrame(
        {
            "subscriber_id": [ids[0], ids[1], ids[0], "NOPE"],
            "top_categories": ["old", "billing", "usage", "x"],
            "top_reasons_en": ["old", "bill late", "calls down", "x"],
            "top_reasons_zh": ["old", "账单逾期", "通话下降", "x"],
        }
    )
    store_reasons(settings, reasons, as_of=date(2024, 5, 1), version=res.model_version)
    after = month("2024-05-01")
    assert len(after) == len(before)
    got = after.set_index("subscriber_id")
    assert got.loc[ids[0], "top_reasons_en"] == "calls down"  # the last given wins
    assert got.loc[ids[1], "top_reasons_zh"] == "账单逾期"
    assert got.loc[ids[2:], "top_reasons_en"].isna().all()
    cols = ["subscriber_id", "churn_probability", "rank", "raw_score", "model_version"]
    pd.testing.assert_frame_equal(after[cols], before[cols])
    pd.testing.assert_frame_equal(month("2024-04-01"), april_before)  # other months as they were
    pd.testing.assert_frame_equal(month("2024-05-01", this_version=False), others_before)
