"""Analytics of churn: who leaves (personas, rules), why (complaint texts, surveys),
when (timing, survival) and together (VPMN groups, second SIMs).

Each analysis has a pure function on frames (``*_from``, tested on tiny data) and
a workspace function that reads the warehouse; ``churnguard analyze <what>`` and
the monthly report (:mod:`churnguard.report`) call the latter.
"""

from __future__ import annotations

from .complaint_text import TextResult, complaint_terms, write_text_features
from .groups import GroupsResult, group_analysis
from .personas import PersonaResult, churner_personas
from .population import Window, data_window, labelled_frame
from .rules import RulesResult, churn_rules
from .surveys import SurveyResult, survey_analysis
from .survival import SurvivalResult, survival_analysis
from .texts import Bi
from .timing import TimingResult, churn_timing

__all__ = [
    "Bi",
    "GroupsResult",
    "PersonaResult",
    "RulesResult",
    "SurveyResult",
    "SurvivalResult",
    "TextResult",
    "TimingResult",
    "Window",
    "churn_rules",
    "churn_timing",
    "churner_personas",
    "complaint_terms",
    "data_window",
    "group_analysis",
    "labelled_frame",
    "survey_analysis",
    "survival_analysis",
    "write_text_features",
]
