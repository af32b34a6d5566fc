"""Writing contract tables month by month: Parquet row groups or appended CSV (UTF-8/GBK)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..contract import TABLES, ColumnType, TableSchema
from ..errors import StateError

__all__ = ["IdShift", "TableSink", "arrow_schema", "conform"]

# id column -> (prefix, digits, which offset of IdShift)
_ID_COLUMNS = {
    "subscriber_id": ("S", 8, "subscribers"),
    "new_subscriber_id": ("S", 8, "subscribers"),
    "group_id": ("G", 6, "groups"),
}


@dataclass(frozen=True)
class IdShift:
    """Offsets that make a chunk's ids globally unique: ``S00000001`` + 2,000,000 → ``S02000001``.

    A chunk of a large simulated operator is simulated as its own world, numbered
    from 1; its tables are renumbered as they are written.
    """

    subscribers: int = 0
    groups: int = 0

    @property
    def none(self) -> bool:
        return self.subscribers == 0 and self.groups == 0

    def apply(self, table: pa.Table) -> pa.Table:
        """``table`` with its subscriber and group id columns renumbered."""
        if self.none:
            return table
        for name, (prefix, width, which) in _ID_COLUMNS.items():
            if name not in table.column_names:
                continue
            offset = int(getattr(self, which))
            col = table.column(name)
            number = pc.add(pc.cast(pc.utf8_slice_codeunits(col, 1), pa.int64()), offset)
            top = pc.max(number).as_py()
            if top is not None and top >= 10**width:
                raise StateError(
                    f"{name} {prefix}{top} does not fit {width} digits; use fewer, larger chunks"
                )
            digits = pc.utf8_lpad(pc.cast(number, pa.string()), width=width, padding="0")
            shifted = pc.binary_join_element_wise(pa.scalar(prefix), digits, "")
            i = table.column_names.index(name)
            table = table.set_column(i, name, shifted)
        return table


def arrow_schema(schema: TableSchema, *, as_text_dates: bool = False) -> pa.Schema:
    """The Arrow schema of a contract table (dates as strings when writing CSV)."""
    fields = []
    for c in schema.columns:
        typ = c.type.arrow
        if as_text_dates and c.type in (ColumnType.DATE, ColumnType.MONTH, ColumnType.TIMESTAMP):
            typ = pa.string()
        fields.append(pa.field(c.name, typ))
    return pa.schema(fields)


def conform(table: pa.Table, name: str) -> pa.Table:
    """Columns in contract order and types; missing optional columns become nulls."""
    schema = arrow_schema(TABLES[name])
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, type=f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def dates_as_text(table: pa.Table, schema: TableSchema) -> pa.Table:
    """Dates as ``YYYY-MM-DD`` and timestamps as ``YYYY-MM-DD HH:MM:SS`` strings (for CSV)."""
    cols = []
    for c in schema.columns:
        col = table.column(c.name)
        if c.type in (ColumnType.DATE, ColumnType.MONTH):
            col = col.cast(pa.string())
        elif c.type == ColumnType.TIMESTAMP:
            col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=arrow_schema(schema, as_text_dates=True))


class TableSink:
    """Appends batches of one contract table to ``<dir>/<table>.parquet`` or ``.csv``.

    Keeps the number of data rows written so far (for the dirt manifest's row numbers).
    """

    def __init__(
        self,
        out_dir: Path,
        name: str,
        *,
        fmt: Literal["parquet", "csv"],
        encoding: Literal["utf-8", "gbk"] = "utf-8",
        row_group_size: int = 1 << 20,
        shift: IdShift | None = None,
    ) -> None:
        self.name = name
        self.shift = shift or IdShift()
        self.fmt = fmt
        self.encoding = encoding
        self.schema = TABLES[name]
        self.rows = 0
        self.path = out_dir / f"{name}.{fmt}"
        self._row_group_size = row_group_size
        self._pq: pq.ParquetWriter | None = None
        self._csv = None
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(
                self.path, arrow_schema(self.schema), compression="zstd", write_statistics=True
            )
        else:
            self._csv = self.path.open("wb")
            header = ",".join(self.schema.column_names) + "\n"
            self._csv.write(header.encode(encoding))

    @property
    def text_dates(self) -> bool:
        return self.fmt == "csv"

    def prepare(self, table: pa.Table) -> pa.Table:
        """Conform ``table`` to the contract (ids renumbered for a chunk), text dates for CSV."""
        table = self.shift.apply(conform(table, self.name))
        return dates_as_text(table, self.schema) if self.text_dates else table

    def write(self, table: pa.Table) -> None:
        """Append a prepared batch."""
        if table.num_rows == 0:
            return
        if self._pq is not None:
            self._pq.write_table(table, row_group_size=self._row_group_size)
        else:
            assert self._csv is not None
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=False))
            data = buf.getvalue().to_pybytes()
            if self.encoding != "utf-8":
                data = data.decode("utf-8").encode(self.encoding)
            self._csv.write(data)
        self.rows += table.num_rows

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None

    def __enter__(self) -> TableSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
