"""Column typing for any flat table: numeric, categorical, or dropped (ID-like, constant, empty).

The plan is inferred once from the training data and stored with the model, so
scoring applies exactly the same typing. Nothing here knows a column name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

__all__ = ["MISSING", "ColumnPlan", "infer_plan", "prepare_frame"]

MISSING = "(missing)"  # the level that stands for a blank categorical value

# A text column is numeric when at least this share of its non-blank values parse as numbers.
_NUMERIC_SHARE = 0.98
# A numeric column with more distinct values than this is "continuous" (gets a log-like copy).
_CONTINUOUS_LEVELS = 10
# Text columns with more distinct values than this are ID-like unless values repeat a lot.
_MAX_LEVELS = 200


@dataclass(frozen=True)
class ColumnPlan:
    """How each input column is used by the models.

    Attributes
    ----------
    numeric
        Columns read as numbers (booleans become 0/1).
    continuous
        The numeric columns with many distinct values (linear models add a
        signed-log copy of them).
    categorical
        Text columns with a manageable number of levels.
    dropped
        Column → why it is not used (``id_like``, ``constant``, ``empty``).
    """

    numeric: tuple[str, ...]
    continuous: tuple[str, ...]
    categorical: tuple[str, ...]
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """Model input columns, numeric first."""
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in model metadata)."""
        return {
            "numeric": list(self.numeric),
            "continuous": list(self.continuous),
            "categorical": list(self.categorical),
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnPlan:
        """Inverse of :meth:`to_dict`."""
        return cls(
            numeric=tuple(data["numeric"]),
            continuous=tuple(data["continuous"]),
            categorical=tuple(data["categorical"]),
            dropped=dict(data.get("dropped", {})),
        )


def _as_numeric(col: pd.Series) -> pd.Series | None:
    """The column as float, or ``None`` when it is really text."""
    if pd.api.types.is_bool_dtype(col):
        return col.astype("float64")
    if pd.api.types.is_numeric_dtype(col):
        return col.astype("float64", copy=False)  # read only: no copy of float columns
    if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
        return None
    text = col.astype("string").str.strip()
    blank = text.isna() | (text == "")
    lowered = text.str.lower()
    as_bool = lowered.map({"true": 1.0, "false": 0.0})
    if bool((as_bool.notna() | blank).all()) and bool(as_bool.notna().any()):
        return as_bool.astype("float64")
    parsed = pd.to_numeric(text.where(~blank), errors="coerce")
    filled = int((~blank).sum())
    if filled == 0:
        return None
    if int(parsed.notna().sum()) >= _NUMERIC_SHARE * filled:
        return parsed.astype("float64")
    return None


def infer_plan(frame: pd.DataFrame, *, exclude: tuple[str, ...] = ()) -> ColumnPlan:
    """Infer how to use each column of ``frame`` (except ``exclude``).

    Parameters
    ----------
    frame
        Training data, one row per customer.
    exclude
        Columns that are not features (target, keys, dates of the snapshot).

    Returns
    -------
    ColumnPlan
        Numeric / continuous / categorical columns and the dropped ones with a reason.
    """
    n = len(frame)
    numeric: list[str] = []
    continuous: list[str] = []
    categorical: list[str] = []
    dropped: dict[str, str] = {}
    for name in frame.columns:
        if name in exclude:
            continue
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            dropped[name] = "date"
            continue
        values = _as_numeric(col)
        if values is not None:
            levels = int(values.nunique(dropna=True))
            if levels == 0:
                dropped[name] = "empty"
            elif levels == 1 and not values.isna().any():
                dropped[name] = "constant"
            elif (
                _integer_like(values)
                and levels >= 0.95 * n
                and n >= 50
                and _monotonic_or_id(values)
            ):
                dropped[name] = "id_like"
            else:
                numeric.append(str(name))
                if levels > _CONTINUOUS_LEVELS:
                    continuous.append(str(name))
            continue
        text = col.astype("string")
        levels = int(text.nunique(dropna=True))
        if levels == 0:
            dropped[name] = "empty"
        elif levels == 1 and not text.isna().any():
            dropped[name] = "constant"
        elif levels > _MAX_LEVELS or (n >= 50 and levels >= 0.5 * n):
            dropped[name] = "id_like"
        else:
            categorical.append(str(name))
    if not numeric and not categorical:
        raise InputError(
            "no usable feature columns: every column is ID-like, constant or empty "
            f"({', '.join(f'{k}: {v}' for k, v in list(dropped.items())[:10])}); "
            "check the file's columns and the --target"
        )
    return ColumnPlan(tuple(numeric), tuple(continuous), tuple(categorical), dropped)


def _integer_like(values: pd.Series) -> bool:
    v = values.dropna().to_numpy()
    return bool(v.size) and bool(np.all(np.floor(v) == v))


def _monotonic_or_id(values: pd.Series) -> bool:
    # Integer keys are (near) unique; a unique integer measure such as a byte count is
    # rare but possible, so also accept sequence-like columns (sorted or consecutive).
    v = values.dropna()
    span = float(v.max() - v.min()) + 1.0
    return bool(v.is_monotonic_increasing or v.is_monotonic_decreasing or span <= 1.5 * len(v))


def _category_labels(col: pd.Series) -> np.ndarray:
    """The column as stripped text with blanks as :data:`MISSING` (object array).

    Text work is done once per distinct value, not per row: a categorical column
    has a handful of levels, and stripping a million strings cost ~0.3 s a column.
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object).astype("string").str.strip()
    labels = text.fillna(MISSING).replace("", MISSING).to_numpy(dtype=object)
    table = np.append(labels, np.array([MISSING], dtype=object))  # code -1 (NA) → last
    out: np.ndarray = table[codes]
    return out


def prepare_frame(frame: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """The plan's feature columns with stable dtypes: float numerics and string categoricals.

    Missing feature columns are an error that names them; extra columns are ignored.
    """
    missing = [c for c in plan.features if c not in frame.columns]
    if missing:
        raise InputError(
            f"{len(missing)} feature column(s) the model needs are missing: "
            f"{', '.join(missing[:10])}; score a table with the same columns as the training one"
        )
    out: dict[str, pd.Series] = {}
    for name in plan.numeric:
        values = _as_numeric(frame[name])
        if values is None:
            values = pd.to_numeric(frame[name].astype("string").str.strip(), errors="coerce")
        out[name] = values.astype("float64", copy=False)
    for name in plan.categorical:
        out[name] = pd.Series(_category_labels(frame[name]), index=frame.index, copy=False)
    # Keep the columns as they are (float columns of ``frame`` are shared, not copied:
    # the families only read them). Consolidating them into one block copied the whole
    # frame again (~3 s on a million rows × 100 features, most of it first touches of
    # fresh memory), and the families read column by column anyway.
    return pd.DataFrame(out, index=frame.index, copy=False)
