"""Labels: voluntary, inactivity, passive, natural and value churn; exclusions; known months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest

from churnguard.config import LabelSettings
from churnguard.features import label_expr, label_lag_months, labeled_as_ofs

from .synth import from_rows, load_duckdb

D = date


def _sub(sid: str, service: str = "mobile", payment: str = "postpaid", **kw: Any) -> dict[str, Any]:
    row = {
        "subscriber_id": sid,
        "service_type": service,
        "payment_type": payment,
        "activation_date": D(2023, 1, 1),
    }
    row.update(kw)
    return row


def _use(sid: str, month: int, **kw: Any) -> dict[str, Any]:
    return {"subscriber_id": sid, "month": D(2024, month, 1), **kw}


def _bill(sid: str, month: int, due: float, paid: float = 0.0) -> dict[str, Any]:
    return {
        "subscriber_id": sid,
        "month": D(2024, month, 1),
        "amount_due": due,
        "amount_paid": paid,
    }


ROWS = {
    "subscribers": [
        _sub("V1", churn_date=D(2024, 7, 15), churn_reason="port_out"),
        _sub("V2", churn_date=D(2024, 8, 1), churn_reason="port_out"),
        _sub("P1", churn_date=D(2024, 7, 10), churn_reason="arrears_disconnect"),
        _sub("N1", churn_date=D(2024, 7, 10), churn_reason="relocation"),
        _sub("T1", "tv", churn_date=D(2024, 9, 1), churn_reason="inactivity"),
        _sub("T2", payment="prepaid"),
        _sub("T3", payment="prepaid", churn_date=D(2024, 7, 20), churn_reason="arrears_disconnect"),
        _sub("X1", activation_date=D(2024, 5, 1)),
        _sub("R1"),
        _sub("VC1"),
        _sub("VC2"),
        _sub("VC3"),
        _sub("Z"),
    ],
    "usage": [
        *[_use("Z", m, voice_minutes=10.0) for m in range(1, 10)],
        _use("T1", 6, viewing_hours=10.0),
        _use("T2", 6, voice_minutes=5.0),
        _use("T2", 8, data_mb=50.0),
        _use("T3", 6, voice_minutes=5.0),
        _use("R1", 6, voice_minutes=5.0),
    ],
    "billing": [
        _bill("T1", 6, 20.0, 20.0),
        *[_bill("VC1", m, 100.0) for m in (4, 5, 6)],
        _bill("VC1", 7, 60.0),
        _bill("VC1", 8, 50.0),
        *[_bill("VC2", m, 100.0) for m in (4, 5, 6)],
        _bill("VC2", 7, 60.0),
        _bill("VC2", 8, 80.0),
        *[_bill("VC3", m, 100.0) for m in (4, 5, 6)],
        _bill("VC3", 7, 60.0),
    ],
}


@pytest.fixture(scope="module")
def backend() -> Iterator[Any]:
    b = load_duckdb(from_rows(**ROWS))
    yield b
    b.disconnect()


def _labels(backend: Any, month: int, **kw: Any) -> pd.DataFrame:
    expr = label_expr(backend, as_of=D(2024, month, 1), labels=LabelSettings(**kw))
    return backend.execute(expr).set_index("subscriber_id")


def test_labels_of_june(backend: Any) -> None:
    lab = _labels(backend, 6)
    positives = sorted(lab.index[lab.label_voluntary == 1])
    assert positives == ["T1", "V1"]
    assert sorted(lab.index[lab.label_inactivity == 1]) == ["T1"]
    assert sorted(lab.index[lab.label_passive == 1]) == ["P1", "T3"]
    assert sorted(lab.index[lab.label_natural == 1]) == ["N1"]
    assert sorted(lab.index[lab.label_value == 1]) == ["VC1"]
    assert lab.loc["X1", "exclusion"] == "tenure" and lab.loc["X1", "tenure_months"] == 1
    assert bool(lab.loc["X1", "excluded"]) and not bool(lab.loc["V1", "excluded"])
    assert lab.loc["Z", "tenure_months"] == 17


def test_inactivity_is_counted_once_at_the_start_of_silence(backend: Any) -> None:
    # T1 is silent from July; the operator records 'inactivity' on 1 September.
    july, august = _labels(backend, 7), _labels(backend, 8)
    assert (
        july.loc["T1", "label_voluntary"] == 0 and july.loc["T1", "exclusion"] == "already_inactive"
    )
    assert august.loc["T1", "label_voluntary"] == 0
    assert august.loc["T1", "exclusion"] == "already_inactive"
    # a postpaid mobile line is not judged by inactivity
    assert _labels(backend, 6).loc["R1", "label_voluntary"] == 0


def test_inactivity_for_other_types_only_when_configured(backend: Any) -> None:
    lab = _labels(backend, 6, inactivity_payment_types=("prepaid", "postpaid"))
    assert lab.loc["R1", "label_inactivity"] == 1
    lab = _labels(backend, 6, inactivity_service_types=())
    assert lab.loc["T1", "label_voluntary"] == 0


def test_longer_horizon_and_value_threshold(backend: Any) -> None:
    lab = _labels(backend, 6, horizon_months=2)
    assert sorted(lab.index[lab.label_voluntary == 1]) == ["T1", "V1", "V2"]
    lab = _labels(backend, 6, value_churn_drop=0.2)
    assert sorted(lab.index[lab.label_value == 1]) == ["VC1", "VC2"]


def test_population_matches_the_snapshot(backend: Any) -> None:
    lab = _labels(backend, 7)
    # V1, P1, N1, T3 left in July: not active at the end of July
    assert not {"V1", "P1", "N1", "T3"} & set(lab.index)
    assert "V2" in lab.index and lab.loc["V2", "label_voluntary"] == 1


def test_labeled_as_ofs(backend: Any) -> None:
    assert label_lag_months(LabelSettings()) == 2
    months = labeled_as_ofs(backend, D(2024, 9, 1))
    assert months == [D(2024, m, 1) for m in range(1, 8)]
    assert labeled_as_ofs(backend, "2024-06")[-1] == D(2024, 4, 1)
    assert labeled_as_ofs(backend, D(2030, 1, 1))[-1] == D(2024, 7, 1)
    no_inactivity = LabelSettings(
        inactivity_service_types=(), inactivity_payment_types=(), value_churn_months=1
    )
    assert labeled_as_ofs(backend, D(2024, 9, 1), labels=no_inactivity)[-1] == D(2024, 8, 1)
    assert labeled_as_ofs(backend, D(2023, 1, 1)) == []
