"""``churnguard ingest`` and ``churnguard quarantine list|show|export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ._common import JsonOpt, WorkspaceOpt, console, emit_json, err_console, settings_for

__all__ = ["register"]

TableOpt = Annotated[
    str | None, typer.Option("--table", "-t", help="Only this contract table. 只看该表。")
]
ReasonOpt = Annotated[
    str | None, typer.Option("--reason", "-r", help="Only this reason code. 只看该原因。")
]
BatchOpt = Annotated[str | None, typer.Option("--batch", "-b", help="Only this batch id.")]


def _ingest(
    source: Annotated[
        Path, typer.Argument(help="Folder of <table>.csv|.parquet files. 数据文件夹。")
    ],
    workspace: WorkspaceOpt = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="CSV text encoding: auto, utf-8 or gbk [default: from the workspace, auto].",
            show_default=False,
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="Column mapping file (YAML/TOML), see docs/ingest.md."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Batch month YYYY-MM; rows dated later are quarantined [default: this month].",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest a folder of operator files into the warehouse; print the reconciliation.

    导入运营商数据文件：校验、隔离问题行、入库，并打印对账结果。
    """
    from ..ingest import ingest
    from ..months import parse_month

    settings = settings_for(workspace, create=True)
    month = parse_month(as_of) if as_of else None
    with err_console.status("ingesting…", spinner="dots") if not json_out else _null():
        report = ingest(
            source,
            settings=settings,
            encoding=encoding or settings.ingest.encoding,
            mapping=mapping,
            as_of=month,
        )
    resolved = _resolve_campaigns(settings)
    if json_out:
        emit_json({**report.to_dict(), "campaigns_resolved": resolved})
        return
    for cid, counts in resolved.items():
        console.print(f"campaign {cid}: outcomes resolved from the new data {counts}")
    table = Table(
        title=f"batch {report.batch_id} · as of {report.as_of:%Y-%m} · 批次对账",
        title_justify="left",
    )
    for col, zh in (
        ("table", "表"),
        ("read", "读取"),
        ("loaded", "新增"),
        ("updated", "更新"),
        ("unchanged", "未变"),
        ("quarantined", "隔离"),
        ("reasons", "隔离原因"),
    ):
        table.add_column(f"{col}\n{zh}", justify="left" if col in ("table", "reasons") else "right")
    for name, t in report.tables.items():
        reasons = "\n".join(f"{k} {v:,}" for k, v in t.reasons.items())
        table.add_row(
            name,
            f"{t.read:,}",
            f"{t.loaded:,}",
            f"{t.updated:,}",
            f"{t.unchanged:,}",
            f"[red]{t.quarantined:,}[/]" if t.quarantined else "0",
            reasons,
        )
    console.print(table)
    if report.quarantined:
        console.print(
            f"{report.quarantined:,} rows quarantined / 行被隔离: "
            "see 'churnguard quarantine list' and 'churnguard quarantine show'"
        )
    if report.ignored_files:
        console.print(f"ignored / 已忽略: {', '.join(report.ignored_files)}")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


quarantine_app = typer.Typer(
    help="Inspect, show and export quarantined rows. 查看、导出被隔离的数据行。",
    no_args_is_help=True,
)


@quarantine_app.command("list")
def _list(
    workspace: WorkspaceOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = None,
    batch: BatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Count quarantined rows by table, reason and batch. 按表、原因、批次统计。"""
    from ..contract import RejectReason
    from ..ingest import quarantine_summary

    settings = settings_for(workspace)
    counts = quarantine_summary(settings, table=table, reason=reason, batch=batch)
    if json_out:
        emit_json(
            {
                "counts": [
                    {"table": c.table, "reason": c.reason, "batch_id": c.batch_id, "rows": c.rows}
                    for c in counts
                ]
            }
        )
        return
    if not counts:
        console.print("the quarantine is empty / 隔离区为空")
        return
    out = Table(title="quarantine / 隔离区", title_justify="left")
    for col in ("table\n表", "reason\n原因", "batch\n批次", "rows\n行数"):
        out.add_column(col, justify="right" if col.startswith("rows") else "left")
    for c in counts:
        r = RejectReason(c.reason)
        out.add_row(c.table, f"{c.reason}\n{r.zh}", c.batch_id, f"{c.rows:,}")
    console.print(out)


@quarantine_app.command("show")
def _show(
    workspace: WorkspaceOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = None,
    batch: BatchOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Rows to show.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Show quarantined rows with their reasons; personal data masked. 显示隔离行（脱敏）。"""
    from ..ingest import quarantine_rows

    settings = settings_for(workspace)
    rows = quarantine_rows(settings, table=table, reason=reason, batch=batch, limit=limit)
    if json_out:
        emit_json(
            {
                "rows": [
                    {
                        "table": r.table,
                        "batch_id": r.batch_id,
                        "source_file": r.source_file,
                        "source_row": r.source_row,
                        "source_line": r.source_line,
                        "reasons": list(r.reasons),
                        "detail": r.detail,
                        "values": r.values,
                    }
                    for r in rows
                ]
            }
        )
        return
    if not rows:
        console.print("no quarantined rows match / 没有匹配的隔离行")
        return
    out = Table(title="quarantined rows / 隔离行", title_justify="left", show_lines=True)
    for col in ("file:row\n文件:行", "reasons\n原因", "detail\n说明", "values\n原始值"):
        out.add_column(col, overflow="fold")
    for r in rows:
        where = f"{r.source_file}:{r.source_row}"
        if r.source_line is not None:
            where += f"\n(line {r.source_line})"
        values = ", ".join(f"{k}={'' if v is None else v}" for k, v in r.values.items())
        out.add_row(where, "\n".join(r.reasons), r.detail or "", values)
    console.print(out)


@quarantine_app.command("export")
def _export(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write.")],
    workspace: WorkspaceOpt = None,
    table: TableOpt = None,
    reason: ReasonOpt = None,
    batch: BatchOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export quarantined rows whole, with reasons, to fix and re-ingest. 导出隔离行以便修正。"""
    from ..ingest import export_quarantine

    settings = settings_for(workspace)
    n = export_quarantine(settings, out, table=table, reason=reason, batch=batch)
    if json_out:
        emit_json({"rows": n, "out": str(out)})
        return
    console.print(f"{n:,} rows written to {out} / 已导出")


def _resolve_campaigns(settings: Any) -> dict[str, dict[str, int]]:
    """New data may close campaigns' observation windows: resolve their outcomes now."""
    from ..retention.outcomes import resolve_outcomes

    return {str(k): v for k, v in resolve_outcomes(settings).resolved.items()}


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and the ``quarantine`` sub-commands to the CLI."""
    app.command("ingest")(_ingest)
    app.add_typer(quarantine_app, name="quarantine")
