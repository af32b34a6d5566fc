"""``churnguard model train|list|show|promote|evaluate`` and ``churnguard score``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ._common import JsonOpt, WorkspaceOpt, console, emit_json, progress, settings_for

__all__ = ["register"]

model_app = typer.Typer(
    help="Train, compare, register and re-evaluate churn models. 模型训练、比较、登记与复评。",
    no_args_is_help=True,
)

AsOfOpt = Annotated[str, typer.Option("--as-of", help="Month YYYY-MM. 月份。")]

_COLUMNS = (
    "roc_auc",
    "pr_auc",
    "lift_5",
    "capture_5",
    "lift_10",
    "capture_10",
    "precision",
    "recall",
    "precision_at_recall_70",
    "brier",
    "ece",
    "expected_profit",
    "emp",
)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.3f}"
    return str(value)


def comparison_table(
    metrics: dict[str, dict[str, Any]],
    *,
    title: str,
    champion: str | None,
    with_std: bool = False,
) -> Table:
    """Side-by-side metrics: one row per metric, one column per family (fits 80 columns)."""
    from ..models.families import FAMILIES
    from ..models.metrics import METRICS

    table = Table(title=title, title_justify="left")
    table.add_column("metric 指标")
    for code in metrics:
        cls = FAMILIES.get(code)
        head = f"{code}\n{cls.zh}" if cls else code
        table.add_column(f"[bold green]★{head}[/]" if code == champion else head, justify="right")
    for m in _COLUMNS:
        cells = []
        for res in metrics.values():
            cell = _fmt(res.get(m))
            if with_std and f"{m}_std" in res:
                cell += f"±{res[f'{m}_std']:.3f}"
            cells.append(cell)
        table.add_row(f"{METRICS[m][0]} {METRICS[m][1]}", *cells)
    if all("seconds" in res for res in metrics.values()):
        table.add_row("seconds 秒", *(f"{res['seconds']:.1f}" for res in metrics.values()))
    return table


@model_app.command("train")
def train(
    as_of: AsOfOpt,
    snapshots: Annotated[
        int | None, typer.Option("--snapshots", help="Labeled snapshot months to use.")
    ] = None,
    families: Annotated[
        str | None, typer.Option("--families", help="Comma-separated families [default: settings].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train all families, validate out of time, calibrate, register. 训练模型。"""
    from ..models.families import parse_families
    from ..models.training import train_models

    settings = settings_for(workspace)
    codes = parse_families(families, default=settings.models.families)
    with progress(quiet=json) as bar:
        task = bar.add_task("training 训练模型", total=len(codes) + 1)
        report = train_models(
            settings,
            as_of=as_of,
            snapshots=snapshots,
            families=codes,
            on_family=lambda _c: bar.advance(task),
        )
    data = report.to_dict()
    if json:
        emit_json(data)
        return
    console.print(
        comparison_table(
            report.metrics,
            title=(
                f"out-of-time {data['validation_month'][:7]} 跨时间验证 · trained on 训练月份 "
                f"{', '.join(m[:7] for m in data['train_months'])} · {report.rows_train} rows"
            ),
            champion=report.champion,
        )
    )
    console.print(
        f"champion 冠军模型 (by {report.champion_metric}): [bold]{data['champion_version']}[/] · "
        f"{len(report.versions)} models registered 已登记 · {report.seconds:.0f}s"
    )


@model_app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option("--status", help="champion/challenger/retired")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """List registered models, newest first. 模型列表。"""
    from ..models.registry import list_versions

    rows = list_versions(settings_for(workspace), status=status)
    if json:
        emit_json({"models": rows})
        return
    table = Table(title="model registry 模型登记")
    table.add_column("version 版本", no_wrap=True)
    for col in ("status 状态", "validation 验证月", "ROC AUC", "PR AUC"):
        table.add_column(col, no_wrap=True)
    for r in rows:
        table.add_row(
            r["version"],
            r["status"],
            r["validation_month"][:7],
            _fmt(r["metrics"].get("roc_auc")),
            _fmt(r["metrics"].get("pr_auc")),
        )
    console.print(table)


@model_app.command("show")
def show(
    version: Annotated[
        str | None, typer.Argument(help="Model version [default: the champion].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one registered model: window, features, metrics, checksum. 模型详情。"""
    from ..models.registry import champion, get_version

    settings = settings_for(workspace)
    row = get_version(settings, version) if version else champion(settings)
    if json:
        emit_json(row)
        return
    table = Table(title=f"{row['version']} ({row['status']})", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key in (
        "family",
        "target",
        "as_of",
        "train_start",
        "train_end",
        "validation_month",
        "rows_train",
        "rows_validation",
        "catalog_version",
        "calibration",
        "artifact_path",
        "checksum",
        "created_at",
        "promoted_at",
    ):
        table.add_row(key, _fmt(row[key]))
    table.add_row("features", f"{len(row['features'])}: {', '.join(row['features'][:8])}…")
    for key, value in row["metrics"].items():
        table.add_row(f"metric {key}", _fmt(value))
    console.print(table)


@model_app.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="Model version to make champion.")],
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Make a model the champion; the old champion is retired. 晋升为冠军模型。"""
    from ..models.registry import promote as do_promote

    result = do_promote(settings_for(workspace), version)
    if json:
        emit_json(result)
        return
    console.print(
        f"champion 冠军模型: [bold]{result['champion']}[/]; "
        f"retired 已退役: {result['retired'] or '-'}"
    )


@model_app.command("evaluate")
def evaluate(as_of: AsOfOpt, workspace: WorkspaceOpt = None, json: JsonOpt = False) -> None:
    """Re-evaluate models on a labeled month: metrics, PSI drift, advice. 月度复评。"""
    from ..models.evaluation import evaluate_month

    result = evaluate_month(settings_for(workspace), as_of=as_of)
    if json:
        emit_json(result)
        return
    metrics = {info["family"]: {**info["metrics"]} for info in result["models"].values()}
    champ_family = result["models"][result["champion"]]["family"]
    console.print(
        comparison_table(metrics, title=f"re-evaluation 复评 {as_of}", champion=champ_family)
    )
    console.print(
        f"score PSI 分数漂移 {result['score_psi']:.3f} · drifted features 漂移特征 "
        f"(PSI > {result['psi_limit']}): {', '.join(result['drifted_features'][:10]) or '-'}"
    )
    if result["retrain"]:
        console.print(
            "[bold red]retrain recommended 建议重新训练[/]: " + "; ".join(result["reasons_en"])
        )
        console.print("；".join(result["reasons_zh"]))
    else:
        console.print("[green]no retraining needed 无需重新训练[/]")


def score(
    as_of: AsOfOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write FILE.parquet or .csv.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--model", help="A model version [default: the champion].")
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Score a month with the champion: probability, rank, reasons. 流失打分。"""
    from ..models.scoring import score_month

    with progress(quiet=json) as bar:
        bar.add_task("scoring 打分中", total=None)
        result = score_month(settings_for(workspace), as_of=as_of, version=version, out=out)
    data = result.to_dict()
    if json:
        emit_json(data)
        return
    table = Table(title=f"{as_of} · {result.model_version} · top 10 of {result.rows} 高风险前十")
    for col in ("rank", "subscriber_id", "churn_probability", "top_reasons_zh", "top_reasons_en"):
        table.add_column(col)
    for r in data["top"]:
        table.add_row(
            str(r["rank"]),
            str(r["subscriber_id"]),
            f"{r['churn_probability']:.3f}",
            str(r["top_reasons_zh"] or ""),
            str(r["top_reasons_en"] or ""),
        )
    console.print(table)
    console.print(
        f"scored 已打分 {result.rows} subscribers (reasons for {result.explained}) · "
        f"mean probability 平均流失概率 {result.mean_probability:.3f} · table scores"
        + (f" · {result.out}" if result.out else "")
    )


def register(app: typer.Typer) -> None:
    """Add the ``model`` sub-app and the top-level ``score`` command."""
    app.add_typer(model_app, name="model")
    app.command("score")(score)
