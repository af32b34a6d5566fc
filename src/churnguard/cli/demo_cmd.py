"""``churnguard demo``: the whole loop on a simulated operator, stage by stage.

Each step runs the same command a user would type, in-process, so the demo
shows exactly what the CLI does and stays true as stages change.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.rule import Rule

from ..config import resolve_workspace
from ..months import add_months
from ._common import console, settings_for
from .simulate_cmd import parse_start

if TYPE_CHECKING:
    from ..config import Settings

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
    steps: list[tuple[str, list[str] | Callable[[], None]]] = [
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
    _demo_delivery(ws)
    budget = str(round(subscribers * 0.5))
    steps += [
        (
            "plan a retention campaign with a control group / 挽留活动方案（含对照组）",
            [
                "campaign",
                "plan",
                "--as-of",
                as_of,
                "--budget",
                budget,
                "--explore",
                "0.2",
                "--run-date",
                f"{add_months(last, 1):%Y-%m-%d}",
                *w,
            ],
        ),
        ("deliver the contacts (call lists) / 发送联系任务", ["campaign", "send", "1", *w]),
        (
            "the simulated customers live two more months / 模拟客户再过两个月",
            lambda: _live_two_months(settings, data, campaign_id=1),
        ),
        ("resolve outcomes of treated and control / 结果判定", ["campaign", "resolve", *w]),
        ("retention KPIs vs control / 挽留效果指标", ["kpi", "--months", "3", *w]),
    ]
    started = time.perf_counter()
    for i, (title, action) in enumerate(steps, 1):
        console.print(Rule(f"[bold]{i}/{len(steps)} {title}[/]"))
        t0 = time.perf_counter()
        if callable(action):
            action()
        else:
            code = app(action, standalone_mode=False)
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
        f"  call list        {settings.reports_dir / 'campaign-1-calls.xlsx'}\n"
        f"Next: churnguard campaign show 1 -w {ws} · churnguard kpi --campaign 1 -w {ws} · "
        f"churnguard worklist --queue outbound_red -w {ws} · churnguard model list -w {ws}"
    )
    _dashboard_login(settings, ws)


def _dashboard_login(settings: Settings, ws: Path) -> None:
    """A manager who can sign in to the dashboard, with a random password shown once."""
    import secrets

    from ..errors import StateError
    from ..service.audit import append
    from ..service.auth import create_user

    name = "demo_manager"
    password = secrets.token_urlsafe(12)
    try:
        create_user(settings, name, role="manager", password=password)
    except StateError:  # --keep on a workspace that has one: its password is unchanged
        console.print(f"Dashboard: user {name} exists already (password unchanged).")
        password = ""
    else:
        append(
            settings,
            actor="cli:demo",
            role=None,
            action="user.created",
            target=f"user:{name}",
            details={"role": "manager", "queues": [], "password": True},
        )
    console.print(
        f"Dashboard / 看板:\n"
        f"  start  churnguard serve --workspace {ws}\n"
        f"  open   http://127.0.0.1:8000/ui/\n"
        f"  login  {name}"
        + (f" / {password}  (the password is shown only now)" if password else "")
    )


def _demo_delivery(ws: Path) -> None:
    """No gateways in the demo: every channel's contacts go to the call-centre list."""
    cfg = ws / "churnguard.toml"
    text = cfg.read_text(encoding="utf-8")
    if "[retention.delivery" in text:
        return
    extra = "".join(
        f'\n[retention.delivery.{ch}]\nkind = "call_list"\n'
        for ch in ("sms", "wechat", "app_push", "email", "phone")
    )
    cfg.write_text(text + extra, encoding="utf-8")


def _live_two_months(settings: Settings, data: Path, *, campaign_id: int) -> None:
    """Step the simulated world with the campaign's treatments, then one quiet month."""
    import sqlalchemy as sa

    from ..ingest import ingest
    from ..retention.store import CampaignMember
    from ..simulate import step
    from ..warehouse.operational import session_scope

    m = CampaignMember.__table__
    with session_scope(settings) as session:
        rows = session.execute(
            sa.select(m.c.subscriber_id, m.c.offer).where(
                m.c.campaign_id == campaign_id,
                m.c.arm == "treatment",
                m.c.contact_status == "sent",
            )
        ).all()
    treated = pd.DataFrame(rows, columns=["subscriber_id", "offer_type"])
    for k, treatments in enumerate((treated, None), 1):
        out = data.parent / f"step-{k}"
        summary = step(data, treatments=treatments, out=out)
        report = ingest(out, settings=settings)
        effect = (
            f"{summary.treated} contacted customers; voluntary churn "
            f"{summary.voluntary_churn:.2%} (true rate without the campaign "
            f"{summary.voluntary_churn_untreated:.2%})"
            if summary.treated
            else f"no campaign; voluntary churn {summary.voluntary_churn:.2%}"
        )
        console.print(
            f"{summary.month}: {effect}; ingested {report.read - report.quarantined:,} "
            f"of {report.read:,} rows"
        )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
