"""``churnguard simulate`` and ``churnguard world step``: the synthetic operator from the shell."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ._common import JsonOpt, console, emit_json, progress

__all__ = ["parse_chunk", "parse_mix", "parse_start", "register"]


def parse_start(text: str) -> date:
    """``YYYY-MM`` (or ``YYYY-MM-01``) as the first day of that month."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-01)?", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1971:
        raise InputError(f"--start must look like 2024-01 (year-month), got '{text}'")
    return date(int(m.group(1)), int(m.group(2)), 1)


def parse_mix(text: str) -> dict[str, float]:
    """``mobile=0.7,broadband=0.2,tv=0.1`` as a dict of shares."""
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise InputError(
                f"--mix must look like mobile=0.7,broadband=0.2,tv=0.1, got '{text}'"
            ) from None
    if not out:
        raise InputError("--mix is empty; e.g. mobile=0.7,broadband=0.2,tv=0.1")
    return out


def parse_chunk(text: str) -> tuple[int, int]:
    """``K/N`` (chunk K of N, 0-based) as a pair."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise InputError(f"--chunk must look like 0/10 (chunk K of N, 0-based), got '{text}'")
    return int(m.group(1)), int(m.group(2))


def _simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the tables and truth/.")],
    subscribers: Annotated[
        int, typer.Option("--subscribers", "-n", help="Initial base size.")
    ] = 20000,
    months: Annotated[int, typer.Option("--months", "-m", help="Months to simulate.")] = 18,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 7,
    start: Annotated[str, typer.Option("--start", help="First month, YYYY-MM.")] = "2024-01",
    mix: Annotated[
        str | None,
        typer.Option("--mix", help="Service shares, e.g. mobile=0.7,broadband=0.2,tv=0.1."),
    ] = None,
    dirty_rate: Annotated[
        float, typer.Option("--dirty-rate", help="Share of rows per table made defective.")
    ] = 0.0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    encoding: Annotated[
        str, typer.Option("--encoding", help="CSV encoding: utf-8 or gbk.")
    ] = "utf-8",
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            help="Simulate in chunks of at most this many subscribers (OUT_DIR/chunk-000/ ...; "
            "memory bounded by the chunk).",
        ),
    ] = None,
    chunk: Annotated[
        str | None,
        typer.Option("--chunk", help="Only chunk K of N equal chunks, written K/N (0-based)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate an operator (模拟运营商数据): contract tables plus the ground truth."""
    from ..simulate import simulate

    start_date = parse_start(start)
    shares = parse_mix(mix) if mix is not None else None
    if fmt not in ("parquet", "csv"):
        raise InputError(f"--format must be parquet or csv, got '{fmt}'")
    if encoding.lower() not in ("utf-8", "utf8", "gbk"):
        raise InputError(f"--encoding must be utf-8 or gbk, got '{encoding}'")
    enc = "gbk" if encoding.lower() == "gbk" else "utf-8"
    part = parse_chunk(chunk) if chunk is not None else None
    with progress(quiet=as_json) as bar:
        task = bar.add_task("simulating months / 模拟中", total=months)
        summary = simulate(
            out_dir,
            subscribers=subscribers,
            months=months,
            seed=seed,
            start=start_date,
            mix=shares,
            dirty_rate=dirty_rate,
            fmt="csv" if fmt == "csv" else "parquet",
            encoding="gbk" if enc == "gbk" else "utf-8",
            on_month=lambda done, total: bar.update(task, completed=done, total=total),
            chunk_size=chunk_size,
            chunk=part,
        )
    if as_json:
        emit_json(summary.as_dict())
        return
    table = Table(title="Simulated operator / 模拟运营商")
    table.add_column("table / 表")
    table.add_column("rows / 行数", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    rates = summary.monthly_voluntary_churn
    console.print(
        f"monthly voluntary churn / 月主动流失率: median {summary.median_voluntary_churn:.2%} "
        f"(min {min(rates):.2%}, max {max(rates):.2%})"
    )
    console.print(f"Bayes AUC of the true probabilities / 理论最优AUC: {summary.bayes_auc:.3f}")
    if summary.dirt:
        dirt = ", ".join(f"{k} {v}" for k, v in sorted(summary.dirt.items()))
        console.print(f"injected defects / 注入的脏数据: {dirt} (truth/dirt_manifest.parquet)")
    if summary.chunks:
        console.print(
            f"{len(summary.chunks)} chunk folder(s) / 分块目录 under {summary.out_dir} "
            "(each with its truth/); ingest them one after the other: "
            f"churnguard ingest {summary.out_dir}/chunk-000 ..."
        )
        return
    console.print(
        f"files / 文件: {summary.out_dir} (ground truth / 真实标签: {summary.out_dir / 'truth'})"
    )


def _step(
    out_dir: Annotated[Path, typer.Argument(help="Folder written by 'churnguard simulate'.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the new month's delta batch.")],
    treatments: Annotated[
        Path | None,
        typer.Option("--treatments", help="CSV or Parquet with subscriber_id, offer_type."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Advance a simulated world one month with treatments applied (推进一个月)."""
    import pandas as pd

    from ..errors import NotFoundError
    from ..simulate import step

    frame = None
    if treatments is not None:
        if not treatments.exists():
            raise NotFoundError(f"treatments file {treatments} does not exist")
        try:
            if treatments.suffix.lower() == ".parquet":
                frame = pd.read_parquet(treatments)
            else:
                frame = pd.read_csv(treatments, dtype=str)
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read treatments file {treatments}: {exc}") from exc
    summary = step(out_dir, treatments=frame, out=out)
    if as_json:
        emit_json(summary.as_dict())
        return
    console.print(
        f"simulated {summary.month} / 已推进至 {summary.month}: {summary.treated} treated / 干预, "
        f"{summary.saved} saved / 挽留, {summary.pushed} pushed away / 被推走"
    )
    console.print(
        f"voluntary churn untreated {summary.voluntary_churn_untreated:.2%} → with treatments "
        f"{summary.voluntary_churn:.2%} (主动流失率)"
    )
    console.print(f"delta batch / 增量批次: {summary.out}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and the ``world`` sub-app (``world step``)."""
    app.command("simulate")(_simulate)
    world = typer.Typer(
        help="Step a simulated world forward (retention loop).", no_args_is_help=True
    )
    world.command("step")(_step)
    app.add_typer(world, name="world")
