"""The dashboard's pages (``/ui/...``), server-rendered from the service's own functions.

Every page calls the same functions the REST routes call, with the same
dependencies: the role checks of :func:`churnguard.service.deps.require`, the
queue scoping of :mod:`churnguard.service.access`, the masking of
:mod:`churnguard.service.masking` and the audit log. Where a route does more than
fetch (the customer 360 view audits clear-text reads; recording a contact outcome
checks the member's queue, records and audits) the page calls the route function
itself, so the browser and the API cannot drift apart.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from ..service import routes_campaigns, routes_customers
from ..service.auth import Principal
from ..service.deps import AnyRole, require, settings_of
from ..service.schemas import ContactResultIn
from ..service.scoring import split_reasons
from ..service.worklist import SORTS
from . import charts
from .i18n import LANG_COOKIE, LANGS, Translator
from .rendering import PageRoute, render, translator_for

__all__ = [
    "LEVELS",
    "MODEL_METRICS",
    "PAGE_SIZE",
    "RESULTS",
    "TEAM_DIMENSIONS",
    "TIERS",
    "router",
]

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PAGE_SIZE = 25
LEVELS = ("red", "orange", "yellow")
TIERS = ("high", "medium", "low")
RESULTS = ("reached", "accepted", "declined", "unreachable")
READERS = ("admin", "manager", "analyst")
Readers = Depends(require(*READERS))
Managers = Depends(require("admin", "manager"))
Recorders = Depends(require("admin", "manager", "agent"))


def _safe_next(value: str | None, default: str = "/ui/") -> str:
    # only paths on this site: no open redirects
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _one_of(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    value = _blank(value)
    if value is not None and value not in allowed:
        raise HTTPException(422, f"{name} must be one of {', '.join(allowed)}")
    return value


# -- frame: static files, language, sign-in ------------------------------------------------


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the ``plotly`` package (the machine may be offline: no CDN)."""
    path = FilePath(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    return FileResponse(
        path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/")
def root() -> Response:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/ui/lang")
def set_language(set: str, next: str | None = None) -> Response:
    """Switch the language (cookie ``cg_lang``, a year) and go back to the page."""
    if set not in LANGS:
        raise HTTPException(422, f"language must be one of {', '.join(LANGS)}")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, set, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.get("/ui/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next)})


# -- overview -------------------------------------------------------------------------------


def _latest(rows: list[dict[str, Any]], key: str) -> Any:
    for row in reversed(rows):
        if row.get(key) is not None:
            return row[key]
    return None


@router.get("/ui/")
def overview(request: Request, principal: Annotated[Principal, Depends(AnyRole)]) -> Response:
    t = translator_for(request)
    summary = routes_customers.warnings_summary(request, principal, status="open", as_of=None)
    by_level = summary["by_level"]
    context: dict[str, Any] = {
        "total": summary["total"],
        "red": by_level.get("red", 0),
        "readers": principal.role in READERS,
        "charts": {
            "levels": charts.bar_chart(
                t("overview.by_level"),
                [t.label("level", lv) for lv in LEVELS],
                [by_level.get(lv, 0) for lv in LEVELS],
                colours=[charts.LEVEL_COLOURS[lv] for lv in LEVELS],
            ),
            "heatmap": charts.heatmap_chart(
                t("overview.heatmap"), summary["value_tier_x_level"], t
            ),
        },
        "kpis": {},
    }
    if principal.role in READERS:
        # what GET /kpi reports (readers only, like the route); the label-based trends cached
        from ..retention.kpi import campaign_kpis
        from .kpis import TrendCache

        state = request.app.state
        if not hasattr(state, "web_trends"):
            state.web_trends = TrendCache()
        trends = state.web_trends.get(settings_of(request))
        rates = [r for r in trends["churn_rates"] if r["by"] == "all"]
        context["charts"]["trend"] = charts.line_chart(
            t("overview.churn_trend"),
            [r["as_of"] for r in rates],
            {t("overview.churn_rate"): [r["churn_rate"] for r in rates]},
            percent=True,
        )
        campaigns = campaign_kpis(settings_of(request))
        context["kpis"] = {
            "churn_rate": _latest(rates, "churn_rate"),
            "accuracy": _latest(trends["warning_accuracy"], "accuracy"),
            "retention": _latest(campaigns, "retention_rate_treated"),
            "roi": _latest(campaigns, "roi"),
        }
    return render(request, "overview.html", context, principal=principal)


# -- worklist -------------------------------------------------------------------------------


def _queues_for(request: Request, principal: Principal) -> list[str]:
    if principal.role == "agent":
        return list(principal.queues)
    summary = routes_customers.warnings_summary(request, principal, status="open", as_of=None)
    return sorted(summary["by_queue"])


def _rules(request: Request, t: Translator) -> list[tuple[str, str]]:
    from ..warnings.rules import load_rules

    rules = load_rules(workspace=settings_of(request).workspace).all
    out = []
    for r in rules:
        title = t.pick(r.title_zh, r.title_en).replace("{value}", "…")
        out.append((r.code, f"{r.code} {title}"))
    return out


@router.get("/ui/worklist")
def worklist(
    request: Request,
    principal: Annotated[Principal, Depends(AnyRole)],
    level: str | None = None,
    queue: Annotated[str | None, Query(max_length=64)] = None,
    reason: Annotated[str | None, Query(max_length=8)] = None,
    tier: str | None = None,
    sort: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    t = translator_for(request)
    rules = _rules(request, t)
    filters: dict[str, Any] = {
        "level": _one_of(level, LEVELS, "level"),
        "queue": _blank(queue),
        "reason": _one_of(reason, tuple(code for code, _ in rules), "reason"),
        "tier": _one_of(tier, TIERS, "tier"),
        "sort": _one_of(sort, SORTS, "sort") or "urgency",
    }
    result = routes_customers.list_warnings(
        request,
        principal,
        level=filters["level"],
        queue=filters["queue"],
        segment=None,
        value_tier=filters["tier"],
        reason=filters["reason"],
        category=None,
        churn_type=None,
        raised_from=None,
        raised_to=None,
        as_of=None,
        status="open",
        sort=filters["sort"],
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    pages = max(1, math.ceil(result.total / PAGE_SIZE))
    rows = []
    for w in result.items:
        reasons = split_reasons(w[t.pick("reasons_zh", "reasons_en")], t.pick("zh", "en"))
        rows.append({**w, "reasons": reasons[:2]})
    query = {k: v for k, v in filters.items() if v and not (k == "sort" and v == "urgency")}
    return render(
        request,
        "worklist.html",
        {
            "rows": rows,
            "total": result.total,
            "page": page,
            "pages": pages,
            "filters": filters,
            "query": query,
            "queues": _queues_for(request, principal),
            "rules": rules,
            "levels": LEVELS,
            "tiers": TIERS,
            "sorts": SORTS,
        },
        principal=principal,
    )


# -- customer 360 ---------------------------------------------------------------------------


@router.get("/ui/customers/{subscriber_id}")
def customer(
    subscriber_id: Annotated[str, Path(max_length=64)],
    request: Request,
    principal: Annotated[Principal, Depends(AnyRole)],
    saved: int = 0,
) -> Response:
    from ..service.masking import sees_clear_text

    t = translator_for(request)
    # the route itself: queue check for agents, masking, clear-text reads audited
    view = routes_customers.customer(subscriber_id, request, principal)
    trend = view["trend"]
    months = [r["month"] for r in trend]

    def series(*cols: tuple[str, str]) -> dict[str, list[Any]]:
        return {
            t(key): [r.get(col) for r in trend] for col, key in cols if trend and col in trend[0]
        }

    score = view["score"] or {}
    top = view["warnings"][0] if view["warnings"] else None
    reasons = score.get(t.pick("reasons_zh", "reasons_en")) or []
    if not reasons and top is not None:
        reasons = split_reasons(top[t.pick("reasons_zh", "reasons_en")], t.pick("zh", "en"))
    treated = [c for c in view["contacts"]["campaigns"] if c["arm"] == "treatment"]
    return render(
        request,
        "customer.html",
        {
            "v": view,
            "profile": view["profile"],
            "score": score,
            "top": top,
            "reasons": reasons,
            "offer": view["recommended_offer"],
            "treated": treated,
            "results": RESULTS,
            "can_record": principal.role in ("admin", "manager", "agent"),
            "clear": sees_clear_text(principal, settings_of(request)),
            "saved": bool(saved),
            "charts": {
                "usage": charts.line_chart(
                    t("customer.usage_trend"),
                    months,
                    series(
                        ("voice_minutes", "customer.voice"),
                        ("data_mb", "customer.data"),
                        ("sms", "customer.sms"),
                    ),
                    right=(t("customer.data"),),
                ),
                "bills": charts.line_chart(
                    t("customer.bill_trend"),
                    months,
                    series(
                        ("amount_due", "customer.amount_due"),
                        ("amount_paid", "customer.amount_paid"),
                        ("arrears_balance", "customer.arrears"),
                    ),
                ),
            },
        },
        principal=principal,
    )


@router.post("/ui/customers/{subscriber_id}/contact")
def record_contact(
    subscriber_id: Annotated[str, Path(max_length=64)],
    request: Request,
    principal: Annotated[Principal, Recorders],
    campaign_id: Annotated[int, Form(ge=1)],
    result: Annotated[str, Form(max_length=16)],
    note: Annotated[str | None, Form(max_length=1000)] = None,
) -> Response:
    """Record a contact outcome through the API's own route (queue check, record, audit)."""
    body = ContactResultIn(subscriber_id=subscriber_id, result=result, note=_blank(note))  # type: ignore[arg-type]
    routes_campaigns.record(campaign_id, body, request, principal)
    return RedirectResponse(f"/ui/customers/{subscriber_id}?saved=1", status_code=303)


# -- campaigns ------------------------------------------------------------------------------


@router.get("/ui/campaigns")
def campaigns(request: Request, principal: Annotated[Principal, Depends(AnyRole)]) -> Response:
    from ..retention.kpi import campaign_kpis

    rows = routes_campaigns.campaigns(request, principal)
    kpis: dict[int, dict[str, Any]] = {}
    if principal.role in READERS:
        # the function behind GET /kpi's campaign rows (readers only, like the route)
        kpis = {int(k["campaign_id"]): k for k in campaign_kpis(settings_of(request))}
    return render(
        request,
        "campaigns.html",
        {"rows": rows, "kpis": kpis, "readers": principal.role in READERS},
        principal=principal,
    )


@router.get("/ui/campaigns/{campaign_id}")
def campaign(
    campaign_id: int, request: Request, principal: Annotated[Principal, Depends(AnyRole)]
) -> Response:
    t = translator_for(request)
    view = routes_campaigns.campaign(campaign_id, request, principal)
    kpi: dict[str, Any] | None = None
    chart_specs: dict[str, Any] = {}
    if principal.role in READERS:
        kpi = routes_campaigns.campaign_kpi(campaign_id, request, principal)["campaigns"][0]
        winback = kpi.get("purpose") == "winback"
        results = view["results"]
        last = (
            ("returned", "campaigns.funnel.returned")
            if winback
            else (
                "retained",
                "campaigns.funnel.retained",
            )
        )
        stages = [
            (t("campaigns.funnel.contacted"), int(kpi["contacted"])),
            (
                t("campaigns.funnel.reached"),
                sum(results.get(r, 0) for r in ("reached", "accepted", "declined")),
            ),
            (t("campaigns.funnel.accepted"), results.get("accepted", 0)),
            (t(last[1]), view["outcomes"].get(f"treatment:{last[0]}", 0)),
        ]
        chart_specs["funnel"] = charts.funnel_chart(t("campaigns.funnel"), stages)
        kind = "winback" if winback else "retention"
        if kpi.get(f"incremental_{kind}") is not None:
            lo, hi = kpi["incremental_ci95"]
            suffix = "_winback" if winback else ""
            chart_specs["uplift"] = charts.uplift_chart(
                t("campaigns.uplift.winback" if winback else "campaigns.uplift"),
                labels=(
                    t(f"campaigns.uplift.treated{suffix}"),
                    t(f"campaigns.uplift.control{suffix}"),
                    t(f"campaigns.uplift.increment{suffix}"),
                ),
                treated=kpi[f"{kind}_rate_treated"],
                control=kpi[f"{kind}_rate_control"],
                diff=kpi[f"incremental_{kind}"],
                ci=(lo, hi),
            )
    return render(
        request,
        "campaign.html",
        {
            "v": view,
            "kpi": kpi,
            "winback": bool(kpi and kpi.get("purpose") == "winback"),
            "charts": chart_specs,
            "members": view["members"][:50],
            "offers": _offer_names(request, t),
        },
        principal=principal,
    )


def _offer_names(request: Request, t: Translator) -> dict[str, str]:
    from ..retention.catalog import load_catalog

    catalog = load_catalog(workspace=settings_of(request).workspace)
    return {o.code: t.pick(o.name_zh, o.name_en) for o in catalog.offers}


# -- models ---------------------------------------------------------------------------------

MODEL_METRICS = (
    "roc_auc",
    "pr_auc",
    "lift_5",
    "lift_10",
    "capture_5",
    "capture_10",
    "precision",
    "recall",
    "brier",
    "ece",
    "emp",
)


@router.get("/ui/models")
def models(request: Request, principal: Annotated[Principal, Readers]) -> Response:
    from ..service.deps import scores_of
    from ..service.routes_admin import models as list_models
    from .diagnostics import calibration_bins, score_drift

    t = translator_for(request)
    settings = settings_of(request)
    rows = list_models(request, principal, status=None)
    chart_specs: dict[str, Any] = {}
    calibration_month = None
    if rows:
        chart_specs["gain"] = charts.gain_chart(
            t("models.lift"), {r["version"]: r["metrics"] for r in rows}, t
        )
        champ = next((r for r in rows if r["status"] == "champion"), None)
        if champ is not None:
            _row, model = scores_of(request).champion()
            reference = model.meta.get("reference", {}).get("score")
            drift = score_drift(settings, version=champ["version"], reference=reference)
            if drift:
                chart_specs["psi"] = charts.psi_chart(
                    t("models.drift"),
                    [m for m, _ in drift],
                    [v for _, v in drift],
                    limit=settings.models.psi_limit,
                    t=t,
                )
            calib = calibration_bins(settings, version=champ["version"])
            if calib is not None:
                calibration_month, bins = calib
                chart_specs["calibration"] = charts.calibration_chart(
                    t("models.calibration", month=calibration_month), bins, t
                )
    return render(
        request,
        "models.html",
        {"rows": rows, "metrics": MODEL_METRICS, "charts": chart_specs},
        principal=principal,
    )


# -- team performance -----------------------------------------------------------------------

TEAM_DIMENSIONS = ("team", "queue", "region", "agent")


@router.get("/ui/teams")
def teams(
    request: Request,
    principal: Annotated[Principal, Readers],
    by: Annotated[str, Query(max_length=16)] = "team",
) -> Response:
    """Team performance: the table of GET /api/v1/kpi/teams, with the same role check."""
    from ..service.routes_programs import team_kpi

    t = translator_for(request)
    chosen = _one_of(by, TEAM_DIMENSIONS, "by") or "team"
    rows = team_kpi(request, principal, by=chosen, months=3)["rows"]  # type: ignore[arg-type]
    chart = None
    shown = [r for r in rows if r.get("worked_within_deadline_rate") is not None]
    if shown:
        chart = charts.bar_chart(
            t("teams.chart"),
            [str(r[chosen]) for r in shown],
            [round(float(r["worked_within_deadline_rate"]), 3) for r in shown],
        )
    return render(
        request,
        "teams.html",
        {"rows": rows, "by": chosen, "dims": TEAM_DIMENSIONS, "chart": chart},
        principal=principal,
    )


# -- audit log ------------------------------------------------------------------------------


@router.get("/ui/audit")
def audit_page(
    request: Request,
    principal: Annotated[Principal, Managers],
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=48)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    from ..service.audit import ACTIONS
    from ..service.routes_admin import audit_log

    filters = {"actor": _blank(actor), "action": _one_of(action, ACTIONS, "action")}
    result = audit_log(
        request,
        principal,
        actor=filters["actor"],
        action=filters["action"],
        target=None,
        since=None,
        until=None,
        limit=PAGE_SIZE * 2,
        offset=(page - 1) * PAGE_SIZE * 2,
    )
    pages = max(1, math.ceil(result.total / (PAGE_SIZE * 2)))
    return render(
        request,
        "audit.html",
        {
            "rows": result.items,
            "total": result.total,
            "page": page,
            "pages": pages,
            "filters": filters,
            "query": {k: v for k, v in filters.items() if v},
            "actions": ACTIONS,
        },
        principal=principal,
    )
