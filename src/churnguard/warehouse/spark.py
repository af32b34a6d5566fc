"""Local PySpark through Ibis: the same expressions as on DuckDB, at operators' scale.

PySpark is optional (``pip install 'churnguard[spark]'``) and needs Java 17;
both are checked when a session is first asked for, with the fix in the
message. The session is configured for a small machine: loopback only, few
shuffle partitions, no console progress bar, UTC session time zone (so that
timestamp arithmetic matches DuckDB's).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

from ..errors import StateError

if TYPE_CHECKING:
    from ibis.backends.pyspark import Backend

__all__ = ["SparkUnavailable", "connect", "session"]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'churnguard[spark]' (PySpark >=3.5,<4.1)"
JAVA_HINT = "install Java 17 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"


class SparkUnavailable(StateError):
    """PySpark or Java is missing, or the local Spark session failed to start."""


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise SparkUnavailable(f"Spark needs Java, which was not found; {JAVA_HINT}")


def _submitted() -> bool:
    """Running under spark-submit (or pyspark shell): the launcher set the master already."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_MASTER" in os.environ


def session(*, partitions: int = 4, driver_memory: str = "4g", cores: int | None = None) -> Any:
    """The Spark session: the active one (spark-submit, Databricks), else a local one.

    Under ``spark-submit`` or on Databricks the session and its configuration
    (master, executors, memory) come from the launcher and the arguments below
    are ignored; otherwise a local session is created on first use, then reused.

    Parameters
    ----------
    partitions
        ``spark.sql.shuffle.partitions``; small on one machine.
    driver_memory
        Driver JVM heap (local mode runs everything in the driver); only
        effective when the JVM is not yet running.
    cores
        Local worker threads (default: all cores).

    Raises
    ------
    SparkUnavailable
        PySpark or Java is missing, or the session could not start.
    """
    try:
        from pyspark.sql import SparkSession  # noqa: TID251 - the one lazy import point
    except ImportError:
        raise SparkUnavailable(f"PySpark is not installed; {INSTALL_HINT}") from None
    if _submitted():
        # spark-submit made the session's configuration (master, executors): use it as is
        return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    _check_java()
    active = SparkSession.getActiveSession()
    if active is not None:  # Databricks, a notebook, or an earlier call
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers (mapInPandas scoring) must run this interpreter, where churnguard is
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    master = f"local[{cores}]" if cores else "local[*]"
    log.info("starting local Spark session (%s)", master)
    try:
        spark = (
            SparkSession.builder.master(master)
            .appName("churnguard")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .config("spark.default.parallelism", str(partitions))
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", driver_memory)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
    except Exception as exc:  # the JVM gateway raises plain exceptions
        raise SparkUnavailable(
            f"the local Spark session did not start ({type(exc).__name__}: {exc}); "
            f"check Java 17 ({JAVA_HINT}) and PySpark ({INSTALL_HINT})"
        ) from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def connect(spark_session: Any | None = None) -> Backend:
    """An Ibis PySpark backend on ``spark_session`` (default: :func:`session`)."""
    import ibis

    backend: Backend = ibis.pyspark.connect(spark_session or session())
    return backend
