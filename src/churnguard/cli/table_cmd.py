"""``churnguard table evaluate|train|score``: models on any flat one-row-per-customer table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..config import ModelSettings
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, progress

__all__ = ["register"]

table_app = typer.Typer(
    help="Evaluate, train and score churn models on a flat table (CSV/Parquet). 扁平表建模。",
    no_args_is_help=True,
)

TargetOpt = Annotated[str, typer.Option("--target", help="The churn column. 流失标签列。")]
PositiveOpt = Annotated[
    str | None,
    typer.Option(
        "--positive", help="The target value that means churn (e.g. Yes). 代表流失的取值。"
    ),
]
FamiliesOpt = Annotated[
    str | None,
    typer.Option("--families", help="Comma-separated families [default: all in settings]."),
]


def _model_settings(workspace: Path | None) -> ModelSettings:
    # A flat table needs no workspace; use its [models] settings when one is given.
    if workspace is None:
        return ModelSettings()
    from ._common import settings_for

    return settings_for(workspace).models


def _families(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    from ..models.families import parse_families

    return parse_families(text, default=())


def _comparison(per_family: dict[str, dict[str, Any]], *, title: str, best: str | None) -> Table:
    from .model_cmd import comparison_table

    return comparison_table(per_family, title=title, champion=best, with_std=True)


@table_app.command("evaluate")
def evaluate(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per customer.")],
    target: TargetOpt,
    positive: PositiveOpt = None,
    cv: Annotated[int, typer.Option("--cv", help="Stratified folds.")] = 5,
    families: FamiliesOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Compare model families by stratified k-fold cross-validation. 交叉验证比较模型。"""
    from ..models.flat import evaluate_table, read_table

    settings = _model_settings(workspace)
    frame = read_table(file)
    chosen = _families(families)
    n = len(chosen or settings.families) * cv
    with progress(quiet=json) as bar:
        task = bar.add_task("cross-validating 交叉验证", total=n)
        result = evaluate_table(
            frame,
            target=target,
            positive=positive,
            folds=cv,
            families=chosen,
            settings=settings,
            on_fold=lambda _f, _i: bar.advance(task),
        )
    if json:
        emit_json(result)
        return
    console.print(
        _comparison(
            result["families"],
            title=(
                f"{file.name}: {result['rows']} rows, {result['positives']} churners, {cv}-fold CV"
            ),
            best=result["best"],
        )
    )
    dropped = result["plan"]["dropped"]
    if dropped:
        console.print(
            "dropped columns 已剔除列: " + ", ".join(f"{k} ({v})" for k, v in dropped.items())
        )
    console.print(f"best by ROC AUC 最佳模型: [bold]{result['best']}[/]")


@table_app.command("train")
def train(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per customer.")],
    target: TargetOpt,
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    positive: PositiveOpt = None,
    cv: Annotated[
        int, typer.Option("--cv", help="Folds used to pick and calibrate the family.")
    ] = 5,
    families: FamiliesOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train the best family on the whole table, calibrated, into a model directory. 训练模型。"""
    from ..models.flat import read_table, train_table

    settings = _model_settings(workspace)
    with progress(quiet=json) as bar:
        bar.add_task("training 训练中", total=None)
        result = train_table(
            read_table(file),
            target=target,
            positive=positive,
            families=_families(families),
            folds=cv,
            settings=settings,
            out=out,
        )
    if json:
        emit_json(result)
        return
    console.print(
        _comparison(result["families"], title=f"{file.name}: {cv}-fold CV", best=result["family"])
    )
    console.print(
        f"saved [bold]{result['family']}[/] (by {result['champion_metric']}) to {out} "
        f"已保存 · sha256 {result['checksum'][:12]}…"
    )


@table_app.command("score")
def score(
    model_dir: Annotated[Path, typer.Argument(help="A directory written by 'table train'.")],
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file to score.")],
    out: Annotated[Path, typer.Option("--out", help="Scores file (.csv or .parquet).")],
    top: Annotated[int, typer.Option("--top", help="Reasons per customer.")] = 3,
    json: JsonOpt = False,
) -> None:
    """Score a table: input columns + churn_probability + top_reasons. 打分并给出原因。"""
    from ..models.flat import read_table, score_table

    scored = score_table(model_dir, read_table(file), top=top)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in (".parquet", ".pq"):
        scored.to_parquet(out, index=False)
    else:
        scored.to_csv(out, index=False)
    summary = {
        "rows": len(scored),
        "out": str(out),
        "mean_probability": float(scored["churn_probability"].mean()),
    }
    if json:
        emit_json(summary)
        return
    console.print(
        f"scored {summary['rows']} rows 已打分 → {out} "
        f"(mean churn probability 平均流失概率 {summary['mean_probability']:.3f})"
    )


def register(app: typer.Typer) -> None:
    """Add the ``table`` sub-app."""
    app.add_typer(table_app, name="table")
