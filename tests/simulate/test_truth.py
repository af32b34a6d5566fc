"""The ground truth agrees with the tables; rates and the Bayes limit are realistic."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnguard.contract import VOLUNTARY_CHURN_REASONS
from churnguard.simulate import OFFER_TYPES

from .conftest import Sim


def _month_num(s: pd.Series) -> pd.Series:
    d = pd.to_datetime(s)
    return d.dt.year * 12 + d.dt.month


def test_truth_has_every_active_subscriber_month(sim: Sim) -> None:
    truth = sim.table("churn_probability")
    assert list(truth.columns) == [
        "subscriber_id",
        "month",
        "p_voluntary_churn",
        "churned_voluntary",
    ]
    use = sim.table("usage")
    a = set(zip(truth.subscriber_id, pd.to_datetime(truth.month), strict=True))
    b = set(zip(use.subscriber_id, pd.to_datetime(use.month), strict=True))
    assert a == b
    assert truth.p_voluntary_churn.between(0, 1).all()


def test_churned_voluntary_means_leaving_the_next_month(sim: Sim) -> None:
    truth = sim.table("churn_probability")
    subs = sim.table("subscribers").set_index("subscriber_id")
    use = sim.table("usage")
    last_use = _month_num(use.groupby("subscriber_id").month.max())
    last_month = _month_num(truth.month).max()
    pos = truth[truth.churned_voluntary & (_month_num(truth.month) < last_month)]
    # Churn in month m+1: no rows from m+1 on, so m is the subscriber's last usage month.
    assert (last_use[pos.subscriber_id].to_numpy() == _month_num(pos.month).to_numpy()).all()
    # Formal churners are dated inside m+1 with a voluntary reason; silent ones later.
    s = subs.loc[pos.subscriber_id]
    formal = s.churn_reason.isin(["port_out", "voluntary_cancel"]).to_numpy()
    cd = _month_num(s.churn_date[formal]).to_numpy()
    assert (cd == _month_num(pos.month).to_numpy()[formal] + 1).all()
    ok = s.churn_reason.isin(VOLUNTARY_CHURN_REASONS) | (s.status == "active")
    assert ok.all()
    # Every formal voluntary churner in the tables is a positive in the truth.
    vol = subs[subs.churn_reason.isin(["port_out", "voluntary_cancel"])]
    flagged = set(pos.subscriber_id) | set(
        truth[truth.churned_voluntary & (_month_num(truth.month) == last_month)].subscriber_id
    )
    assert set(vol.index) <= flagged


def test_passive_and_natural_churn_are_not_positives(sim: Sim) -> None:
    truth = sim.table("churn_probability")
    subs = sim.table("subscribers")
    other = subs[subs.churn_reason.isin(["arrears_disconnect", "relocation", "deceased"])]
    assert len(other) > 0
    assert not truth[truth.subscriber_id.isin(other.subscriber_id)].churned_voluntary.any()


def test_rates_and_bayes_auc_are_realistic(sim: Sim) -> None:
    truth = sim.table("churn_probability")
    rate = truth.groupby("month").churned_voluntary.mean()
    assert 0.01 <= rate.median() <= 0.03
    auc = roc_auc_score(truth.churned_voluntary, truth.p_voluntary_churn)
    assert 0.78 <= auc <= 0.93
    assert abs(auc - sim.summary.bayes_auc) < 1e-9
    assert np.isclose(sim.summary.median_voluntary_churn, rate.median())
    # The mean true probability matches the realised rate (the truth is calibrated).
    assert abs(truth.p_voluntary_churn.mean() - truth.churned_voluntary.mean()) < 0.003


def test_offer_response_covers_everyone_with_sleeping_dogs(sim: Sim) -> None:
    resp = sim.table("offer_response")
    subs = sim.table("subscribers")
    assert len(resp) == len(subs) * len(OFFER_TYPES)
    assert set(resp.offer_type) == set(OFFER_TYPES)
    assert resp.p_multiplier.between(0.15, 3.0).all()
    dogs = resp[resp.sleeping_dog]
    assert 0.03 < dogs.subscriber_id.nunique() / len(subs) < 0.12
    assert (dogs.p_multiplier > 1).mean() > 0.9
    helped = resp[~resp.sleeping_dog]
    assert (helped.p_multiplier < 1).mean() > 0.7
    # Offers differ: data gifts do nothing for TV, network fixes help those with poor coverage.
    tv = subs[subs.service_type == "tv"].subscriber_id
    gift_tv = resp[
        (resp.offer_type == "data_gift") & resp.subscriber_id.isin(tv) & ~resp.sleeping_dog
    ]
    assert gift_tv.p_multiplier.between(0.85, 1.2).all()
    assert abs(np.log(gift_tv.p_multiplier).mean()) < 0.05
