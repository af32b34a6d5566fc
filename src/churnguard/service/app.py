"""The FastAPI application: ``create_app(settings)`` wires routes, auth, errors and logging.

API under ``/api/v1`` (``/api/...`` is an alias of the latest version), OpenAPI
docs at ``/docs``, ``/health`` without authentication, ``/login`` and
``/logout`` for the web, the dashboard under ``/ui/`` (:mod:`churnguard.web`).
Machines send ``Authorization: Bearer KEY``; browsers use the signed session
cookie set by ``/login``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from .. import __version__
from ..warehouse.operational import open_operational
from .auth import LoginThrottle, SessionSigner, session_secret
from .handlers import install_handlers
from .middleware import LatestVersionAlias, RequestLog
from .scoring import ScoreCache

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["create_app"]

_DESCRIPTION = """
churnguard's REST API: churn risk of one subscriber, warnings (the worklist), the
customer 360 view, campaigns and contact outcomes, KPIs, the model registry and
the audit log. 客户流失预警与挽留服务接口。

Authenticate with `Authorization: Bearer KEY` (keys: `churnguard users create NAME
--role ROLE`) or with the session cookie of `POST /login`. Roles: admin, manager,
analyst, agent (agents see only the customers warned into their queues). Personal
data is masked unless the role is in `privacy.clear_text_roles`.
"""


def create_app(settings: Settings) -> FastAPI:
    """The service for one workspace (migrates the operational database on start)."""
    from .. import web
    from . import (
        routes_admin,
        routes_auth,
        routes_campaigns,
        routes_customers,
        routes_programs,
        routes_scores,
    )

    open_operational(settings)  # fail fast on a bad database URL; migrations run here
    app = FastAPI(
        title="churnguard",
        version=__version__,
        description=_DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.scores = ScoreCache(settings)
    app.state.signer = SessionSigner(session_secret(settings))
    app.state.login_throttle = LoginThrottle()
    install_handlers(app)
    for module in (
        routes_auth,
        routes_scores,
        routes_customers,
        routes_campaigns,
        routes_programs,
        routes_admin,
    ):
        app.include_router(module.router)
    app.include_router(web.router)  # the dashboard's pages under /ui/
    app.mount("/static", web.static_files(), name="static")
    app.add_middleware(LatestVersionAlias)
    app.add_middleware(RequestLog)
    return app
