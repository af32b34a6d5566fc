"""churnguard: churn early warning and retention for subscription operators."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
