from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnguard.errors import InputError
from churnguard.models.preprocessing import MISSING, ColumnPlan, infer_plan, prepare_frame


def test_plan_types_and_drops(flat: pd.DataFrame) -> None:
    plan = infer_plan(flat, exclude=("churned",))
    assert plan.dropped == {"customer_key": "id_like", "row_no": "id_like", "country": "constant"}
    assert plan.numeric == ("tenure", "charges", "total", "complaints", "noise")
    assert plan.categorical == ("plan", "region")
    assert set(plan.continuous) == {"tenure", "charges", "total", "noise"}
    assert "churned" not in plan.features


def test_prepare_reads_blanks_as_missing_and_fills_categoricals(flat: pd.DataFrame) -> None:
    plan = infer_plan(flat, exclude=("churned",))
    x = prepare_frame(flat, plan)
    assert list(x.columns) == list(plan.features)
    assert x["total"].dtype == np.float64
    assert int(x["total"].isna().sum()) == int((flat["tenure"] == 0).sum())
    assert int((x["region"] == MISSING).sum()) == int(flat["region"].isna().sum())


def test_booleans_and_text_booleans_are_numeric() -> None:
    df = pd.DataFrame(
        {"a": [True, False] * 30, "b": ["true", "false", ""] * 20, "c": list("xyz") * 20}
    )
    plan = infer_plan(df)
    assert plan.numeric == ("a", "b")
    assert plan.categorical == ("c",)
    x = prepare_frame(df, plan)
    assert x["b"].tolist()[:3] == [1.0, 0.0, None] or np.isnan(x["b"].iloc[2])


def test_empty_and_all_dropped_columns_error() -> None:
    df = pd.DataFrame({"id": [f"u{i}" for i in range(100)], "k": 1, "e": [None] * 100})
    with pytest.raises(InputError, match="no usable feature columns"):
        infer_plan(df)


def test_missing_feature_column_is_named(flat: pd.DataFrame) -> None:
    plan = infer_plan(flat, exclude=("churned",))
    with pytest.raises(InputError, match="charges"):
        prepare_frame(flat.drop(columns=["charges"]), plan)


def test_plan_round_trip(flat: pd.DataFrame) -> None:
    plan = infer_plan(flat, exclude=("churned",))
    assert ColumnPlan.from_dict(plan.to_dict()) == plan


def test_categoricals_are_stripped_text_with_blanks_missing_whatever_the_input_type() -> None:
    values = [" tv ", "tv", "", None, np.nan, pd.NA, 3, "3", True, "  ", "Mobile"]
    expected = ["tv", "tv", MISSING, MISSING, MISSING, MISSING, "3", "3", "True", MISSING, "Mobile"]
    plan = ColumnPlan(numeric=(), continuous=(), categorical=("c",))
    as_object = prepare_frame(pd.DataFrame({"c": pd.Series(values, dtype=object)}), plan)
    assert as_object["c"].tolist() == expected
    assert as_object["c"].dtype == object
    text = pd.Series([" tv ", None, "", "broadband"], dtype="string", index=[7, 3, 5, 1])
    from_text = prepare_frame(pd.DataFrame({"c": text}), plan)
    assert from_text["c"].tolist() == ["tv", MISSING, MISSING, "broadband"]
    assert from_text.index.tolist() == [7, 3, 5, 1]
    cats = pd.Series(pd.Categorical(["a ", None, "b", "a "]))
    assert prepare_frame(pd.DataFrame({"c": cats}), plan)["c"].tolist() == ["a", MISSING, "b", "a"]
