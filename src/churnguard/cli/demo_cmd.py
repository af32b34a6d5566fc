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
    run_day = f"{add_months(last, 1):%Y-%m-%d}"
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
                run_day,
                *w,
            ],
        ),
        ("deliver the contacts (call lists) / 发送联系任务", ["campaign", "send", "1", *w]),
        (
            "win back customers who left, with a control group / 流失客户挽回（含对照组）",
            [
                "winback",
                "plan",
                "--as-of",
                as_of,
                "--budget",
                str(round(subscribers * 0.25)),
                "--holdout",
                "0.3",
                "--run-date",
                run_day,
                *w,
            ],
        ),
        ("deliver the win-back contacts / 发送挽回联系", ["campaign", "send", "2", *w]),
        (
            "care program: contract renewal reminder with a holdout / 客户关怀：合约到期提醒",
            ["care", "run", "renewal_reminder", "--as-of", as_of, "--run-date", run_day, *w],
        ),
        ("deliver the care contacts / 发送关怀联系", ["campaign", "send", "3", *w]),
        (
            "the simulated customers live two more months / 模拟客户再过两个月",
            lambda: _live_two_months(settings, data, campaign_ids=(1, 3), winback_id=2),
        ),
        ("resolve outcomes of treated and control / 结果判定", ["campaign", "resolve", *w]),
        ("retention KPIs vs control / 挽留效果指标", ["kpi", "--months", "3", *w]),
        (
            "win-back and care results vs control, and the simulator's truth / 挽回与关怀效果",
            lambda: _print_effects(settings, data, winback_id=2, care_id=3),
        ),
        ("team performance / 团队绩效", ["kpi", "--by", "team", *w]),
        (
            "the monthly report, Chinese and English / 月度分析报告（中英文）",
            lambda: _write_reports(settings, as_of=as_of),
        ),
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
        f"  monthly report   {settings.reports_dir / f'report-{as_of}-zh.html'} "
        f"(English: report-{as_of}-en.html)\n"
        f"Next: churnguard campaign show 1 -w {ws} · churnguard kpi --campaign 1 -w {ws} · "
        f"churnguard worklist --queue outbound_red -w {ws} · churnguard model list -w {ws}"
    )
    _dashboard_login(settings, ws)


def _write_reports(settings: Settings, *, as_of: str) -> None:
    """The month's report in both languages (the second reuses what the first computed)."""
    from ..report import build_report, render_report

    zh = build_report(settings, as_of=as_of, lang="zh")
    for report in (zh, build_report(settings, as_of=as_of, lang="en", data=zh.data)):
        path = render_report(report, settings=settings)
        missing = f" (no input yet: {', '.join(report.missing)})" if report.missing else ""
        console.print(f"{report.lang}: {path} — {len(report.sections)} sections{missing}")


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


def _sent(settings: Settings, campaign_ids: tuple[int, ...]) -> pd.DataFrame:
    import sqlalchemy as sa

    from ..retention.store import CampaignMember
    from ..warehouse.operational import session_scope

    m = CampaignMember.__table__
    with session_scope(settings) as session:
        rows = session.execute(
            sa.select(m.c.subscriber_id, m.c.offer)
            .where(
                m.c.campaign_id.in_(campaign_ids),
                m.c.arm == "treatment",
                m.c.contact_status == "sent",
            )
            .order_by(m.c.campaign_id)
        ).all()
    return pd.DataFrame(rows, columns=["subscriber_id", "offer_type"])


def _live_two_months(
    settings: Settings, data: Path, *, campaign_ids: tuple[int, ...], winback_id: int | None = None
) -> None:
    """Step the simulated world with the campaigns' treatments, then one quiet month."""
    from ..ingest import ingest
    from ..simulate import OFFER_TYPES, step

    treated = _sent(settings, campaign_ids)
    # care messages without an offer (greetings, calls) have no true response in the simulator
    treated = treated[treated["offer_type"].isin(OFFER_TYPES)]
    winback = _sent(settings, (winback_id,)) if winback_id is not None else None
    # an empty win-back frame: churned customers may still come back on their own
    quiet = None if winback is None else winback.iloc[0:0]
    for k, (treatments, wb) in enumerate(((treated, winback), (None, quiet)), 1):
        out = data.parent / f"step-{k}"
        summary = step(data, treatments=treatments, out=out, winback=wb)
        report = ingest(out, settings=settings)
        effect = (
            f"{summary.treated} contacted customers; voluntary churn "
            f"{summary.voluntary_churn:.2%} (true rate without the campaign "
            f"{summary.voluntary_churn_untreated:.2%})"
            if summary.treated
            else f"no campaign; voluntary churn {summary.voluntary_churn:.2%}"
        )
        if summary.winback_treated:
            effect += (
                f"; {summary.winback_treated} churned customers got a win-back offer, "
                f"{summary.returned_treated} of them returned"
            )
        console.print(
            f"{summary.month}: {effect}; {summary.returned} returned customers in all; "
            f"ingested {report.read - report.quarantined:,} of {report.read:,} rows"
        )


def _print_effects(settings: Settings, data: Path, *, winback_id: int, care_id: int) -> None:
    """Measured effects of the win-back campaign and the care program vs their controls,
    next to the simulator's truth for the same customers."""
    from ..retention.kpi import campaign_kpis

    truth = data / "truth"

    def ci(k: dict[str, object]) -> str:
        lo_hi = k.get("incremental_ci95")
        if not isinstance(lo_hi, list):
            return "—"
        return f"[{lo_hi[0]:+.2%}, {lo_hi[1]:+.2%}]"

    wb = campaign_kpis(settings, campaign_id=winback_id)[0]
    wb_sent = _sent(settings, (winback_id,))
    log = pd.read_parquet(truth / "winback_log.parquet")
    log = log[log["subscriber_id"].isin(wb_sent["subscriber_id"])]
    true_extra = int((log["returned_treated"] & ~log["returned_untreated"]).sum())
    true_lift = float((log["p_treated"] - log["p_untreated"]).mean()) if len(log) else 0.0
    lift = wb.get("incremental_winback")
    console.print(
        f"win-back campaign {winback_id} / 挽回活动: returned {wb['returned_treated']} of "
        f"{wb['resolved_treated']} treated ({_pct(wb.get('winback_rate_treated'))}) vs "
        f"{wb['returned_control']} of {wb['resolved_control']} control "
        f"({_pct(wb.get('winback_rate_control'))}); incremental win-back "
        f"{_pct(lift, signed=True)} {ci(wb)}; cost per returned customer "
        f"{_num(wb.get('cost_per_returned'))}; value regained {_num(wb.get('value_regained'))}"
    )
    console.print(
        f"  simulator's truth for the treated: expected lift {true_lift:+.2%}; "
        f"{true_extra} returned only because of the offer"
    )
    care = campaign_kpis(settings, campaign_id=care_id)[0]
    care_sent = _sent(settings, (care_id,))
    tl = pd.read_parquet(truth / "treatment_log.parquet")
    tl = tl[tl["subscriber_id"].isin(care_sent["subscriber_id"])]
    care_true = float((tl["p_untreated"] - tl["p_treated"]).mean()) if len(tl) else 0.0
    care_saved = int((tl["churned_untreated"] & ~tl["churned_treated"]).sum())
    console.print(
        f"care program (campaign {care_id}) / 客户关怀: retention "
        f"{_pct(care.get('retention_rate_treated'))} treated ({care['resolved_treated']}) vs "
        f"{_pct(care.get('retention_rate_control'))} "
        f"holdout ({care['resolved_control']}); incremental retention "
        f"{_pct(care.get('incremental_retention'), signed=True)} {ci(care)}"
    )
    console.print(
        f"  simulator's truth for the treated: expected lift {care_true:+.2%}; "
        f"{care_saved} stayed only because of the contact"
    )


def _pct(v: object, *, signed: bool = False) -> str:
    if not isinstance(v, int | float):
        return "—"
    return f"{v:+.2%}" if signed else f"{v:.2%}"


def _num(v: object) -> str:
    return f"{v:,.0f}" if isinstance(v, int | float) else "—"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
