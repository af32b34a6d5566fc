"""The operational database: SQLAlchemy 2 engine and sessions, schema kept by Alembic.

Small, transactional, many writers: the model registry, warnings, campaigns,
contacts, users and the audit log. SQLite (a file in the workspace) by default,
PostgreSQL in production; only types both support are used. Every stage
declares its tables on the one :class:`Base` and adds an Alembic revision
under ``churnguard/warehouse/migrations/versions``; :func:`open_operational`
brings the database to the latest revision before handing out an engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import MetaData, create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from ..errors import ConfigError, StateError

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Settings

__all__ = [
    "MIGRATIONS_DIR",
    "Base",
    "bulk_insert",
    "current_revision",
    "head_revision",
    "make_engine",
    "open_operational",
    "session_scope",
    "upgrade",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# Stable constraint names, so migrations can refer to them on every database.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every operational table (registry, warnings, campaigns, ...)."""

    metadata = MetaData(naming_convention=_NAMING)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")  # several CLI/API processes may write at once
    cur.execute("PRAGMA journal_mode=WAL")
    # up to 128 MB of page cache (allocated as used): a month's warnings insert index
    # entries all over the warnings indexes, ~16 % faster than with the 2 MB default
    cur.execute("PRAGMA cache_size=-131072")
    cur.close()


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url`` (SQLite gets foreign keys, WAL and a busy timeout)."""
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except (ImportError, ValueError, ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"cannot use the operational database URL ({type(exc).__name__}: {exc}); fix "
            "[operational] url in churnguard.toml (e.g. postgresql+psycopg://user@host/db)"
        ) from None


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    """The newest migration revision shipped with this churnguard."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(create_engine("sqlite://"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision (idempotent).

    Two processes may race to migrate a new database; the loser's DDL fails,
    and it is fine as long as the database is at the head afterwards.
    """
    from alembic import command

    head = head_revision()
    if current_revision(engine) == head:
        return
    try:
        command.upgrade(_alembic_config(engine), "head")
    except (OperationalError, ProgrammingError) as exc:
        if current_revision(engine) != head:
            raise StateError(
                f"migrating the operational database failed ({exc.orig}); "
                "check that no other version of churnguard uses it, then retry"
            ) from None
    log.info("operational database at revision %s", head)


_ENGINES: dict[str, Engine] = {}


def open_operational(settings: Settings, *, migrate: bool = True) -> Engine:
    """The engine of the workspace's operational database, migrated to the head revision.

    Engines are reused within a process (one pool per URL).

    Raises
    ------
    StateError
        The database cannot be reached or migrated.
    """
    url = settings.operational_url
    engine = _ENGINES.get(url)
    if engine is None:
        engine = make_engine(url)
        if migrate:
            try:
                upgrade(engine)
            except DBAPIError as exc:
                engine.dispose()
                raise StateError(
                    f"cannot open the operational database ({type(exc.orig).__name__}); "
                    "check [operational] url in churnguard.toml and that the server is up"
                ) from None
        _ENGINES[url] = engine
    return engine


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session in one transaction: committed at the end, rolled back on error."""
    factory = sessionmaker(bind=open_operational(settings), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def table_names(engine: Engine) -> list[str]:
    """Tables present in the database (for checks and diagnostics)."""
    return sorted(inspect(engine).get_table_names())


BULK_ROWS = 50_000


def bulk_insert(
    session: Session, table: sa.Table, frame: pd.DataFrame, *, rows: int = BULK_ROWS
) -> int:
    """Insert the rows of ``frame`` (columns named like ``table``'s), ``rows`` per executemany.

    Values are converted column by column (NA to ``None``, numpy scalars to Python,
    then the column type's own bind conversion for the dialect, e.g. dates to ISO
    text on SQLite) and handed to the driver as plain tuples (or dicts, for drivers
    with named parameters). It is what ``session.execute(insert(table), records)``
    does row by row, without building a dict per row: on 178 k warnings
    ~3x faster. The frame goes in slices of ``rows``, so only one slice is ever
    held as Python objects (2.9 M warnings as tuples took gigabytes). Runs in the
    session's transaction: all slices commit or none; returns the row count.
    """
    if frame.empty:
        return 0
    conn = session.connection()
    dialect = conn.dialect
    names = [str(c) for c in frame.columns]
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    compiled = sa.insert(table).compile(dialect=dialect, column_keys=names)
    procs = {n: table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names}
    for start in range(0, len(frame), max(int(rows), 1)):
        part = frame.iloc[start : start + rows]
        columns = {n: _bind_values(part[n], procs[n]) for n in names}
        if compiled.positional:
            order = [str(k) for k in compiled.positiontup or ()]
            params: list[Any] = list(zip(*(columns[k] for k in order), strict=True))
        else:
            keys = list(columns)
            params = [
                dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)
            ]
        conn.exec_driver_sql(compiled.string, params)
    return len(frame)


def _bind_values(series: pd.Series, proc: Callable[[Any], Any] | None) -> list[Any]:
    """One column as the driver's Python values: NA to ``None``, numpy scalars to Python."""
    import pandas as pd

    if proc is None and not pd.api.types.is_datetime64_any_dtype(series):
        values: list[Any] = series.astype(object).where(series.notna(), None).tolist()
        if any(isinstance(v, np.generic) for v in values[:1]):  # numpy scalars -> Python
            values = [v.item() if isinstance(v, np.generic) else v for v in values]
        return values
    # Once per distinct value: a run's dates, stamps and levels repeat on every row,
    # and turning 2.9 M datetime64 values into objects one by one took 18 s.
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    lookup = np.empty(len(uniques) + 1, dtype=object)  # last: NA -> None
    for i, u in enumerate(pd.Index(uniques).astype(object)):
        u = u.item() if isinstance(u, np.generic) else u
        lookup[i] = u if proc is None else proc(u)
    out: list[Any] = lookup[codes].tolist()
    return out
