"""The synthetic operator: contract tables with a known truth, for demos, tests and benchmarks.

``simulate`` builds a believable operator (mobile, broadband, cable TV) and writes
its tables plus the ground truth under ``truth/``; ``step`` moves a simulated
world one month forward with a set of retention treatments applied.
"""

from __future__ import annotations

from .catalog import OFFER_TYPES
from .runner import DEFAULT_MIX, SimulationSummary, simulate, validate_mix
from .stepping import StepSummary, step

__all__ = [
    "DEFAULT_MIX",
    "OFFER_TYPES",
    "SimulationSummary",
    "StepSummary",
    "simulate",
    "step",
    "validate_mix",
]
