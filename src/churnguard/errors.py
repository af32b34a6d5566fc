"""The exception root of churnguard.

Errors are raised deep in the stages and translated to exit codes (CLI) or HTTP
codes (API) only at the edges. Each error class also subclasses the matching
builtin, so callers can catch either.
"""

from __future__ import annotations

__all__ = [
    "ChurnguardError",
    "ConfigError",
    "DataContractError",
    "InputError",
    "NotFoundError",
    "StateError",
]


class ChurnguardError(Exception):
    """Root of every error churnguard raises on purpose.

    The message is written for the person running the command: it says what
    went wrong and what to do next.
    """


class InputError(ChurnguardError, ValueError):
    """Bad input from the user: an argument, a file, a value."""


class ConfigError(InputError):
    """The workspace configuration is missing or invalid."""


class DataContractError(InputError):
    """Source data does not follow the data contract (and cannot be loaded)."""


class NotFoundError(ChurnguardError, LookupError):
    """A file, table, workspace or object that was asked for does not exist."""


class StateError(ChurnguardError, RuntimeError):
    """The workspace is not in a state that allows the operation (e.g. no data yet)."""
