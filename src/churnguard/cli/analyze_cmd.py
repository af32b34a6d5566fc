"""``churnguard analyze <what>``: personas, rules, text, surveys, timing, groups, survival."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from ..months import parse_month
from ._common import JsonOpt, WorkspaceOpt, console, emit_json, settings_for

__all__ = ["register"]

analyze_app = typer.Typer(
    help="Churn analytics, each usable alone: who leaves, why, when, and together.",
    no_args_is_help=True,
)

AsOfOpt = Annotated[str, typer.Option("--as-of", help="Month analysed, YYYY-MM.")]
MonthsOpt = Annotated[
    int, typer.Option("--months", help="Labelled snapshot months up to --as-of to pool.")
]
LangOpt = Annotated[str, typer.Option("--lang", help="zh or en for the tables.")]


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*["–" if v is None else str(v) for v in r])
    console.print(table)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def _lang(lang: str) -> str:
    from ..analytics.texts import check_lang

    return check_lang(lang)


@analyze_app.command("personas")
def personas(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    months: MonthsOpt = 6,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """Clusters of churners and high-risk customers, each with a readable profile."""
    from ..analytics import churner_personas

    lg = _lang(lang)
    result = churner_personas(settings_for(workspace), as_of=parse_month(as_of), months=months)
    if json_out:
        emit_json(result.to_dict())
        return
    _table(
        f"Personas / 流失客户画像 ({result.window}, k={result.k})",
        ["persona", "customers", "churned", "high risk", "profile"],
        [
            [
                p.name_zh if lg == "zh" else p.name_en,
                p.customers,
                p.churners,
                p.high_risk,
                p.profile_zh if lg == "zh" else p.profile_en,
            ]
            for p in result.personas
        ],
    )


@analyze_app.command("rules")
def rules(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    months: MonthsOpt = 6,
    min_share: Annotated[
        float, typer.Option("--min-share", help="Share of churners an antecedent must cover.")
    ] = 0.05,
    min_lift: Annotated[float, typer.Option("--min-lift", help="Smallest lift kept.")] = 1.2,
    top: Annotated[int, typer.Option("--top", help="Rules shown.")] = 20,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """Association rules 'attributes → churn' with support, confidence and lift."""
    from ..analytics import churn_rules

    lg = _lang(lang)
    result = churn_rules(
        settings_for(workspace),
        as_of=parse_month(as_of),
        months=months,
        min_churner_share=min_share,
        min_lift=min_lift,
        top=top,
    )
    if json_out:
        emit_json(result.to_dict())
        return
    console.print(
        f"{result.churners:,} churners in {result.rows:,} customer-months ({result.window}), "
        f"base rate {_pct(result.base_rate)}"
    )
    _table(
        "Rules / 关联规则",
        ["rule", "support", "confidence", "lift", "customers"],
        [
            [
                r.text_zh if lg == "zh" else r.text_en,
                f"{r.support * 100:.2f}%",
                _pct(r.confidence),
                f"{r.lift:.2f}",
                r.customers,
            ]
            for r in result.rules
        ],
    )


@analyze_app.command("text")
def text(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    months: MonthsOpt = 6,
    top: Annotated[int, typer.Option("--top", help="Terms shown per side.")] = 20,
    write_features: Annotated[
        bool,
        typer.Option(
            "--write-features", help="Also store per-subscriber text features of --as-of."
        ),
    ] = False,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """Complaint terms that distinguish churners (jieba for Chinese), mapped to reasons."""
    from ..analytics import complaint_terms, write_text_features

    lg = _lang(lang)
    settings = settings_for(workspace)
    result = complaint_terms(settings, as_of=parse_month(as_of), months=months, top=top)
    stored = write_text_features(settings, as_of=parse_month(as_of)) if write_features else None
    if json_out:
        emit_json({**result.to_dict(), "features": stored.to_dict() if stored else None})
        return
    console.print(
        f"{result.churner_complaints:,} churners' complaints vs {result.other_complaints:,} "
        f"others' ({result.window})"
    )
    _table(
        "Churners' terms / 流失客户投诉特征词",
        ["term", "churners", "others", "z", "category"],
        [
            [
                t.term,
                _pct(t.churner_share),
                _pct(t.other_share),
                f"{t.z:.2f}",
                t.category_zh if lg == "zh" else t.category_en,
            ]
            for t in result.churner_terms
        ],
    )
    if stored:
        console.print(
            f"text features of {stored.as_of}: {stored.subscribers:,} subscribers in "
            f"warehouse table {stored.table}"
        )


@analyze_app.command("surveys")
def surveys(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    months: MonthsOpt = 6,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """CSAT and NPS by segment and their relation to churn."""
    from ..analytics import survey_analysis

    lg = _lang(lang)
    result = survey_analysis(settings_for(workspace), as_of=parse_month(as_of), months=months)
    if json_out:
        emit_json(result.to_dict())
        return
    console.print(
        f"{result.responses:,} surveys ({result.window}); CSAT {result.csat_mean or 0:.2f}, "
        f"NPS {result.nps or 0:.1f}"
    )
    _table(
        "By segment / 按细分",
        ["segment", "responses", "CSAT", "NPS", "churn rate"],
        [
            [
                r["zh"] if lg == "zh" else r["en"],
                r["responses"],
                f"{r['csat_mean']:.2f}" if r["csat_mean"] is not None else None,
                f"{r['nps']:.1f}" if r["nps"] is not None else None,
                _pct(r["churn_rate"]),
            ]
            for r in result.by_segment
        ],
    )
    _table(
        "Churn by NPS group / 按 NPS 分组的流失率",
        ["group", "responses", "churn rate"],
        [
            [r["zh"] if lg == "zh" else r["en"], r["responses"], _pct(r["churn_rate"])]
            for r in result.churn_by_nps
        ],
    )


@analyze_app.command("timing")
def timing(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    months: MonthsOpt = 6,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """Churn by month, tenure and contract end, with peaks flagged."""
    from ..analytics import churn_timing

    lg = _lang(lang)
    result = churn_timing(settings_for(workspace), as_of=parse_month(as_of), months=months)
    if json_out:
        emit_json(result.to_dict())
        return
    _table(
        "Churn rate by month / 月度流失率",
        ["month", "base", "churn rate", "peak"],
        [
            [r.as_of, r.base, _pct(r.churn_rate), "★" if r.peak else ""]
            for r in result.by_month
            if r.by == "all"
        ],
    )
    for title, rows in (
        ("By tenure / 按在网时长", result.by_tenure),
        ("By contract end / 按合约到期", result.by_contract),
    ):
        _table(
            title,
            ["band", "customer-months", "churned", "churn rate"],
            [
                [
                    r.label_zh if lg == "zh" else r.label_en,
                    r.customers,
                    r.churners,
                    _pct(r.churn_rate),
                ]
                for r in rows
            ],
        )
    for note in result.notes:
        console.print(note.pick(lg))


@analyze_app.command("survival")
def survival(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    lang: LangOpt = "zh",
    json_out: JsonOpt = False,
) -> None:
    """Kaplan–Meier survival by plan, tenure band and segment, with log-rank tests."""
    from ..analytics import survival_analysis

    lg = _lang(lang)
    result = survival_analysis(settings_for(workspace), as_of=parse_month(as_of))
    if json_out:
        emit_json(result.to_dict())
        return
    for dim in result.dimensions:
        p = "–" if dim.logrank_p is None else f"{dim.logrank_p:.3g}"
        _table(
            f"{dim.title_zh if lg == 'zh' else dim.title_en} (log-rank p = {p})",
            ["group", "customers", "churned", f"still active at {result.end}"],
            [
                [
                    c.label_zh if lg == "zh" else c.label_en,
                    c.customers,
                    c.events,
                    _pct(c.survival_at_end),
                ]
                for c in dim.curves
            ],
        )


@analyze_app.command("groups")
def groups(
    as_of: AsOfOpt,
    workspace: WorkspaceOpt = None,
    min_churned: Annotated[
        int, typer.Option("--min-churned", help="Members who left in 3 months to list a group.")
    ] = 2,
    top: Annotated[int, typer.Option("--top", help="Rows per list.")] = 50,
    clear_text: Annotated[
        bool,
        typer.Option("--clear-text", help="Unmasked personal data, if the workspace allows it."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """VPMN groups with collective churn and second-SIM big customers, with evidence."""
    from ..analytics import group_analysis

    result = group_analysis(
        settings_for(workspace),
        as_of=parse_month(as_of),
        min_churned=min_churned,
        top=top,
        clear_text=clear_text,
    )
    if json_out:
        emit_json(result.to_dict())
        return
    _table(
        f"Collective churn / 集体离网 ({result.as_of})",
        ["group", "active", "left 3m", "share", "signs", "warning", "leavers"],
        [
            [
                g["group_id"],
                g["active_members"],
                g["churned_3m"],
                _pct(g["churn_share_3m"]),
                g["signalling"],
                (g["group_warning"] or {}).get("level"),
                ", ".join(f"{x['msisdn']} {x['name']}" for x in g["leavers"][:4]),
            ]
            for g in result.groups
        ],
    )
    _table(
        f"Second SIM / 一人多卡 (in/out ≥ {result.second_sim_ratio:g})",
        ["subscriber", "number", "name", "in/out", "off-net", "forwarded", "ARPU"],
        [
            [
                r["subscriber_id"],
                r["msisdn"],
                r["name"],
                f"{r['calls_in_out_ratio_3m']:.1f}",
                _pct(r["offnet_share_3m"]),
                r["call_forward_offnet_3m"],
                f"{r['arpu_3m']:.0f}",
            ]
            for r in result.second_sim
        ],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(analyze_app, name="analyze")
