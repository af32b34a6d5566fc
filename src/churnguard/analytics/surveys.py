"""Satisfaction surveys: CSAT and NPS by segment, and how they relate to churn.

A survey answered in month M is matched with the customer's voluntary churn
label of the snapshot at M (did they leave in the horizon after M?). NPS is the
share of promoters (9–10) minus the share of detractors (0–6), in points.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..months import add_months
from .population import DEFAULT_MONTHS, Window, data_window, duck, labelled_frame, table_names
from .texts import Bi, label

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["NPS_GROUPS", "SurveyResult", "nps", "nps_group", "survey_analysis", "surveys_from"]

NPS_GROUPS = {
    "detractor": Bi("贬损者（0–6）", "detractors (0–6)"),
    "passive": Bi("中立者（7–8）", "passives (7–8)"),
    "promoter": Bi("推荐者（9–10）", "promoters (9–10)"),
}
SEGMENTS = ("service_type", "customer_type", "payment_type")


def nps_group(score: pd.Series) -> pd.Series:
    """``detractor`` / ``passive`` / ``promoter`` of each 0–10 score (NA stays NA)."""
    s = pd.to_numeric(score, errors="coerce")
    out = pd.Series(pd.NA, index=s.index, dtype="string")
    out = (
        out.mask(s <= 6, "detractor").mask((s >= 7) & (s <= 8), "passive").mask(s >= 9, "promoter")
    )
    return out


def nps(score: pd.Series) -> float | None:
    """Net promoter score in points (−100..100) of the non-missing scores."""
    s = pd.to_numeric(score, errors="coerce").dropna()
    if s.empty:
        return None
    return float(100 * ((s >= 9).mean() - (s <= 6).mean()))


@dataclass(frozen=True)
class SurveyResult:
    """CSAT/NPS by segment, churn by CSAT score and NPS group."""

    window: str
    responses: int
    matched: int  # responses matched with a churn label
    csat_mean: float | None
    nps: float | None
    by_segment: list[dict[str, Any]]
    churn_by_csat: list[dict[str, Any]]
    churn_by_nps: list[dict[str, Any]]
    detractor_vs_promoter: float | None  # churn rate ratio

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def surveys_from(answers: pd.DataFrame, *, window: str = "") -> SurveyResult:
    """The analysis of ``answers`` (``csat``, ``nps``, ``label`` (may be NA), segment columns)."""
    by_segment = []
    for seg in SEGMENTS:
        if seg not in answers.columns:
            continue
        for value, part in answers.groupby(answers[seg].fillna("unknown"), sort=True):
            text = label(seg, value)
            by_segment.append(
                {
                    "by": seg,
                    "segment": str(value),
                    "zh": text.zh,
                    "en": text.en,
                    "responses": len(part),
                    "csat_mean": float(part["csat"].mean()) if part["csat"].notna().any() else None,
                    "nps": nps(part["nps"]),
                    "churn_rate": _rate(part["label"]),
                }
            )
    labelled = answers[answers["label"].notna()]
    churn_by_csat = [
        {"csat": int(score), "responses": len(part), "churn_rate": _rate(part["label"])}
        for score, part in labelled.groupby(pd.to_numeric(labelled["csat"]).dropna().astype(int))
    ]
    groups = nps_group(labelled["nps"])
    churn_by_nps = []
    for code, text in NPS_GROUPS.items():
        part = labelled[groups == code]
        churn_by_nps.append(
            {
                "group": code,
                "zh": text.zh,
                "en": text.en,
                "responses": len(part),
                "churn_rate": _rate(part["label"]),
            }
        )
    rate_of: dict[str, float | None] = {
        str(r["group"]): cast("float | None", r["churn_rate"]) for r in churn_by_nps
    }
    det, pro = rate_of["detractor"], rate_of["promoter"]
    ratio = det / pro if det is not None and pro else None
    return SurveyResult(
        window=window,
        responses=len(answers),
        matched=len(labelled),
        csat_mean=float(answers["csat"].mean()) if answers["csat"].notna().any() else None,
        nps=nps(answers["nps"]),
        by_segment=by_segment,
        churn_by_csat=churn_by_csat,
        churn_by_nps=churn_by_nps,
        detractor_vs_promoter=ratio,
    )


def _rate(labels: pd.Series) -> float | None:
    y = pd.to_numeric(labels, errors="coerce").dropna()
    return None if y.empty else float(np.mean(y))


def survey_answers(settings: Settings, window: Window, frame: pd.DataFrame) -> pd.DataFrame:
    """Survey answers of the window's months with segments and the month's churn label."""
    from ..errors import StateError

    first, end = window.months[0], add_months(window.months[-1], 1)
    with duck(settings) as con:
        if "surveys" not in table_names(con):
            raise StateError("no surveys table in the warehouse; ingest surveys.csv first")
        answers: pd.DataFrame = con.execute(
            """
            SELECT v.subscriber_id, CAST(date_trunc('month', v.surveyed_at) AS DATE) AS as_of,
                   v.csat, v.nps, s.service_type, s.customer_type, s.payment_type
            FROM surveys v JOIN subscribers s USING (subscriber_id)
            WHERE v.surveyed_at >= ? AND v.surveyed_at < ?
            """,
            [first, end],
        ).df()
    answers["as_of"] = pd.to_datetime(answers["as_of"]).dt.date
    labels = frame[["subscriber_id", "as_of", "label"]]
    return answers.merge(labels, on=["subscriber_id", "as_of"], how="left")


def survey_analysis(
    settings: Settings, *, as_of: date | str, months: int = DEFAULT_MONTHS
) -> SurveyResult:
    """Surveys of the labelled months up to ``as_of`` and their relation to churn."""
    window = data_window(settings, as_of=as_of, months=months)
    frame = labelled_frame(settings, window)
    return surveys_from(survey_answers(settings, window, frame), window=window.label)
