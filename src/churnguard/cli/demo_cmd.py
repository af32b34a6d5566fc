"""``churnguard demo``: the whole loop on a simulated operator, stage by stage.

Each step runs the same command a user would type, in-process, so the demo
shows exactly what the CLI does and stays true as stages change.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.rule import Rule

from ..config import resolve_workspace
from ..months import add_months
from ._common import console, settings_for
from .simulate_cmd import parse_start

__all__ = ["register"]


def demo(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="CHURNGUARD_WORKSPACE",
            help="Workspace to build [default: ./churnguard-workspace].",
            show_default=False,
        ),
    ] = None,
    subscribers: Annotated[int, typer.Option(help="Simulated subscribers.")] = 20000,
    months: Annotated[int, typer.Option(help="Simulated months of history.")] = 18,
    seed: Annotated[int, typer.Option(help="Seed of the simulated operator.")] = 7,
    start: Annotated[str, typer.Option(help="First simulated month, YYYY-MM.")] = "2024-01",
    dirty_rate: Annotated[
        float, typer.Option("--dirty-rate", help="Share of defective rows to inject.")
    ] = 0.01,
    fresh: Annotated[
        bool, typer.Option("--fresh/--keep", help="Start from an empty workspace.")
    ] = True,
) -> None:
    """Run every stage end to end on a simulated operator and say where to look."""
    from . import app

    ws = resolve_workspace(workspace)
    if fresh and ws.exists():
        if not (ws / "churnguard.toml").exists():
            from ..errors import InputError

            raise InputError(
                f"{ws} exists and is not a churnguard workspace; pick another --workspace"
            )
        shutil.rmtree(ws)
    settings = settings_for(ws, create=True)
    data = ws / "demo-data" / "operator"
    last = add_months(parse_start(start), months - 1)
    as_of = f"{last:%Y-%m}"
    w = ["--workspace", str(ws)]
    steps: list[tuple[str, list[str]]] = [
        (
            "simulate the operator / 生成模拟运营商数据",
            [
                "simulate",
                str(data),
                "--subscribers",
                str(subscribers),
                "--months",
                str(months),
                "--seed",
                str(seed),
                "--start",
                start,
                "--dirty-rate",
                str(dirty_rate),
            ],
        ),
        ("ingest with validation and quarantine / 数据接入与隔离", ["ingest", str(data), *w]),
        ("quarantined rows by reason / 隔离原因", ["quarantine", "list", *w]),
        ("feature snapshot / 特征快照", ["features", "build", "--as-of", as_of, *w]),
        ("train and compare models / 模型训练与比较", ["model", "train", "--as-of", as_of, *w]),
        ("score every subscriber / 全量打分", ["score", "--as-of", as_of, *w]),
        ("graded warnings / 分级预警", ["warn", "--as-of", as_of, "--no-push", *w]),
        (
            "worklist for the key-account managers / 大客户经理工作清单",
            [
                "worklist",
                "--queue",
                "key_accounts",
                "--format",
                "xlsx",
                "--out",
                str(settings.reports_dir / "worklist-key_accounts.xlsx"),
                *w,
            ],
        ),
    ]
    started = time.perf_counter()
    for i, (title, args) in enumerate(steps, 1):
        console.print(Rule(f"[bold]{i}/{len(steps)} {title}[/]"))
        t0 = time.perf_counter()
        code = app(args, standalone_mode=False)
        if isinstance(code, int) and code != 0:
            raise typer.Exit(code)
        console.print(f"[dim]{time.perf_counter() - t0:.1f} s[/]")
    console.print(Rule("[bold green]done / 完成[/]"))
    console.print(
        f"The whole loop ran in {time.perf_counter() - started:.0f} s. Where to look:\n"
        f"  workspace        {ws}\n"
        f"  simulated data   {data} (ground truth in {data / 'truth'})\n"
        f"  warehouse        {settings.warehouse_path}\n"
        f"  models           {settings.models_dir}\n"
        f"  worklist (XLSX)  {settings.reports_dir / 'worklist-key_accounts.xlsx'}\n"
        f"Next: churnguard model list -w {ws} · churnguard worklist --queue outbound_red "
        f"-w {ws} · churnguard quarantine show -w {ws}"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
