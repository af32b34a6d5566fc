"""The scikit-learn encoders the model families put in front of their estimators.

Two shapes: a *dense* encoding for linear models and neural networks (one-hot
categoricals, median-imputed numerics with a missing flag, a signed-log copy of
continuous columns, all standardised) and a *tree* encoding (numerics as they
are, NaN kept; categoricals as ordinal codes). The dense encoding keeps one
transformer per input column so that each output column maps back to the input
column it came from (linear explanations need that).
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from .preprocessing import ColumnPlan

__all__ = ["dense_encoder", "output_sources", "tree_encoder"]

# Levels seen fewer times than this share of the rows are pooled as "infrequent".
_MIN_LEVEL_SHARE = 0.002
_MAX_LEVELS = 30


def _imputer() -> SimpleImputer:
    return SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)


def dense_encoder(plan: ColumnPlan, *, rows: int) -> ColumnTransformer:
    """One-hot + impute (with missing flags) + signed log copy + standardise.

    Three grouped transformers (plain numerics, continuous numerics,
    categoricals) keep it fast on wide tables; :func:`output_sources` maps each
    output column back to its input column.
    """
    min_frequency = max(5, int(_MIN_LEVEL_SHARE * rows))
    continuous = [c for c in plan.numeric if c in plan.continuous]
    plain = [c for c in plan.numeric if c not in plan.continuous]
    parts: list[tuple[str, object, list[str]]] = []
    if plain:
        parts.append(
            ("num", Pipeline([("impute", _imputer()), ("scale", StandardScaler())]), plain)
        )
    if continuous:
        # A heavy-tailed amount (charges, minutes) often acts on the log scale; arcsinh
        # is a log that accepts zero and negative values, and the raw copy keeps the
        # linear part. The model picks the mix.
        expand = FeatureUnion(
            [
                ("raw", Pipeline([("impute", _imputer()), ("scale", StandardScaler())])),
                (
                    "slog",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                            (
                                "log",
                                FunctionTransformer(np.arcsinh, feature_names_out="one-to-one"),
                            ),
                            ("scale", StandardScaler()),
                        ]
                    ),
                ),
            ]
        )
        parts.append(("cont", expand, continuous))
    if plan.categorical:
        onehot = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=min_frequency,
            max_categories=_MAX_LEVELS,
            sparse_output=False,
        )
        parts.append(
            (
                "cat",
                Pipeline([("onehot", onehot), ("scale", StandardScaler())]),
                list(plan.categorical),
            )
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)


def _imputed_sources(imputer: SimpleImputer, columns: list[str]) -> list[str]:
    """Input column of each output of a fitted imputer with missing flags."""
    flagged = [] if imputer.indicator_ is None else list(imputer.indicator_.features_)
    return list(columns) + [columns[i] for i in flagged]


def output_sources(encoder: ColumnTransformer, plan: ColumnPlan) -> np.ndarray:
    """For a fitted dense encoder: the index (into ``plan.features``) of each output column."""
    index = {name: i for i, name in enumerate(plan.features)}
    names: list[str] = []
    for group, fitted, columns in encoder.transformers_:
        if group == "num":
            names += _imputed_sources(fitted.named_steps["impute"], list(columns))
        elif group == "cont":
            raw = dict(fitted.transformer_list)["raw"]
            # raw copy with missing flags, then the signed-log copy
            names += _imputed_sources(raw.named_steps["impute"], list(columns)) + list(columns)
        elif group == "cat":
            onehot = fitted.named_steps["onehot"]
            infrequent = onehot.infrequent_categories_
            for i, col in enumerate(columns):
                levels = len(onehot.categories_[i])
                rare = infrequent[i]
                width = levels if rare is None else levels - len(rare) + 1
                names += [col] * width
    sources = np.asarray([index[n] for n in names], dtype=np.int64)
    width = sum(s.stop - s.start for s in encoder.output_indices_.values())
    if len(sources) != width:
        raise RuntimeError(f"encoder output width {width} != mapped columns {len(sources)}")
    return sources


def tree_encoder(plan: ColumnPlan) -> ColumnTransformer:
    """Numerics passed through (trees split on NaN); categoricals as ordinal codes."""
    parts: list[tuple[str, object, list[str]]] = []
    if plan.numeric:
        parts.append(("num", "passthrough", list(plan.numeric)))
    if plan.categorical:
        parts.append(
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                    dtype=np.float64,
                ),
                list(plan.categorical),
            )
        )
    return ColumnTransformer(parts, remainder="drop", verbose_feature_names_out=False)
