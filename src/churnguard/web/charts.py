"""Chart specifications for plotly.js (``{"data": [...], "layout": {...}}``), built from views.

Plain JSON-ready dicts: the page embeds them and ``dashboard.js`` draws them with
the plotly.js bundle served offline from the ``plotly`` package. Colours follow the
warning levels (红色/橙色/黄色).
"""

from __future__ import annotations

from typing import Any

from .i18n import Translator

__all__ = [
    "LEVEL_COLOURS",
    "bar_chart",
    "calibration_chart",
    "funnel_chart",
    "gain_chart",
    "heatmap_chart",
    "line_chart",
    "psi_chart",
    "uplift_chart",
]

Spec = dict[str, Any]

LEVEL_COLOURS = {"red": "#d62728", "orange": "#ff7f0e", "yellow": "#e6c200"}
# legends inside the plot where the curves leave room (axis titles sit below)
_INSIDE_BOTTOM_RIGHT = {"x": 0.98, "xanchor": "right", "y": 0.04, "yanchor": "bottom"}
_INSIDE_TOP_LEFT = {"x": 0.02, "xanchor": "left", "y": 0.98, "yanchor": "top"}
_FONT = {"family": "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, sans-serif", "size": 12}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "font": _FONT,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "height": 300,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
    }
    layout.update(extra)
    return layout


def line_chart(
    title: str,
    x: list[Any],
    series: dict[str, list[Any]],
    *,
    percent: bool = False,
    right: tuple[str, ...] = (),
) -> Spec:
    """Lines over months: ``series`` maps a legend name to its values; the series named in
    ``right`` use a second y axis on the right (values of another scale)."""
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": name,
            "x": x,
            "y": ys,
            **({"yaxis": "y2"} if name in right else {}),
        }
        for name, ys in series.items()
    ]
    yaxis: dict[str, Any] = {"rangemode": "tozero"}
    if percent:
        yaxis["tickformat"] = ".1%"
    extra: dict[str, Any] = {}
    if any(name in right for name in series):
        extra["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero"}
        extra["margin"] = {"l": 60, "r": 60, "t": 40, "b": 50}
    return {
        "data": data,
        "layout": _layout(title, yaxis=yaxis, xaxis={"type": "category"}, **extra),
    }


def bar_chart(
    title: str, labels: list[str], values: list[float], *, colours: list[str] | None = None
) -> Spec:
    """One bar per label."""
    bar: dict[str, Any] = {"type": "bar", "x": labels, "y": values, "text": values}
    if colours:
        bar["marker"] = {"color": colours}
    return {"data": [bar], "layout": _layout(title, showlegend=False)}


def heatmap_chart(title: str, cells: list[dict[str, Any]], t: Translator) -> Spec:
    """Value tier × warning level counts (``{"value_tier", "level", "warnings"}``)."""
    tiers = ["high", "medium", "low"]
    levels = ["red", "orange", "yellow"]
    z = [[0 for _ in levels] for _ in tiers]
    for c in cells:
        if c["value_tier"] in tiers and c["level"] in levels:
            z[tiers.index(c["value_tier"])][levels.index(c["level"])] += int(c["warnings"])
    data = [
        {
            "type": "heatmap",
            "x": [t.label("level", lv) for lv in levels],
            "y": [t.label("tier", tr) for tr in tiers],
            "z": z,
            "text": z,
            "texttemplate": "%{text}",
            "colorscale": "Reds",
            "hoverongaps": False,
        }
    ]
    return {
        "data": data,
        "layout": _layout(
            title,
            yaxis={"autorange": "reversed"},
            xaxis={"tickangle": 0},
            margin={"l": 110, "r": 20, "t": 40, "b": 50},
        ),
    }


def funnel_chart(title: str, stages: list[tuple[str, int]]) -> Spec:
    """Contacted → reached → accepted → retained."""
    data = [
        {
            "type": "funnel",
            "y": [s for s, _ in stages],
            "x": [n for _, n in stages],
            "textinfo": "value+percent initial",
        }
    ]
    return {"data": data, "layout": _layout(title, margin={"l": 90, "r": 20, "t": 40, "b": 30})}


def uplift_chart(
    title: str,
    *,
    labels: tuple[str, str, str],
    treated: float,
    control: float,
    diff: float,
    ci: tuple[float, float],
) -> Spec:
    """Retention of treatment and control, and their difference with its 95 % interval."""
    data = [
        {
            "type": "bar",
            "x": [labels[0], labels[1]],
            "y": [treated, control],
            "marker": {"color": ["#1f77b4", "#7f7f7f"]},
            "name": "",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [labels[2]],
            "y": [diff],
            "marker": {"size": 12, "color": "#2ca02c"},
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [ci[1] - diff],
                "arrayminus": [diff - ci[0]],
            },
            "name": "",
        },
    ]
    return {
        "data": data,
        "layout": _layout(title, showlegend=False, yaxis={"tickformat": ".0%"}),
    }


def gain_chart(title: str, models: dict[str, dict[str, float]], t: Translator) -> Spec:
    """Cumulative gain from the stored capture rates at 5 % and 10 % (and 0, 100 %)."""
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": t("models.random"),
            "x": [0, 1],
            "y": [0, 1],
            "line": {"dash": "dot", "color": "#999"},
        }
    ]
    for name, m in models.items():
        xs, ys = [0.0], [0.0]
        for k in (5, 10):
            if m.get(f"capture_{k}") is not None:
                xs.append(k / 100)
                ys.append(float(m[f"capture_{k}"]))
        xs.append(1.0)
        ys.append(1.0)
        data.append({"type": "scatter", "mode": "lines+markers", "name": name, "x": xs, "y": ys})
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={"title": {"text": t("models.share")}, "tickformat": ".0%"},
            yaxis={"title": {"text": t("models.captured")}, "tickformat": ".0%"},
            legend=_INSIDE_BOTTOM_RIGHT,
        ),
    }


def calibration_chart(title: str, bins: list[dict[str, float]], t: Translator) -> Spec:
    """Observed churn rate against the mean predicted probability, per bin."""
    top = max([b["predicted"] for b in bins] + [b["observed"] for b in bins] + [0.01])
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": t("models.ideal"),
            "x": [0, top],
            "y": [0, top],
            "line": {"dash": "dot", "color": "#999"},
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": t("models.observed"),
            "x": [b["predicted"] for b in bins],
            "y": [b["observed"] for b in bins],
            "text": [f"n={int(b['n'])}" for b in bins],
        },
    ]
    return {
        "data": data,
        "layout": _layout(
            title,
            xaxis={"title": {"text": t("models.predicted")}, "tickformat": ".0%"},
            yaxis={"title": {"text": t("models.observed")}, "tickformat": ".0%"},
            legend=_INSIDE_TOP_LEFT,
        ),
    }


def psi_chart(
    title: str, months: list[str], values: list[float], *, limit: float, t: Translator
) -> Spec:
    """Score PSI per scored month, with the retraining limit."""
    data = [
        {"type": "bar", "x": months, "y": values, "name": "PSI"},
        {
            "type": "scatter",
            "mode": "lines",
            "x": months,
            "y": [limit] * len(months),
            "name": t("models.psi_limit", limit=limit),
            "line": {"dash": "dash", "color": LEVEL_COLOURS["red"]},
        },
    ]
    return {"data": data, "layout": _layout(title, xaxis={"type": "category"})}
