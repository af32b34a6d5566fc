"""Real-world defects injected into written tables, with a manifest of each one.

A share ``rate`` of each batch's rows gets exactly one defect; a duplicate is a
copy inserted right after its original (the copy is the defective row, the
original stays clean). Row numbers in the manifest are 1-based positions of
data rows in the written file (header not counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ..contract import ColumnType, RejectReason, TableSchema
from .identities import unknown_subscriber_ids

__all__ = ["DirtInjector"]

_BAD_DATES = ("2024-13-05", "2024-02-30", "31/12/2023", "2024-00-10", "20x4-05-01", "yesterday")
_BAD_TIMESTAMPS = ("2024-02-30 10:00:00", "2024-05-01 25:61:00", "2024/13/01 08:00", "晚上八点")
_BAD_VALUES = ("未知", "fax", "XYZ", "satellite", "unknown_value")
_DATE_TYPES = (ColumnType.DATE, ColumnType.MONTH, ColumnType.TIMESTAMP)


@dataclass
class DirtInjector:
    """Injects defects into batches of one table and records them.

    Parameters
    ----------
    schema
        The contract table being written.
    rate
        Share of rows made defective.
    text_dates
        The file stores dates as text (CSV): malformed date strings are possible.
    rng
        Random stream of the dirt (separate from the world's, so dirt never changes the world).
    """

    schema: TableSchema
    rate: float
    text_dates: bool
    rng: np.random.Generator
    records: list[pd.DataFrame] = field(default_factory=list)

    def _reasons(self) -> list[RejectReason]:
        s = self.schema
        out = [RejectReason.DUPLICATE]
        if any(c.minimum is not None or c.maximum is not None for c in s.columns):
            out.append(RejectReason.OUT_OF_RANGE)
        if any(c.allowed for c in s.columns):
            out.append(RejectReason.BAD_VALUE)
        if s.required_columns:
            out.append(RejectReason.MISSING_REQUIRED)
        if s.references_subscribers:
            out.append(RejectReason.UNKNOWN_SUBSCRIBER)
        if self._future_column() is not None:
            out.append(RejectReason.FUTURE_DATE)
        if self.text_dates and any(c.type in _DATE_TYPES for c in s.columns):
            out.append(RejectReason.BAD_DATE)
        elif any(c.type == ColumnType.MONTH for c in s.columns):
            out.append(RejectReason.BAD_DATE)  # a month not on the 1st
        if s.has("churn_date") and s.has("activation_date"):
            out.append(RejectReason.CHURN_BEFORE_ACTIVATION)
        return out

    def _future_column(self) -> str | None:
        if self.schema.time_column:
            return self.schema.time_column
        if self.schema.has("activation_date"):
            return "activation_date"
        return None

    def inject(self, table: pa.Table, *, first_row: int) -> pa.Table:
        """Return ``table`` with defects; ``first_row`` = data rows already in the file."""
        n = table.num_rows
        if n == 0 or self.rate <= 0:
            return table
        rng = self.rng
        k = int(rng.binomial(n, min(self.rate, 0.5)))
        if k == 0:
            return table
        df = table.to_pandas(types_mapper=None, date_as_object=True)
        for c in df.columns:  # object columns so any defective value fits
            df[c] = df[c].astype(object)
        rows = np.sort(rng.choice(n, size=k, replace=False))
        reasons = self._reasons()
        pick = np.asarray(reasons, dtype=object)[rng.integers(0, len(reasons), k)]
        cba = RejectReason.CHURN_BEFORE_ACTIVATION
        if cba in reasons:  # only rows that have a churn date can have it before activation
            no_churn = df["churn_date"].iloc[rows].isna().to_numpy()
            pick[(pick == cba) & no_churn] = RejectReason.DUPLICATE
        # Reference tables (subscribers, plans): other tables point at their rows, so a
        # defect there would orphan clean rows elsewhere. Every defect goes into an inserted
        # copy instead (with a never-issued key unless it is an exact duplicate).
        insert = not self.schema.references_subscribers
        copy = np.zeros(n, dtype=bool)
        copy[rows[(pick == RejectReason.DUPLICATE) | insert]] = True
        order = np.repeat(np.arange(n), 1 + copy.astype(np.int64))
        df = df.iloc[order].reset_index(drop=True)
        pos = np.arange(n) + np.cumsum(copy) - copy  # final position of each original row
        target = np.where(copy[rows], pos[rows] + 1, pos[rows])  # the defective row
        if insert:
            fresh = target[pick != RejectReason.DUPLICATE]
            key = self.schema.natural_key[0]
            df.iloc[fresh, df.columns.get_loc(key)] = np.asarray(
                self._fresh_keys(fresh.size), dtype=object
            )
        details = np.empty(k, dtype=object)
        for reason in sorted(set(pick.tolist())):
            sel = pick == reason
            details[sel] = self._apply(df, target[sel], RejectReason(reason))
        row_number = target + first_row + 1
        self.records.append(
            pd.DataFrame(
                {
                    "table": self.schema.name,
                    "row_number": row_number.astype(np.int64),
                    "reason": [str(r) for r in pick],
                    "detail": details,
                }
            )
        )
        return pa.Table.from_pandas(df, schema=table.schema, preserve_index=False)

    def _fresh_keys(self, m: int) -> list[str]:
        """Keys never used by clean rows (nor by each other)."""
        values = self.rng.choice(9_000_000, size=m, replace=False) + 90_000_000
        if self.schema.name == "subscribers":
            return [f"S{v:08d}" for v in values]
        return [f"P{v:08d}" for v in values]

    def _apply(self, df: pd.DataFrame, rows: np.ndarray, reason: RejectReason) -> list[str]:
        rng = self.rng
        s = self.schema
        m = rows.size
        if reason == RejectReason.DUPLICATE:
            return ["exact copy of the previous row"] * m
        if reason == RejectReason.OUT_OF_RANGE:
            cols = [c for c in s.columns if c.minimum is not None or c.maximum is not None]
            which = rng.integers(0, len(cols), m)
            out = []
            for j, r in zip(which, rows, strict=True):
                c = cols[j]
                if c.minimum is not None and (c.maximum is None or rng.random() < 0.6):
                    v: float = float(c.minimum) - float(rng.integers(1, 500))
                else:
                    assert c.maximum is not None
                    v = float(c.maximum) + float(rng.integers(1, 50)) * max(1.0, abs(c.maximum))
                df.iat[r, df.columns.get_loc(c.name)] = int(v) if c.type == ColumnType.INT else v
                out.append(f"{c.name}={v:g} outside [{c.minimum}, {c.maximum}]")
            return out
        if reason == RejectReason.BAD_VALUE:
            enum_cols = [c.name for c in s.columns if c.allowed]
            which = rng.integers(0, len(enum_cols), m)
            picks = rng.integers(0, len(_BAD_VALUES), m)
            out = []
            for j, v, r in zip(which, picks, rows, strict=True):
                bad = _BAD_VALUES[int(v)]
                df.iat[r, df.columns.get_loc(enum_cols[j])] = bad
                out.append(f"{enum_cols[j]}={bad} not allowed")
            return out
        if reason == RejectReason.MISSING_REQUIRED:
            req = list(s.required_columns)
            which = rng.integers(0, len(req), m)
            for j, r in zip(which, rows, strict=True):
                df.iat[r, df.columns.get_loc(req[j])] = None
            return [f"{req[j]} is empty" for j in which]
        if reason == RejectReason.UNKNOWN_SUBSCRIBER:
            ids = unknown_subscriber_ids(rng, m).to_pylist()
            df.iloc[rows, df.columns.get_loc("subscriber_id")] = np.asarray(ids, dtype=object)
            return ["subscriber_id never issued"] * m
        if reason == RejectReason.FUTURE_DATE:
            col = self._future_column()
            assert col is not None
            ctype = s.column(col).type
            years = rng.integers(2090, 2100, m)
            months = rng.integers(1, 13, m)
            days = np.where(ctype == ColumnType.MONTH, 1, rng.integers(1, 29, m))
            future = [
                date(int(y), int(mo), int(d)) for y, mo, d in zip(years, months, days, strict=True)
            ]
            jf = df.columns.get_loc(col)
            for fd, r in zip(future, rows, strict=True):
                df.iat[r, jf] = self._date_value(fd, ctype)
            return [f"{col} in {fd.year}" for fd in future]
        if reason == RejectReason.BAD_DATE:
            return self._bad_dates(df, rows)
        if reason == RejectReason.CHURN_BEFORE_ACTIVATION:
            ja = df.columns.get_loc("activation_date")
            jc = df.columns.get_loc("churn_date")
            back = rng.integers(1, 400, m)
            for b, r in zip(back, rows, strict=True):
                act = df.iat[r, ja]
                act_date = date.fromisoformat(act) if isinstance(act, str) else act
                df.iat[r, jc] = self._date_value(
                    date.fromordinal(act_date.toordinal() - int(b)), ColumnType.DATE
                )
            return [f"churn_date {b} days before activation_date" for b in back]
        raise ValueError(f"unsupported dirt reason {reason}")

    def _date_value(self, d: date, ctype: ColumnType) -> object:
        if not self.text_dates:
            return pd.Timestamp(d) if ctype == ColumnType.TIMESTAMP else d
        if ctype == ColumnType.TIMESTAMP:
            return f"{d.isoformat()} 12:00:00"
        return d.isoformat()

    def _bad_dates(self, df: pd.DataFrame, rows: np.ndarray) -> list[str]:
        rng = self.rng
        s = self.schema
        out = []
        if self.text_dates:
            cols = [c for c in s.columns if c.type in _DATE_TYPES]
            which = rng.integers(0, len(cols), rows.size)
            for j, r in zip(which, rows, strict=True):
                c = cols[j]
                pool = _BAD_TIMESTAMPS if c.type == ColumnType.TIMESTAMP else _BAD_DATES
                v = pool[int(rng.integers(0, len(pool)))]
                df.iat[r, df.columns.get_loc(c.name)] = v
                out.append(f"{c.name}={v} is not a valid date")
            return out
        col = next(c.name for c in s.columns if c.type == ColumnType.MONTH)
        j = df.columns.get_loc(col)
        for r in rows:
            d = df.iat[r, j]
            day = int(rng.integers(2, 28))
            df.iat[r, j] = d.replace(day=day)
            out.append(f"{col} on day {day}, not the 1st")
        return out
