"""``churnguard features build|describe``: point-in-time snapshots and the feature catalog."""

from __future__ import annotations

from typing import Annotated, Literal

import typer
from rich.table import Table

from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for

__all__ = ["register"]

features_app = typer.Typer(
    help="Feature snapshots (point in time) and the feature catalog.", no_args_is_help=True
)


@features_app.command("build")
def build(
    as_of: Annotated[str, typer.Option("--as-of", help="Snapshot month, YYYY-MM.")],
    engine: Annotated[
        str, typer.Option("--engine", help="duckdb (default) or spark (local PySpark).")
    ] = "duckdb",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Build the snapshot of every subscriber active at the end of the as-of month."""
    from ..errors import InputError
    from ..features import build_snapshot

    if engine not in ("duckdb", "spark"):
        raise InputError(f"unknown engine '{engine}'; use --engine duckdb or --engine spark")
    chosen: Literal["duckdb", "spark"] = "spark" if engine == "spark" else "duckdb"
    settings = settings_for(workspace)
    info = build_snapshot(settings, as_of=as_of, engine=chosen)
    if json:
        emit_json(info.to_dict())
        return
    table = Table(title=f"feature snapshot {info.as_of:%Y-%m} / 特征快照 ({info.engine})")
    table.add_column("service / 业务")
    table.add_column("subscribers / 用户数", justify="right")
    for service, n in info.by_service.items():
        table.add_row(service, f"{n:,}")
    table.add_row("total / 合计", f"{info.subscribers:,}")
    console.print(table)
    console.print(
        f"{info.features} features / 个特征 · catalog {info.catalog_version} · {info.seconds:.1f} s"
    )


@features_app.command("describe")
def describe(
    lang: Annotated[
        str, typer.Option("--lang", help="Language of the descriptions: zh or en.")
    ] = "en",
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the feature catalog: one line per feature (name, category, unit, description)."""
    from ..errors import InputError
    from ..features import CATALOG, CATALOG_VERSION

    if lang not in ("zh", "en"):
        raise InputError(f"unknown language '{lang}'; use --lang zh or --lang en")
    del workspace  # the catalog is the same in every workspace; accepted for symmetry
    if json:
        emit_json(
            {
                "catalog_version": CATALOG_VERSION,
                "features": [
                    {
                        "name": f.name,
                        "family": f.family,
                        "category": str(f.category),
                        "category_label": f.category.zh if lang == "zh" else f.category.en,
                        "unit": f.unit,
                        "risk_direction": f.risk_direction,
                        "categorical": f.categorical,
                        "services": list(f.services),
                        "en": f.en,
                        "zh": f.zh,
                        "reason_en": f.reason_en,
                        "reason_zh": f.reason_zh,
                    }
                    for f in CATALOG
                ],
            }
        )
        return
    width = max(len(f.name) for f in CATALOG)
    cat_width = max(len(str(f.category)) for f in CATALOG)
    for f in CATALOG:
        console.print(
            f"{f.name:<{width}}  {f.category!s:<{cat_width}}  {f.unit:<11}  {f.description(lang)}",
            markup=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add the ``features`` sub-app to the root CLI."""
    app.add_typer(features_app, name="features")
