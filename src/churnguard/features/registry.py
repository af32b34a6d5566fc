"""The ordered feature catalog assembled from the indicator families."""

from __future__ import annotations

from . import (
    aggregates,
    billing,
    complaints,
    context,
    devices,
    engagement,
    groups,
    lifecycle,
    network,
    plans,
    surveys,
    usage,
)
from .catalog import Family, FeatureDef, catalog_version

__all__ = [
    "CATALOG",
    "CATALOG_VERSION",
    "FAMILIES",
    "categorical_columns",
    "feature",
    "feature_columns",
]

FAMILIES: tuple[Family, ...] = (
    lifecycle.FAMILY,
    usage.FAMILY,
    devices.FAMILY,
    billing.FAMILY,
    complaints.FAMILY,
    network.FAMILY,
    engagement.FAMILY,
    plans.FAMILY,
    surveys.FAMILY,
    groups.FAMILY,
)

CATALOG: tuple[FeatureDef, ...] = tuple(f for fam in FAMILIES for f in fam.features)
CATALOG_VERSION: str = catalog_version(CATALOG, families=FAMILIES, helpers=(aggregates, context))

_BY_NAME = {f.name: f for f in CATALOG}
if len(_BY_NAME) != len(CATALOG):  # a duplicate name would silently shadow a feature
    raise RuntimeError("duplicate feature names in the catalog")


def feature(name: str) -> FeatureDef:
    """The catalog entry called ``name``.

    Raises
    ------
    KeyError
        If no feature has that name.
    """
    return _BY_NAME[name]


def feature_columns() -> list[str]:
    """Names of the model inputs in catalog order.

    Categoricals are included (strings); :func:`categorical_columns` lists them.
    """
    return [f.name for f in CATALOG]


def categorical_columns() -> list[str]:
    """Names of the categorical (string) model inputs."""
    return [f.name for f in CATALOG if f.categorical]
