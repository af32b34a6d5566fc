"""Churned customers come back: the probability depends on why they left, how long ago and
the win-back offer; a return is a new subscription of the same person."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churnguard.errors import InputError
from churnguard.simulate import simulate, step
from churnguard.simulate.winback import WINBACK_OFFER_TYPES, winback_multipliers
from churnguard.simulate.world import World


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wbworld") / "op"
    simulate(out, subscribers=5000, months=8, seed=21)
    return out


def _copy(world: Path, tmp_path: Path, name: str) -> Path:
    shutil.copytree(world, tmp_path / name)
    return tmp_path / name


def _voluntary(world: Path) -> pd.DataFrame:
    subs = pd.read_parquet(world / "subscribers.parquet")
    return subs[subs.churn_reason.isin(["port_out", "voluntary_cancel", "inactivity"])]


def test_offers_bring_customers_back_and_returns_are_new_subscriptions(
    world: Path, tmp_path: Path
) -> None:
    left = _voluntary(world)
    offers = pd.DataFrame({"subscriber_id": left.subscriber_id, "offer_type": "winback_discount"})
    none = pd.DataFrame({"subscriber_id": [], "offer_type": []})
    plain = step(
        _copy(world, tmp_path, "plain"), treatments=None, winback=none, out=tmp_path / "d0"
    )
    treated_dir = _copy(world, tmp_path, "treated")
    s = step(treated_dir, treatments=None, winback=offers, out=tmp_path / "d1")
    step(_copy(world, tmp_path, "again"), treatments=None, winback=offers, out=tmp_path / "d2")
    for f in sorted(p.name for p in (tmp_path / "d1").iterdir()):
        assert filecmp.cmp(tmp_path / "d1" / f, tmp_path / "d2" / f, shallow=False), f
    assert s.winback_treated == len(left) > 300
    # common random numbers: a returner without the offer also returns with it
    assert plain.returned > 0 and plain.winback_treated == 0  # natural returns
    assert s.returned > plain.returned and s.returned_incremental > 0
    log = pd.read_parquet(treated_dir / "truth" / "winback_log.parquet")
    assert len(log) == len(left)
    assert (log.p_treated >= log.p_untreated).all()
    assert not (log.returned_untreated & ~log.returned_treated).any()
    assert log.returned_treated.sum() == s.returned_treated
    assert s.returned_incremental == int((log.returned_treated & ~log.returned_untreated).sum())
    # each return: a new subscriber id, the same ID number, active with usage this month
    back = pd.read_parquet(treated_dir / "truth" / "winback_returned.parquet")
    assert len(back) == s.returned
    delta = pd.read_parquet(tmp_path / "d1" / "subscribers.parquet").set_index("subscriber_id")
    old = pd.read_parquet(world / "subscribers.parquet").set_index("subscriber_id")
    new = delta.loc[back.new_subscriber_id]
    assert not set(back.new_subscriber_id) & set(old.index)
    assert (new.id_number.to_numpy() == old.loc[back.subscriber_id, "id_number"].to_numpy()).all()
    assert (new.status != "churned").all()
    assert (pd.to_datetime(new.activation_date) >= pd.Timestamp("2024-09-01")).all()
    use = pd.read_parquet(tmp_path / "d1" / "usage.parquet")
    assert set(back.new_subscriber_id) <= set(use.subscriber_id)
    ported = back[old.loc[back.subscriber_id, "churn_reason"].to_numpy() == "port_out"]
    assert len(ported) > 0
    assert (
        delta.loc[ported.new_subscriber_id, "msisdn"].to_numpy()
        == old.loc[ported.subscriber_id, "msisdn"].to_numpy()
    ).all()


def test_return_chances_depend_on_reason_and_time_and_a_customer_returns_once(
    world: Path, tmp_path: Path
) -> None:
    w = World.load(world / "truth")
    mult = winback_multipliers(w)
    subs = pd.read_parquet(world / "subscribers.parquet")
    idx = subs.index.to_numpy()
    port = subs.churn_reason.eq("port_out").to_numpy()
    arrears = subs.churn_reason.eq("arrears_disconnect").to_numpy()
    d, debt = (
        WINBACK_OFFER_TYPES.index("winback_discount"),
        WINBACK_OFFER_TYPES.index("debt_settlement"),
    )
    # a discount works on voluntary leavers, never on a line cut for debt; only settlement does
    assert np.median(mult[idx[port], d]) > 3
    assert (mult[idx[arrears], d] == 1).all() and np.median(mult[idx[arrears], debt]) > 4
    assert (mult[idx[port], debt] == 1).all()
    assert (mult[idx[subs.status.ne("churned").to_numpy()]] == 1).all()
    # the true chance to return falls with the time since leaving; ported-out customers
    # (gone to a rival) come back less readily than the others
    wd = _copy(world, tmp_path, "w")
    left = _voluntary(world)
    gift = pd.DataFrame({"subscriber_id": left.subscriber_id, "offer_type": "winback_gift"})
    step(wd, treatments=None, winback=gift, out=tmp_path / "a")
    log = pd.read_parquet(wd / "truth" / "winback_log.parquet").merge(left, on="subscriber_id")
    gone = (pd.Timestamp("2024-09-01") - pd.to_datetime(log.churn_date)).dt.days
    assert np.corrcoef(gone, log.p_untreated)[0, 1] < -0.5
    same_age = gone < 90
    by_reason = log[same_age].groupby(log.churn_reason.eq("port_out")).p_untreated.mean()
    assert by_reason[True] < by_reason[False]
    quiet = step(wd, treatments=None, out=tmp_path / "b")
    assert quiet.returned == 0  # win-back off: nobody comes back
    back = pd.read_parquet(wd / "truth" / "winback_returned.parquet")
    assert back.subscriber_id.is_unique and len(back) > 0
    # offering again to someone who already came back opens no second subscription
    again = pd.DataFrame({"subscriber_id": back.subscriber_id, "offer_type": "winback_discount"})
    s = step(wd, treatments=None, winback=again, out=tmp_path / "c")
    assert s.returned_treated == 0


def test_bad_winback_input_is_refused(world: Path, tmp_path: Path) -> None:
    bad = pd.DataFrame({"subscriber_id": ["S00000001"], "offer_type": ["price_discount"]})
    with pytest.raises(InputError, match="price_discount"):
        step(world, treatments=None, winback=bad, out=tmp_path / "x")
    with pytest.raises(InputError, match="X9"):
        step(
            world,
            treatments=None,
            winback=pd.DataFrame({"subscriber_id": ["X9"], "offer_type": ["winback_gift"]}),
            out=tmp_path / "x",
        )
