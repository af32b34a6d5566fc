"""Render the data-contract reference (docs/data-contract.md) from the table schemas.

Regenerate with ``python -m churnguard.contract.docs > docs/data-contract.md``; a
test fails when the committed page and the contract disagree.
"""

from __future__ import annotations

from .reasons import RejectReason
from .schema import Column, ColumnType, TableSchema
from .tables import TABLES

__all__ = ["render_data_contract"]

_TYPE_TEXT = {
    ColumnType.STRING: ("text", "文本"),
    ColumnType.INT: ("integer", "整数"),
    ColumnType.FLOAT: ("number", "数值"),
    ColumnType.BOOL: ("true/false", "布尔"),
    ColumnType.DATE: ("date", "日期"),
    ColumnType.MONTH: ("month (1st day)", "月份（月初）"),
    ColumnType.TIMESTAMP: ("timestamp", "时间"),
}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _rule(col: Column) -> str:
    if col.allowed is not None:
        return " · ".join(f"`{a}`" for a in col.allowed)
    lo, hi = col.minimum, col.maximum
    unit = f" {col.unit}" if col.unit else ""
    if lo is not None and hi is not None:
        return f"{_num(lo)} – {_num(hi)}{unit}"
    if lo is not None:
        return f"≥ {_num(lo)}{unit}"
    if hi is not None:
        return f"≤ {_num(hi)}{unit}"
    return unit.strip()


def _esc(text: str) -> str:
    return text.replace("|", "\\|")


def _table(t: TableSchema) -> list[str]:
    lines = [
        f"## `{t.name}`",
        "",
        f"{t.en}  ",
        f"{t.zh}",
        "",
        f"- grain / 粒度: {t.grain}",
        f"- file / 文件: `{t.name}.csv` or `{t.name}.parquet`",
        f"- natural key / 主键: {', '.join(f'`{k}`' for k in t.natural_key)}",
    ]
    if t.time_column:
        lines.append(f"- dated by / 日期列: `{t.time_column}`")
    if t.references_subscribers:
        lines.append("- `subscriber_id` must exist in `subscribers` / 用户须存在于 subscribers")
    lines += [
        "",
        "| column 字段 | type 类型 | required 必填 | allowed / range 取值 | personal 个人信息 "
        "| description | 说明 |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in t.columns:
        en, zh = _TYPE_TEXT[c.type]
        lines.append(
            f"| `{c.name}` | {en} · {zh} · `{c.type.sql}` | {'yes 是' if c.required else ''} | "
            f"{_esc(_rule(c))} | {'yes 是' if c.personal else ''} | {_esc(c.en)} | {_esc(c.zh)} |"
        )
    lines.append("")
    return lines


def render_data_contract() -> str:
    """Markdown of every contract table, column and reject reason, in English and Chinese."""
    lines = [
        "# Data contract / 数据接口规范",
        "",
        "The tables churnguard takes in, one file per table. Column names are the contract:",
        "map yours onto them with a mapping file (see [ingest.md](ingest.md)). Extra columns are",
        "kept; optional columns may be missing. Only `subscribers` is needed in the first batch.",
        "Generated from `churnguard.contract` by",
        "`python -m churnguard.contract.docs > docs/data-contract.md` — do not edit by hand.",
        "",
        "本文档列出 churnguard 接收的数据表（每表一个文件）。字段名即接口规范：",
        "可通过映射文件将贵司字段名映射到规范字段（见 [ingest.md](ingest.md)）。",
        "多余字段会保留；非必填字段可缺失。",
        "首个批次必须包含 `subscribers`（用户资料表）。",
        "",
        "Dates: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`; months: the first day of the month,",
        "or `YYYY-MM` / `YYYYMM`; timestamps: `YYYY-MM-DD HH:MM:SS`. True/false: `true/false`,",
        "`1/0`, `yes/no`, `y/n`, `是/否`. 日期格式：`YYYY-MM-DD`、`YYYY/MM/DD` 或 `YYYYMMDD`；",
        "月份须为月初日期，或写作 `YYYY-MM` / `YYYYMM`。",
        "",
        "| table 表 | grain 粒度 | natural key 主键 | description 说明 |",
        "|---|---|---|---|",
    ]
    for t in TABLES.values():
        lines.append(
            f"| [`{t.name}`](#{t.name}) | {t.grain} | {', '.join(t.natural_key)} | {t.en} {t.zh} |"
        )
    lines.append("")
    for t in TABLES.values():
        lines += _table(t)
    lines += [
        "## Reject reasons / 隔离原因",
        "",
        "A row that breaks the contract is quarantined with every reason that applies.",
        "不符合规范的数据行会被隔离，并记录所有适用的原因。",
        "",
        "| code 代码 | meaning | 含义 |",
        "|---|---|---|",
    ]
    lines += [f"| `{r.value}` | {r.en} | {r.zh} |" for r in RejectReason]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regeneration entry point
    import sys

    sys.stdout.write(render_data_contract())
