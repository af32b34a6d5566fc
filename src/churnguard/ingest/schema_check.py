"""Schema drift: map each file's columns onto the contract, refuse the batch if it cannot be.

Runs on the headers only, for all files, before anything is written: a missing
required column (renamed or dropped upstream) stops the whole batch with the
column, the file and the source columns that look like it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from ..contract import TABLES
from ..errors import DataContractError
from .mapping import ColumnMapping, normalise_name
from .readers import Header
from .sources import SourceFile

__all__ = ["ColumnPlan", "plan_columns"]

RESERVED_PREFIX = "_"


@dataclass(frozen=True)
class ColumnPlan:
    """How a file's columns land in its contract table.

    Attributes
    ----------
    contract
        Contract column -> source column, for the contract columns the file has.
    extras
        Source columns outside the contract, kept as text under their own name.
    ignored
        Source columns starting with ``_`` (reserved for bookkeeping, e.g. the
        ``_reasons`` column of a quarantine export), not loaded.
    """

    table: str
    contract: dict[str, str]
    extras: tuple[str, ...]
    ignored: tuple[str, ...]

    @property
    def source_columns(self) -> tuple[str, ...]:
        """Every source column that is loaded (contract, then extras)."""
        return (*self.contract.values(), *self.extras)


def _plan_one(
    source: SourceFile, header: Header, mapping: ColumnMapping
) -> tuple[ColumnPlan, list[str]]:
    schema = TABLES[source.table]
    renames = mapping.renames(source.table)
    contract: dict[str, str] = {}
    extras: list[str] = []
    ignored: list[str] = []
    problems: list[str] = []
    for col in header.columns:
        key = normalise_name(col)
        target = renames.get(key) or (key if schema.has(key) else None)
        if target is None or not schema.has(target):
            (ignored if col.startswith(RESERVED_PREFIX) else extras).append(col)
            continue
        if target in contract:
            problems.append(
                f"{source.path.name}: columns '{contract[target]}' and '{col}' both map to "
                f"{source.table}.{target}; keep one or fix the mapping file"
            )
            continue
        contract[target] = col
    for col in schema.required_columns:
        if col in contract:
            continue
        near = difflib.get_close_matches(
            col, [normalise_name(c) for c in header.columns], n=3, cutoff=0.5
        )
        near_src = [c for c in header.columns if normalise_name(c) in near]
        hint = (
            f"; close matches in the file: {', '.join(near_src)} (rename the column, or map "
            f"it in a mapping file: columns: {{{source.table}: {{{near_src[0]}: {col}}}}})"
            if near_src
            else f"; the file has: {', '.join(header.columns)}"
        )
        problems.append(
            f"{source.path.name}: required column '{col}' of table {source.table} is missing" + hint
        )
    plan = ColumnPlan(source.table, contract, tuple(extras), tuple(ignored))
    return plan, problems


def plan_columns(
    headers: list[tuple[SourceFile, Header]], *, mapping: ColumnMapping
) -> dict[str, ColumnPlan]:
    """Plan every file of a batch; raise before any write if any cannot be loaded.

    Raises
    ------
    DataContractError
        Lists every missing required column (with file and close matches) and
        every pair of columns mapped onto the same contract column.
    """
    plans: dict[str, ColumnPlan] = {}
    problems: list[str] = []
    for source, header in headers:
        plan, found = _plan_one(source, header, mapping)
        plans[source.table] = plan
        problems.extend(found)
    if problems:
        raise DataContractError(
            "the batch was refused, nothing was written: " + "; ".join(problems)
        )
    return plans
