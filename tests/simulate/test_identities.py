"""Personal data generators: valid, consistent and unique; the public API is small and stable."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

import churnguard.simulate as sim_pkg
from churnguard.simulate.identities import age_on, make_identities, subscriber_ids


def _days(d: date) -> int:
    return (d - date(1970, 1, 1)).days


@pytest.mark.parametrize(
    ("birth", "ref", "age"),
    [
        (date(2000, 1, 1), date(2025, 1, 1), 25),
        (date(2000, 1, 2), date(2025, 1, 1), 24),
        (date(2000, 2, 29), date(2025, 2, 28), 24),
        (date(2000, 2, 29), date(2025, 3, 1), 25),
        (date(1960, 12, 31), date(2024, 12, 31), 64),
    ],
)
def test_age_on_birthdays(birth: date, ref: date, age: int) -> None:
    assert age_on(np.array([_days(birth)], dtype=np.int32), _days(ref))[0] == age


def test_identities_are_valid_and_unique_across_batches() -> None:
    rng = np.random.default_rng(1)
    ages = rng.integers(18, 80, size=5000)
    ref = _days(date(2024, 6, 1))
    a = make_identities(
        rng, age=ages, reference_day=ref, home_prefix=np.full(5000, 110105), first_index=0, seed=3
    )
    b = make_identities(
        rng,
        age=ages[:100],
        reference_day=ref,
        home_prefix=np.full(100, 310104),
        first_index=5000,
        seed=3,
    )
    numbers = np.concatenate([a.msisdn_value, b.msisdn_value])
    assert np.unique(numbers).size == numbers.size
    assert (a.age == ages).all()
    ids = a.id_number.to_pylist()
    assert all(i.startswith("110105") for i in ids)
    assert all(
        str(i[14:17]).isdigit() and int(i[16]) % 2 == int(m)
        for i, m in zip(ids, a.male, strict=True)
    )
    names = a.name.to_pylist()
    assert len(set(names)) > 1500
    assert all(2 <= len(n) <= 3 for n in names)
    emails = a.email.to_pylist()
    assert all("@" in e for e in emails)


def test_subscriber_ids() -> None:
    assert subscriber_ids(np.array([0, 41, 99_999_998])).to_pylist() == [
        "S00000001",
        "S00000042",
        "S99999999",
    ]


def test_public_api() -> None:
    assert set(sim_pkg.__all__) == {
        "DEFAULT_MIX",
        "OFFER_TYPES",
        "SimulationSummary",
        "StepSummary",
        "simulate",
        "step",
        "validate_mix",
    }
    for name in sim_pkg.__all__:
        assert hasattr(sim_pkg, name)
    assert sim_pkg.OFFER_TYPES == (
        "price_discount",
        "data_gift",
        "bill_rebate",
        "dedicated_service",
        "network_fix",
        "renewal_bonus",
        "loyalty_points",
    )
