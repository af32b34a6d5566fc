"""The REST service: FastAPI app with users, API keys, roles, masking and an audit log."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
