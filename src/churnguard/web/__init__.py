"""The bilingual (zh-CN / English) web dashboard, served by ``churnguard serve``.

Server-rendered pages under ``/ui/`` over the service's own functions (same role
checks, queue scoping, masking and audit log as the REST API), charts drawn by
plotly.js served offline from the ``plotly`` package.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.staticfiles import StaticFiles

from .pages import router

__all__ = ["router", "static_files"]


def static_files() -> StaticFiles:
    """The dashboard's CSS and JS, to mount at ``/static``."""
    return StaticFiles(directory=Path(str(resources.files("churnguard.web") / "static")))
