from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnguard.errors import ConfigError, InputError
from churnguard.retention.actions import build_actions
from churnguard.retention.catalog import load_catalog


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subscriber_id": ["a", "b", "c"],
            "churn_probability": [0.5, 0.2, 0.4],
            "clv": [2000.0, 500.0, 800.0],
            "arpu_3m": [120.0, 40.0, 60.0],
            "top_category": ["price_competitor", "network_quality", "usage_decline"],
            "churn_type": ["competitor", "service", "natural"],
            "service_type": ["mobile", "broadband", "mobile"],
            "value_tier": ["high", "low", "medium"],
        }
    )


def test_actions_respect_eligibility_and_compute_value() -> None:
    cat = load_catalog()
    acts = build_actions(_customers(), catalog=cat)
    by = acts.set_index(["subscriber_id", "offer", "channel"])
    # dedicated service only for high value; network fix only for service churn; data gift mobile
    assert ("a", "dedicated_service", "phone") in by.index
    assert not any(k[0] == "b" and k[1] == "dedicated_service" for k in by.index)
    assert ("b", "network_fix", "phone") in by.index
    assert not any(k[0] == "a" and k[1] == "network_fix" for k in by.index)
    assert not any(k[0] == "b" and k[1] == "data_gift" for k in by.index)
    row = by.loc[("a", "price_discount", "phone")]
    # cost: contact 3.0 + accept 0.35 × (0.2 × 120 × 6); save: 0.5 × 0.30 × 1.0
    assert row["cost"] == pytest.approx(3.0 + 0.35 * 0.2 * 120 * 6)
    assert row["save"] == pytest.approx(0.5 * 0.30)
    assert row["value"] == pytest.approx(0.15 * 2000 - row["cost"])
    sms = by.loc[("a", "price_discount", "sms")]
    assert sms["save"] == pytest.approx(0.5 * 0.30 * 0.45)


def test_uplift_model_replaces_priors() -> None:
    class Flat:
        def predict(self, customers: pd.DataFrame, *, offer: str) -> np.ndarray:
            return np.full(len(customers), 0.1 if offer == "loyalty_points" else -0.05)

    acts = build_actions(_customers(), catalog=load_catalog(), effect_model=Flat())
    lp = acts[acts.offer == "loyalty_points"]
    # the learned effect already reflects the channels it was learned through
    assert set(lp["channel"]) == {"sms", "wechat", "app_push", "email"}
    assert np.allclose(lp["save"], 0.1)
    # a negative uplift (the contact makes leaving likelier) gives a negative value
    assert (acts[acts.offer == "price_discount"]["value"] < 0).all()


def test_missing_columns_and_bad_catalogs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="lack columns"):
        build_actions(pd.DataFrame({"subscriber_id": ["a"]}), catalog=load_catalog())
    bad = tmp_path / "offers.yaml"
    bad.write_text(
        "channels: [{code: sms, name_en: S, name_zh: 短信, contact_cost: 0.1, effect: 0.5,"
        " capacity: 10}]\noffers: [{code: x, name_en: X, name_zh: X, cost: {kind: fixed,"
        " amount: 1}, accept_rate: 0.5, channels: [fax], effect: {default: 0.1}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="unknown channels"):
        load_catalog(bad)
    (tmp_path / "ws").mkdir()
    load_catalog(workspace=tmp_path / "ws")
    assert (tmp_path / "ws" / "offers.yaml").is_file()
