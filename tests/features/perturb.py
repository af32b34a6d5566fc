"""Change everything a snapshot at month M must not see: data dated after M."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from churnguard.contract import TABLES
from churnguard.features.context import add_months, empty_table


def _after(col: pd.Series, boundary: date) -> np.ndarray:
    return (pd.to_datetime(col) >= pd.Timestamp(boundary)).to_numpy()


def _shift_later(rng: np.random.Generator, n: int, boundary: date) -> pd.Series:
    days = rng.integers(0, 400, n)
    return pd.Series(pd.Timestamp(boundary) + pd.to_timedelta(days, unit="D"))


def perturb_future(tables: dict[str, pa.Table], as_of: date, seed: int) -> dict[str, pa.Table]:
    """Delete, alter and add rows dated after ``as_of``'s month; alter later facts of older rows."""
    rng = np.random.default_rng(seed)
    boundary = add_months(as_of, 1)
    out: dict[str, pa.Table] = {}
    for name, table in tables.items():
        schema = TABLES[name]
        df = table.to_pandas(date_as_object=False)
        if name == "subscribers":
            late = _after(df["activation_date"], boundary)
            keep = ~late | (rng.random(len(df)) < 0.5)
            df = df[keep].copy()
            later = _after(df["churn_date"].fillna(pd.Timestamp("1900-01-01")), boundary)
            idx = np.flatnonzero(later)
            new = _shift_later(rng, len(idx), boundary)
            blank = rng.random(len(idx)) < 0.3
            df.loc[df.index[idx], "churn_date"] = new.where(~blank, pd.NaT).to_numpy()
            df.loc[df.index[idx], "churn_reason"] = rng.choice(
                ["port_out", "relocation", "arrears_disconnect"], len(idx)
            )
            df.loc[df.index[idx], "status"] = rng.choice(["active", "churned"], len(idx))
        elif schema.time_column:
            tcol = schema.time_column
            future = _after(df[tcol], boundary)
            drop = future & (rng.random(len(df)) < 0.5)
            df = df[~drop].copy()
            future = _after(df[tcol], boundary)
            for c in schema.columns:
                if c.type.value == "float" and c.name in df:
                    factor = rng.uniform(0.0, 3.0, len(df))
                    df.loc[future, c.name] = (df[c.name] * factor)[future]
            # a copy of some past rows moved after M (new, later data)
            extra = df[~future].sample(frac=0.2, random_state=seed).copy()
            if tcol == "month":
                extra[tcol] = [
                    pd.Timestamp(add_months(boundary, int(k)))
                    for k in rng.integers(0, 6, len(extra))
                ]
            else:
                extra[tcol] = _shift_later(rng, len(extra), boundary).to_numpy()
            if "complaint_id" in extra:
                extra["complaint_id"] = extra["complaint_id"] + "-late"
            arrow_schema = empty_table(name).schema
            df = pa.concat_tables(
                [
                    pa.Table.from_pandas(part, schema=arrow_schema, preserve_index=False)
                    for part in (df, extra)
                ]
            ).to_pandas(date_as_object=False)
            df = df.drop_duplicates(subset=list(schema.natural_key), keep="first")
            if name == "billing":
                paid_late = _after(df["paid_date"].fillna(pd.Timestamp("1900-01-01")), boundary)
                df.loc[paid_late, "paid_date"] = _shift_later(
                    rng, int(paid_late.sum()), boundary
                ).to_numpy()
                df.loc[paid_late, "amount_paid"] = rng.uniform(0, 500, int(paid_late.sum()))
            if name == "complaints":
                res_late = _after(df["resolved_at"].fillna(pd.Timestamp("1900-01-01")), boundary)
                n = int(res_late.sum())
                df.loc[res_late, "resolved_at"] = _shift_later(rng, n, boundary).to_numpy()
                df.loc[res_late, "satisfied"] = rng.random(n) < 0.5
        arrow_schema = empty_table(name).schema
        out[name] = pa.Table.from_pandas(df, schema=arrow_schema, preserve_index=False)
    return out
