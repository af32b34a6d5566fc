"""The true churn probability and the true response to each retention offer.

The probability of voluntarily churning next month is a logistic function of
what the operator's own tables record by the end of the month (usage trend,
inquiries, forwarded calls, complaints, network numbers, contract end,
downgrades, survey scores, group behaviour, calling pattern, tenure, season),
plus a small hidden loyalty term. Hidden traits act mainly through that
recorded behaviour, so a good model can approach the Bayes limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .catalog import BROADBAND, MOBILE, TV

__all__ = ["RiskInputs", "offer_multipliers", "voluntary_churn_probability"]

F64 = npt.NDArray[np.float64]

# Churn seasonality by calendar month of the churn month (index 0 = January):
# after Spring Festival and at the start of the school year people change operator.
_SEASON = np.array([0.0, 0.3, 0.35, 0.05, -0.1, 0.0, 0.1, 0.05, 0.3, 0.0, -0.15, -0.25])
BASE_LOGIT = -5.3
SPREAD = 1.3  # scales every signal: sets how separable churners are (the Bayes AUC)


@dataclass(frozen=True)
class RiskInputs:
    """Recorded signals of one month, aligned over the active subscribers."""

    service: npt.NDArray[np.int8]
    prepaid: npt.NDArray[np.bool_]
    usage_now: F64
    usage_before: F64  # mean of up to three earlier months; NaN if none
    cancel_inquiry: npt.NDArray[np.bool_]
    port_out_query: npt.NDArray[np.bool_]
    call_forward: F64
    complaints_3m: F64
    dropped_call_rate: F64
    download_ratio: F64
    outage_minutes: F64
    offline_days: F64
    months_to_contract_end: npt.NDArray[np.int64]  # large negative when no contract
    has_contract: npt.NDArray[np.bool_]
    downgraded_3m: npt.NDArray[np.bool_]
    csat_recent: F64  # NaN when no survey in the last three months
    group_inquiry_share: F64  # share of the VPMN group inquiring this month; 0 if none
    calls_in: F64
    calls_out: F64
    tenure_months: npt.NDArray[np.int64]
    promotion_ends: npt.NDArray[np.bool_]  # a joining discount ends next month
    unpaid_months: npt.NDArray[np.int8]
    suspended: npt.NDArray[np.bool_]  # barred this month (two bills unpaid before it)
    loyalty: F64  # hidden
    next_calendar_month: int


def voluntary_churn_probability(x: RiskInputs) -> F64:
    """True probability of voluntary churn in the next month."""
    trend = np.where(
        np.isnan(x.usage_before),
        0.0,
        np.log((x.usage_now + 1.0) / (np.nan_to_num(x.usage_before) + 1.0)),
    )
    z = _SEASON[x.next_calendar_month - 1] + np.zeros(len(x.service))
    # A line barred for arrears uses little by force, not by choice: no disengagement signal.
    z = z + 1.5 * np.clip(-trend, -0.3, 2.5) * ~x.suspended
    z = z + 1.4 * x.cancel_inquiry + 1.7 * x.port_out_query
    z = z + 0.6 * np.log1p(np.nan_to_num(x.call_forward))
    z = z + 0.35 * np.minimum(x.complaints_3m, 4)
    z = z + 0.7 * np.clip(np.log(np.nan_to_num(x.dropped_call_rate, nan=0.006) / 0.006), 0, 2.5)
    z = z + 1.6 * np.clip(0.75 - np.nan_to_num(x.download_ratio, nan=1.0), 0, 0.7)
    z = z + 0.25 * np.log1p(x.outage_minutes / 60.0)
    z = z + 0.12 * np.minimum(np.nan_to_num(x.offline_days), 10)
    mte = x.months_to_contract_end
    z = z + np.where(x.has_contract & (mte >= 0) & (mte <= 1), 1.1, 0.0)
    z = z + np.where(x.has_contract & (mte < 0), 0.3, 0.0)
    z = z + 0.6 * x.downgraded_3m
    z = z + np.where(np.isnan(x.csat_recent), 0.0, 0.4 * (3.5 - np.nan_to_num(x.csat_recent)))
    z = z + 2.2 * x.group_inquiry_share
    ratio = np.log((np.nan_to_num(x.calls_in) + 1.0) / (np.nan_to_num(x.calls_out) + 1.0))
    z = z + 0.6 * np.clip(ratio - 0.4, 0, 2)
    tenure = x.tenure_months
    z = z + 1.1 * x.promotion_ends + np.where(tenure < 12, 0.25, 0.0)
    z = z - 0.15 * np.log1p(np.maximum(tenure, 0) / 12.0)
    z = z + 0.15 * np.minimum(x.unpaid_months, 2)
    z = z + np.where((x.service == MOBILE) & x.prepaid, 0.35, 0.0)
    z = z + np.where(x.service == TV, -0.1, 0.0) + np.where(x.service == BROADBAND, -0.15, 0.0)
    z = z - 0.25 * x.loyalty  # the only hidden term: kept small on purpose
    p: F64 = 1.0 / (1.0 + np.exp(-(BASE_LOGIT + SPREAD * z)))
    return p


def offer_multipliers(
    *,
    service: npt.NDArray[np.int8],
    prepaid: npt.NDArray[np.bool_],
    has_contract: npt.NDArray[np.bool_],
    price_sens: F64,
    quality_sens: F64,
    cell_bad: F64,
    usage_level: F64,
    loyalty: F64,
    fee: F64,
    sleeping_dog: npt.NDArray[np.bool_],
    noise: F64,
) -> F64:
    """True multiplier of next month's churn probability per subscriber × offer type.

    Shape ``(n, len(OFFER_TYPES))``. Below 1 the contact helps; above 1 it backfires
    ("sleeping dogs": contacting them reminds them to leave). ``noise`` has the same
    shape and makes individual responses differ within a segment.
    """
    mob = service == MOBILE
    high_value = fee >= np.quantile(fee, 0.8) if fee.size else fee > 0
    log_effect = np.stack(
        [
            -1.3 * price_sens - 0.1,  # price_discount
            np.where(mob, -0.9 * np.minimum(usage_level, 2.0) / 2.0 - 0.05, 0.0),  # data_gift
            -1.0 * price_sens,  # bill_rebate
            -0.7 * quality_sens - 0.35 * high_value,  # dedicated_service
            -2.2 * quality_sens * cell_bad,  # network_fix
            np.where(has_contract & ~prepaid, -0.9, -0.05),  # renewal_bonus
            np.where(loyalty > 0, -0.35, -0.05),  # loyalty_points
        ],
        axis=1,
    )
    backfire = np.where(sleeping_dog, 0.45, 0.0)[:, None]
    log_effect = np.where(sleeping_dog[:, None], np.abs(log_effect) * 0.3 + backfire, log_effect)
    # Individual responses vary around the segment's effect; irrelevant offers stay near 1.
    log_effect = log_effect * (1.0 + 0.25 * noise) + 0.03 * noise
    out: F64 = np.clip(np.exp(log_effect), 0.15, 3.0)
    return out
