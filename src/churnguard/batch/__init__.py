"""The monthly batch in one call, on DuckDB (one machine) or Spark (where the data lives).

``run_batch(settings, as_of=..., engine="spark", source="catalog:telco")`` builds
the snapshot, scores it with the registered champion, computes customer value
and the rules, grades the warnings, writes scores and warnings back as tables
and syncs the warnings into the operational database.
"""

from __future__ import annotations

from .run import ENGINES, BatchResult, run_batch
from .sources import Location, parse_location

__all__ = ["ENGINES", "BatchResult", "Location", "parse_location", "run_batch"]
