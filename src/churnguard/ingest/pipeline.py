"""One batch, end to end: find files, check their shape, stage, validate, quarantine, merge.

Everything that can refuse the batch (missing folder, unknown file, missing
required column, undecodable text) runs before the first write. The writes of
all tables, the quarantine and the batch record then happen in one DuckDB
transaction: a batch is all or nothing, even if the process is killed.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..config import Settings
from ..contract import TABLES
from ..errors import InputError
from ..warehouse.analytical import connect, raw, table_exists, transaction
from .mapping import load_mapping
from .merge import merge
from .quarantine import write_quarantine
from .readers import Header, StagedFile, quote_ident, read_header, stage, unstage
from .report import FileRecord, IngestReport, TableReport
from .schema_check import ColumnPlan, plan_columns
from .sources import SourceFile, discover
from .store import BATCHES_TABLE, ensure_bookkeeping_tables, ensure_contract_table
from .validation import KNOWN_SUBSCRIBERS, check_table

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend

__all__ = ["Progress", "ingest"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
"""Called with a short event name as the batch advances (``"staged usage"``,
``"loaded usage"``, ``"committing"``, ``"committed"``): for progress bars."""


def _known_subscribers(
    con: duckdb.DuckDBPyConnection,
    staged: dict[str, StagedFile],
    plans: dict[str, ColumnPlan],
) -> None:
    """Subscriber ids known to the warehouse or named anywhere in this batch's subscribers."""
    parts: list[str] = []
    if table_exists(con, "subscribers"):
        parts.append("SELECT subscriber_id FROM subscribers")
    if "subscribers" in staged:
        src = staged["subscribers"]
        plan = plans["subscribers"]
        col = quote_ident(plan.contract["subscriber_id"])
        parts.append(f"SELECT NULLIF(trim(CAST({col} AS VARCHAR)), '') FROM {src.view}")
    if not parts:
        raise InputError(
            "no subscribers anywhere: this batch has no subscribers file and the warehouse "
            "has none yet; add subscribers.csv (or .parquet) to the batch"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {KNOWN_SUBSCRIBERS} AS SELECT DISTINCT subscriber_id "
        f"FROM ({' UNION ALL '.join(parts)}) t(subscriber_id) WHERE subscriber_id IS NOT NULL"
    )
    row = con.execute(f"SELECT count(*) FROM {KNOWN_SUBSCRIBERS}").fetchone()
    if not row or not row[0]:
        raise InputError(
            "no subscribers anywhere: the subscribers file has no subscriber_id values and "
            "the warehouse has none; fix subscribers.csv and retry"
        )


def ingest(
    source: Path,
    *,
    settings: Settings,
    encoding: str = "auto",
    mapping: Path | None = None,
    as_of: date | None = None,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Ingest a folder of ``<table>.csv|.parquet`` files into the workspace's warehouse.

    Parameters
    ----------
    source
        Folder with one file per contract table (``subscribers`` is needed in
        the batch or already in the warehouse).
    settings
        Workspace settings (the warehouse path; ``ingest.mapping`` is used when
        ``mapping`` is not given).
    encoding
        ``"auto"`` (UTF-8, else GBK), ``"utf-8"`` or ``"gbk"`` for CSV files.
    mapping
        Column mapping file (YAML/TOML) renaming source names onto the contract.
    as_of
        The batch's month; rows dated after it are ``future_date``. Default: the
        current calendar month (UTC).
    on_progress
        Called with an event name at each step.

    Returns
    -------
    IngestReport
        Per-table reconciliation; ``read = loaded + updated + unchanged + quarantined``.

    Raises
    ------
    NotFoundError, InputError, DataContractError
        Before anything is written, with what to do next.
    """
    started = datetime.now(UTC).replace(tzinfo=None)
    month = (as_of or started.date()).replace(day=1)
    if encoding not in ("auto", "utf-8", "gbk"):
        raise InputError(f"--encoding {encoding!r} is not supported; use auto, utf-8 or gbk")
    if mapping is None and settings.ingest.mapping:
        mapping = settings.workspace / settings.ingest.mapping
    column_mapping = load_mapping(mapping)
    found = discover(source, mapping=column_mapping)
    notify = on_progress or (lambda _event: None)
    batch_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    log.info("batch %s: %d files from %s", batch_id, len(found.files), source)

    backend = connect(settings)
    try:
        con = raw(backend)
        headers: list[tuple[SourceFile, Header]] = [
            (f, read_header(con, f, encoding=encoding)) for f in found.files
        ]
        plans = plan_columns(headers, mapping=column_mapping)
        with tempfile.TemporaryDirectory(prefix="churnguard-ingest-") as tmp:
            staged: dict[str, StagedFile] = {}
            for f, header in headers:
                staged[f.table] = stage(
                    con, f, header=header, tmp_dir=Path(tmp), encoding_requested=encoding
                )
                notify(f"staged {f.table}")
            _known_subscribers(con, staged, plans)
            report = _load(
                backend,
                staged,
                plans,
                batch=(batch_id, month, started, source, found.ignored),
                notify=notify,
            )
    finally:
        backend.disconnect()
    notify("committed")
    log.info("batch %s committed: %d rows read, %d quarantined", batch_id, report.read,
             report.quarantined)  # fmt: skip
    return report


def _load(
    backend: Backend,
    staged: dict[str, StagedFile],
    plans: dict[str, ColumnPlan],
    *,
    batch: tuple[str, date, datetime, Path, tuple[str, ...]],
    notify: Progress,
) -> IngestReport:
    """The writing half of a batch, in one transaction."""
    batch_id, month, started, source, ignored = batch
    tables: dict[str, TableReport] = {}
    files: list[FileRecord] = []
    with transaction(backend) as tx:
        ensure_bookkeeping_tables(tx)
        now = datetime.now(UTC).replace(tzinfo=None)
        for name, st in staged.items():
            plan = plans[name]
            schema = TABLES[name]
            checked = check_table(tx, st, schema=schema, plan=plan, as_of=month)
            notify(f"validated {name}")
            q = write_quarantine(
                tx, st, rejected=checked.rejected, plan=plan, batch_id=batch_id, now=now
            )
            ensure_contract_table(tx, schema, extras=plan.extras)
            counts = merge(tx, checked, schema=schema, batch_id=batch_id)
            tables[name] = TableReport(
                table=name,
                read=st.rows + st.rejected,
                loaded=counts.loaded,
                updated=counts.updated,
                unchanged=counts.unchanged,
                quarantined=q.quarantined,
                reasons=q.reasons,
                new_quarantine_entries=q.new_entries,
                ignored_columns=plan.ignored,
                extra_columns=plan.extras,
            )
            files.append(
                FileRecord(
                    table=name,
                    file=st.source.path.name,
                    sha256=st.fingerprint.sha256,
                    size=st.fingerprint.size,
                    format=st.source.format.value,
                    encoding=st.header.encoding,
                    rows=st.rows + st.rejected,
                )
            )
            tx.execute(f"DROP TABLE {checked.rejected}; DROP VIEW {checked.typed}")
            unstage(tx, st)
            notify(f"loaded {name}")
        finished = datetime.now(UTC).replace(tzinfo=None)
        report = IngestReport(
            batch_id=batch_id,
            source=str(source),
            as_of=month,
            started_at=started,
            finished_at=finished,
            tables=tables,
            files=tuple(files),
            ignored_files=ignored,
        )
        tx.execute(
            f"INSERT INTO {BATCHES_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, 'committed')",
            [
                batch_id,
                started,
                finished,
                month,
                str(source),
                json.dumps([f.to_dict() for f in files], ensure_ascii=False),
                json.dumps(report.to_dict(), ensure_ascii=False),
            ],
        )
        notify("committing")
    return report
