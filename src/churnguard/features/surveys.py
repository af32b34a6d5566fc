"""Survey indicators: the last satisfaction (CSAT) and recommendation (NPS) scores."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "surveys_frame"]

_C = ReasonCategory.SERVICE_COMPLAINTS


def surveys_frame(src: Sources, asof: AsOf, population: ir.Table) -> ir.Table:
    """Survey answers given before the end of M."""
    s = src["surveys"]
    return s.filter(s.surveyed_at < asof.next_start)


def _csat_last(t: ir.Table, a: AsOf) -> ir.Value:
    return t.csat.cast("float64").argmax(t.surveyed_at, where=t.csat.notnull())


def _nps_last(t: ir.Table, a: AsOf) -> ir.Value:
    return t.nps.cast("float64").argmax(t.surveyed_at, where=t.nps.notnull())


def _csat_mean(t: ir.Table, a: AsOf) -> ir.Value:
    return t.csat.cast("float64").mean()


def _days_since(t: ir.Table, a: AsOf) -> ir.Value:
    return a.days_before_end(t.surveyed_at.max())


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="csat_last",
        family="surveys",
        category=_C,
        unit="1-5",
        expr=_csat_last,
        risk_direction=-1,
        en="Last satisfaction score (CSAT, 1-5)",
        zh="最近一次满意度评分（1–5）",
        reason_en="last satisfaction score {value}/5",
        reason_zh="最近满意度评分仅 {value} 分（满分5分）",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="nps_last",
        family="surveys",
        category=_C,
        unit="0-10",
        expr=_nps_last,
        risk_direction=-1,
        en="Last likelihood-to-recommend score (NPS, 0-10)",
        zh="最近一次推荐意愿评分（NPS，0–10）",
        reason_en="last recommendation score {value}/10",
        reason_zh="最近推荐意愿评分仅 {value} 分（满分10分）",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="csat_mean",
        family="surveys",
        category=_C,
        unit="1-5",
        expr=_csat_mean,
        risk_direction=-1,
        en="Average satisfaction score over all surveys",
        zh="历次满意度评分均值",
        reason_en="satisfaction averages {value}/5",
        reason_zh="满意度评分均值仅 {value} 分",
    ),
    FeatureDef(
        name="days_since_survey",
        family="surveys",
        category=_C,
        unit="days",
        expr=_days_since,
        risk_direction=0,
        en="Days from the last survey answer to the end of the as-of month",
        zh="距最近一次满意度调查的天数",
    ),
)

FAMILY = Family(name="surveys", frame="surveys", build=surveys_frame, features=FEATURES)
