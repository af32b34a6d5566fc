"""Group indicators: the size of a customer's corporate / VPMN group and its recent churn."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis

from .aggregates import safe_div
from .catalog import Family, FeatureDef, ReasonCategory, ReasonFormat
from .lifecycle import population

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from .context import AsOf, Sources

__all__ = ["FAMILY", "groups_frame"]

_G = ReasonCategory.GROUP_CONTAGION
WINDOW_MONTHS = 3


def groups_frame(src: Sources, asof: AsOf, pop: ir.Table) -> ir.Table:
    """One row per active subscriber with their group's size and recent churners.

    Churners are group members whose churn date lies in the last
    :data:`WINDOW_MONTHS` months up to the end of M (any reason).
    """
    # Groups span partitions of the base: count members and churners over all of it.
    whole = src.unsliced()
    everyone = pop if whole is src else population(whole, asof)
    members = everyone.filter(everyone.group_id.notnull())
    size = members.group_by("group_id").aggregate(group_size=ibis._.count())
    s = whole["subscribers"]
    left = s.filter(
        s.group_id.notnull(),
        s.churn_date >= asof.months_back(WINDOW_MONTHS - 1),
        s.churn_date < asof.next_start,
    )
    churned = left.group_by("group_id").aggregate(group_churned=ibis._.count())
    frame = pop.select("subscriber_id", "group_id")
    frame = frame.left_join(size, "group_id").select(frame, size.group_size)
    return frame.left_join(churned, "group_id").select(frame, churned.group_churned)


def _size(t: ir.Table, a: AsOf) -> ir.Value:
    return t.group_size.cast("float64")


def _churned(t: ir.Table, a: AsOf) -> ir.Value:
    return ibis.cases(
        (t.group_id.notnull(), t.group_churned.fill_null(0).cast("float64")),
        else_=ibis.null("float64"),
    )


def _share(t: ir.Table, a: AsOf) -> ir.Value:
    churned = t.group_churned.fill_null(0)
    return safe_div(churned, t.group_size + churned)


FEATURES: tuple[FeatureDef, ...] = (
    FeatureDef(
        name="group_size",
        family="groups",
        category=_G,
        unit="members",
        expr=_size,
        risk_direction=0,
        en="Active members of the customer's group (VPMN) at the as-of month",
        zh="所在集团/VPMN群当月在网成员数",
    ),
    FeatureDef(
        name="group_churned_3m",
        family="groups",
        category=_G,
        unit="members",
        expr=_churned,
        risk_direction=1,
        en="Members of the customer's group who left in the last 3 months",
        zh="所在集团/VPMN群近3个月离网成员数",
        reason_en="{value} members of the customer's group left in 3 months",
        reason_zh="所在集团近3个月已有 {value} 名成员离网",
        reason_format=ReasonFormat.INTEGER,
    ),
    FeatureDef(
        name="group_churn_share_3m",
        family="groups",
        category=_G,
        unit="share",
        expr=_share,
        risk_direction=1,
        en="Share of the group's members who left in the last 3 months",
        zh="所在集团/VPMN群近3个月离网成员占比",
        reason_en="{value}% of the customer's group left in 3 months",
        reason_zh="所在集团近3个月离网比例 {value}%",
        reason_format=ReasonFormat.SHARE_PCT,
    ),
)

FAMILY = Family(
    name="groups", frame="groups", build=groups_frame, features=FEATURES, aggregate=False
)
