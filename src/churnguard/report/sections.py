"""The report's section builders: each reads what it needs and returns a :class:`Section`.

:data:`SECTIONS` is the report's table of contents. A builder is any callable
``(ReportContext) -> Section``; adding one (say, team performance) is one line::

    SECTIONS = (*SECTIONS, team_performance)

A builder whose input is missing raises :class:`MissingInput` with a bilingual
note, and the report shows the note instead of the section's content.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..analytics.texts import Bi, label
from ..months import add_months
from ..web import charts
from .model import Chart, MissingInput, ReportContext, Section, SectionBuilder, TableBlock

if TYPE_CHECKING:
    from ..analytics.timing import MonthRate

__all__ = ["SECTIONS"]

_FONT = {"family": "Noto Sans CJK SC, Noto Sans SC, Microsoft YaHei, sans-serif", "size": 12}
_PEAK = "#d62728"


def _fig(title: str, data: list[dict[str, Any]], **layout: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}},
        "font": _FONT,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "height": 320,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "y": -0.2},
    }
    base.update(layout)
    return {"data": data, "layout": base}


def _pct(v: float | None, digits: int = 1) -> str:
    return (
        "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.{digits}f}%"
    )


def _num(v: float | None, digits: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


# -- churn trend ---------------------------------------------------------------------------


def _trend_chart(ctx: ReportContext, rows: list[MonthRate], by: str, title: str) -> Chart:
    part = [r for r in rows if r.by == by]
    months = sorted({r.as_of for r in part})
    series = {
        ctx.t(label(by, seg)): [
            next((r.churn_rate for r in part if r.segment == seg and r.as_of == m), None)
            for m in months
        ]
        for seg in sorted({r.segment for r in part})
    }
    spec = charts.line_chart(title, months, series, percent=True)
    peaks = [r for r in part if r.peak]
    if peaks:
        spec["data"].append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": ctx.tr("峰值", "peak"),
                "x": [r.as_of for r in peaks],
                "y": [r.churn_rate for r in peaks],
                "marker": {"symbol": "star", "size": 14, "color": _PEAK},
            }
        )
    return Chart(f"trend-{by}", spec)


def churn_trend(ctx: ReportContext) -> Section:
    """Churn rate by service type and segment, peaks and seasonality marked."""
    from ..analytics.timing import timing_from

    timing = ctx.memo(
        "timing", lambda: timing_from(ctx.labelled, ctx.churn_rates, window=ctx.window)
    )
    overall = [r for r in timing.by_month if r.by == "all"]
    if not overall:
        raise MissingInput(Bi("还没有可计算流失率的月份", "no month with a churn rate yet"))
    last = overall[-1]
    summary = [
        ctx.tr(
            f"最近已知月份 {last.as_of} 的主动流失率为 {_pct(last.churn_rate, 2)}"
            f"（基数 {last.base:,} 名客户）。",
            f"Voluntary churn rate of the latest known month {last.as_of}: "
            f"{_pct(last.churn_rate, 2)} (base {last.base:,} customers).",
        ),
        ctx.tr(
            "流失峰值月份：" + ("、".join(timing.peaks) if timing.peaks else "无"),
            "Peak months: " + (", ".join(timing.peaks) if timing.peaks else "none"),
        ),
    ]
    if timing.seasonal is not None:
        months = ", ".join(str(m) for m in timing.seasonal) or ctx.tr("无", "none")
        summary.append(ctx.tr(f"季节性高峰月份：{months}", f"Seasonal peak months: {months}"))
    summary += [ctx.t(n) for n in timing.notes]
    charts_ = [
        _trend_chart(ctx, timing.by_month, "all", ctx.tr("主动流失率（全部）", "Churn rate (all)")),
        _trend_chart(ctx, timing.by_month, "service_type", ctx.tr("按业务类型", "By service type")),
        _trend_chart(ctx, timing.by_month, "customer_type", ctx.tr("按客户类型", "By segment")),
    ]
    return Section("trend", ctx.tr("流失率趋势", "Churn rate trend"), summary, charts_)


def churn_timing(ctx: ReportContext) -> Section:
    """Churn by tenure band and by contract end."""
    from ..analytics.timing import timing_from

    timing = ctx.memo(
        "timing", lambda: timing_from(ctx.labelled, ctx.churn_rates, window=ctx.window)
    )
    out = []
    for key, rows, title in (
        ("tenure", timing.by_tenure, ctx.tr("按在网时长的流失率", "Churn rate by tenure")),
        (
            "contract",
            timing.by_contract,
            ctx.tr("合约到期前后的流失率", "Churn rate by contract end"),
        ),
    ):
        labels = [r.label_zh if ctx.lang == "zh" else r.label_en for r in rows]
        rates = [r.churn_rate or 0.0 for r in rows]
        spec = charts.bar_chart(title, labels, [round(x, 4) for x in rates])
        spec["layout"]["yaxis"] = {"tickformat": ".1%"}
        spec["data"][0]["texttemplate"] = "%{y:.1%}"
        out.append(Chart(f"timing-{key}", spec))
    table = TableBlock(
        ctx.tr("合约到期", "Contract end"),
        [
            ctx.tr("分组", "band"),
            ctx.tr("客户月数", "customer-months"),
            ctx.tr("流失", "churned"),
            ctx.tr("流失率", "churn rate"),
        ],
        [
            [
                r.label_zh if ctx.lang == "zh" else r.label_en,
                f"{r.customers:,}",
                r.churners,
                _pct(r.churn_rate),
            ]
            for r in timing.by_contract
        ],
    )
    summary = [
        ctx.tr(
            f"统计窗口 {timing.window}（已知标签的快照月份）。",
            f"Window {timing.window} (snapshot months with known labels).",
        )
    ]
    return Section("timing", ctx.tr("流失时点", "Churn timing"), summary, out, [table])


# -- survival ------------------------------------------------------------------------------


def survival(ctx: ReportContext) -> Section:
    """Kaplan–Meier curves by plan, tenure band and segment, with the log-rank test."""
    from ..analytics.survival import survival_analysis

    result = ctx.memo("survival", lambda: survival_analysis(ctx.settings, as_of=ctx.as_of))
    out, rows = [], []
    for dim in result.dimensions:
        data = []
        for c in dim.curves:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "line": {"shape": "hv"},
                    "name": f"{c.label_zh if ctx.lang == 'zh' else c.label_en} (n={c.customers})",
                    "x": c.months,
                    "y": c.survival,
                }
            )
        title = dim.title_zh if ctx.lang == "zh" else dim.title_en
        out.append(
            Chart(
                f"km-{dim.dimension}",
                _fig(
                    ctx.tr(
                        f"留存曲线（Kaplan–Meier）：{title}", f"Survival (Kaplan–Meier): {title}"
                    ),
                    data,
                    xaxis={"title": {"text": ctx.tr("观察月数", "months observed")}},
                    yaxis={
                        "title": {"text": ctx.tr("留存率", "share still active")},
                        "tickformat": ".0%",
                    },
                    height=360,
                ),
            )
        )
        rows.append(
            [
                title,
                len(dim.curves),
                _num(dim.logrank_statistic),
                "–" if dim.logrank_p is None else f"{dim.logrank_p:.3g}",
                ctx.tr("显著", "significant")
                if dim.logrank_p is not None and dim.logrank_p < 0.05
                else ctx.tr("不显著", "not significant"),
            ]
        )
    table = TableBlock(
        ctx.tr("Log-rank 检验", "Log-rank test"),
        [
            ctx.tr("维度", "dimension"),
            ctx.tr("组数", "groups"),
            ctx.tr("统计量", "statistic"),
            "p",
            ctx.tr("结论（5%）", "at 5 %"),
        ],
        rows,
    )
    summary = [
        ctx.tr(
            f"观察 {result.start} 至 {result.end}：{result.customers:,} 名客户，"
            f"{result.events:,} 名主动流失（其余为删失）。",
            f"Observed {result.start} to {result.end}: {result.customers:,} customers, "
            f"{result.events:,} voluntary churns (the rest censored).",
        )
    ]
    return Section("survival", ctx.tr("客户留存（生存分析）", "Survival"), summary, out, [table])


# -- reasons -------------------------------------------------------------------------------


def reasons(ctx: ReportContext) -> Section:
    """This month's warnings by reason category and rule, and churners by churn reason."""
    import sqlalchemy as sa

    from ..analytics.population import duck
    from ..features import REASON_CATEGORIES, ReasonCategory
    from ..warehouse.operational import session_scope
    from ..warnings.store import CustomerWarning

    w = cast(sa.Table, CustomerWarning.__table__)
    with session_scope(ctx.settings) as session:
        warned = pd.DataFrame(
            session.execute(
                sa.select(w.c.top_category, w.c.rule_codes, w.c.level).where(w.c.as_of == ctx.as_of)
            ).all(),
            columns=["top_category", "rule_codes", "level"],
        )
    end = add_months(ctx.as_of, 1)
    with duck(ctx.settings) as con:
        churned = con.execute(
            "SELECT coalesce(churn_reason, 'other') AS reason, count(*) AS n FROM subscribers "
            "WHERE churn_date >= ? AND churn_date < ? GROUP BY ALL ORDER BY n DESC",
            [ctx.as_of, end],
        ).df()
    if warned.empty and churned.empty:
        raise MissingInput(
            Bi(
                f"{ctx.as_of:%Y-%m} 既没有预警也没有离网客户；先运行 churnguard warn",
                f"no warnings and no churners in {ctx.as_of:%Y-%m}; run 'churnguard warn' first",
            )
        )
    out, tables = [], []
    if not warned.empty:
        cats = warned["top_category"].fillna("none").value_counts()
        names = []
        for code in cats.index:
            try:
                zh_en = REASON_CATEGORIES[ReasonCategory(code)]
                names.append(zh_en[1] if ctx.lang == "zh" else zh_en[0])
            except ValueError:
                names.append(ctx.tr("未归类", "unclassified"))
        out.append(
            Chart(
                "reasons-warnings",
                charts.bar_chart(
                    ctx.tr(
                        f"{ctx.as_of:%Y-%m} 预警的主要原因",
                        f"Warnings of {ctx.as_of:%Y-%m} by reason",
                    ),
                    names,
                    [int(v) for v in cats.to_numpy()],
                ),
            )
        )
        codes = warned["rule_codes"].fillna("").str.split(",").explode()
        codes = codes[codes != ""].value_counts()
        tables.append(
            TableBlock(
                ctx.tr("触发的预警规则", "Rules that fired"),
                [ctx.tr("规则", "rule"), ctx.tr("预警数", "warnings")],
                [[k, int(v)] for k, v in codes.items()],
            )
        )
    if not churned.empty:
        out.append(
            Chart(
                "reasons-churners",
                charts.bar_chart(
                    ctx.tr(
                        f"{ctx.as_of:%Y-%m} 离网客户的离网原因",
                        f"Churners of {ctx.as_of:%Y-%m} by reason",
                    ),
                    [ctx.t(label("churn_reason", r)) for r in churned["reason"]],
                    [int(n) for n in churned["n"]],
                ),
            )
        )
    summary = [
        ctx.tr(
            f"本月预警 {len(warned):,} 条，离网客户 {int(churned['n'].sum()) if len(churned) else 0:,} 名。",  # noqa: E501
            f"{len(warned):,} warnings this month; "
            f"{int(churned['n'].sum()) if len(churned) else 0:,} customers left.",
        )
    ]
    return Section("reasons", ctx.tr("流失原因", "Churn reasons"), summary, out, tables)


# -- value x risk --------------------------------------------------------------------------


def value_risk(ctx: ReportContext) -> Section:
    """Customers and revenue by value tier and risk band (the scored month)."""
    from ..analytics.population import latest_scored_month
    from ..features.engines import open_warehouse
    from ..value import value_risk_matrix
    from ..warnings.run import scoring_base

    month = latest_scored_month(ctx.settings, as_of=ctx.as_of)
    if month is None:
        raise MissingInput(
            Bi(
                "还没有评分结果；先运行 churnguard score 或 churnguard warn",
                "no scores yet; run 'churnguard score' or 'churnguard warn' first",
            )
        )

    def compute() -> pd.DataFrame:
        backend = open_warehouse(ctx.settings, read_only=True)
        try:
            base, _version = scoring_base(ctx.settings, backend, as_of=month)
            result: pd.DataFrame = value_risk_matrix(base).execute()
        finally:
            backend.disconnect()
        return result

    matrix = ctx.memo("value_risk", compute)
    tiers, bands = ("high", "medium", "low"), ("high", "medium", "low")
    cell = {(r["value_tier"], r["risk_band"]): r for r in matrix.to_dict("records")}
    z = [[int(cell.get((t, b), {}).get("customers", 0)) for b in bands] for t in tiers]
    band_names = [
        ctx.tr(f"{x}风险", f"{y} risk")
        for x, y in (("高", "high"), ("中", "medium"), ("低", "low"))
    ]
    tier_names = [ctx.t(label("value_tier", t)) for t in tiers]
    spec = _fig(
        ctx.tr(f"价值 × 风险（{month:%Y-%m}，客户数）", f"Value × risk ({month:%Y-%m}, customers)"),
        [
            {
                "type": "heatmap",
                "x": band_names,
                "y": tier_names,
                "z": z,
                "text": z,
                "texttemplate": "%{text}",
                "colorscale": "Reds",
            }
        ],
        yaxis={"autorange": "reversed"},
        margin={"l": 110, "r": 20, "t": 40, "b": 50},
    )
    rows = [
        [
            tier_names[i],
            band_names[j],
            f"{int(r['customers']):,}",
            _num(r["revenue"], 0),
            _num(r["clv"], 0),
            _pct(r["mean_probability"]),
        ]
        for i, t in enumerate(tiers)
        for j, b in enumerate(bands)
        if (r := cell.get((t, b))) is not None
    ]
    table = TableBlock(
        ctx.tr("价值 × 风险明细", "Value × risk cells"),
        [
            ctx.tr("价值", "value"),
            ctx.tr("风险", "risk"),
            ctx.tr("客户数", "customers"),
            ctx.tr("月收入", "monthly revenue"),
            "CLV",
            ctx.tr("平均流失概率", "mean probability"),
        ],
        rows,
    )
    hi = cell.get(("high", "high"), {})
    summary = [
        ctx.tr(
            f"高价值且高风险客户 {int(hi.get('customers', 0)):,} 名，月收入 {_num(hi.get('revenue'), 0)}：优先挽留。",  # noqa: E501
            f"{int(hi.get('customers', 0)):,} high-value, high-risk customers with monthly revenue "
            f"{_num(hi.get('revenue'), 0)}: retain them first.",
        )
    ]
    return Section(
        "value_risk",
        ctx.tr("价值 × 风险矩阵", "Value × risk matrix"),
        summary,
        [Chart("value-risk", spec)],
        [table],
    )


# -- model performance ---------------------------------------------------------------------


def _gain_points(y: np.ndarray, p: np.ndarray, points: int = 20) -> tuple[list[float], list[float]]:
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order])
    total = max(int(y.sum()), 1)
    shares = np.linspace(0, 1, points + 1)
    idx = np.maximum((shares * len(y)).astype(int) - 1, 0)
    captured = np.where(shares == 0, 0.0, hits[idx] / total)
    return [float(s) for s in shares], [float(c) for c in captured]


def _model_inputs(ctx: ReportContext) -> dict[str, Any]:
    """The champion evaluated on the newest labelled month: metrics, predictions, drift."""
    from ..errors import StateError
    from ..features import training_frame
    from ..models.evaluation import evaluate_frame
    from ..models.registry import champion
    from ..models.scoring import load_registered
    from ..web.diagnostics import score_drift

    try:
        champ = champion(ctx.settings)
    except StateError:
        raise MissingInput(
            Bi(
                "还没有冠军模型；先运行 churnguard model train",
                "no champion model yet; run 'churnguard model train' first",
            )
        ) from None
    months = ctx.window.months
    if not months:
        raise MissingInput(
            Bi(
                "还没有已知标签的月份，无法评估模型",
                "no month with known labels to evaluate the model on",
            )
        )
    month = months[-1]
    frame = training_frame(ctx.settings, as_ofs=[month], target="voluntary")
    try:
        ev = evaluate_frame(ctx.settings, frame, as_of=month)
    except StateError as exc:
        raise MissingInput(
            Bi(f"模型无法评估：{exc}", f"the model cannot be evaluated: {exc}")
        ) from None
    _, model = load_registered(ctx.settings, version=champ["version"])
    reference = model.meta.get("reference", {}).get("score")
    return {
        "champ": champ,
        "month": month,
        "ev": ev,
        "y": frame["label"].to_numpy(dtype=np.int64),
        "p": np.asarray(model.predict(frame), dtype=np.float64),
        "drift": score_drift(ctx.settings, version=champ["version"], reference=reference),
    }


def model_performance(ctx: ReportContext) -> Section:
    """Lift/gain, calibration, PR curve, drift table and the retrain recommendation."""
    from sklearn.metrics import precision_recall_curve

    got = ctx.memo("model", lambda: _model_inputs(ctx))
    champ, month, ev, y, p = got["champ"], got["month"], got["ev"], got["y"], got["p"]
    m = ev["models"][champ["version"]]["metrics"]
    t = ctx.translator
    xs, ys = _gain_points(y, p)
    gain = _fig(
        ctx.tr(f"累计捕获率（{month:%Y-%m}）", f"Cumulative gain ({month:%Y-%m})"),
        [
            {
                "type": "scatter",
                "mode": "lines",
                "name": t("models.random"),
                "x": [0, 1],
                "y": [0, 1],
                "line": {"dash": "dot", "color": "#999"},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": champ["version"],
                "x": xs,
                "y": ys,
            },
        ],
        xaxis={"title": {"text": t("models.share")}, "tickformat": ".0%"},
        yaxis={"title": {"text": t("models.captured")}, "tickformat": ".0%"},
    )
    order = np.argsort(p, kind="stable")
    bins = []
    for part in np.array_split(order, 10):
        if len(part):
            bins.append(
                {
                    "predicted": float(p[part].mean()),
                    "observed": float(y[part].mean()),
                    "n": float(len(part)),
                }
            )
    calib = charts.calibration_chart(t("models.calibration", month=f"{month:%Y-%m}"), bins, t)
    precision, recall, _ = precision_recall_curve(y, p)
    step = max(1, len(recall) // 200)
    pr = _fig(
        ctx.tr(
            f"精确率–召回率曲线（PR AUC {m['pr_auc']:.3f}）",
            f"Precision–recall (PR AUC {m['pr_auc']:.3f})",
        ),
        [
            {
                "type": "scatter",
                "mode": "lines",
                "name": "PR",
                "x": recall[::step].tolist(),
                "y": precision[::step].tolist(),
            }
        ],
        xaxis={"title": {"text": ctx.tr("召回率", "recall")}, "tickformat": ".0%"},
        yaxis={"title": {"text": ctx.tr("精确率", "precision")}, "tickformat": ".0%"},
    )
    out = [Chart("gain", gain), Chart("calibration", calib), Chart("pr", pr)]
    drift = got["drift"]
    if drift:
        out.append(
            Chart(
                "psi",
                charts.psi_chart(
                    t("models.drift"),
                    [d for d, _ in drift],
                    [v for _, v in drift],
                    limit=ctx.settings.models.psi_limit,
                    t=t,
                ),
            )
        )
    psi_rows = [[ctx.tr("模型分数", "model score"), _num(ev["score_psi"], 3)]]
    top = sorted(ev["feature_psi"].items(), key=lambda kv: -kv[1])[:10]
    psi_rows += [[name, _num(v, 3)] for name, v in top]
    limit = ctx.settings.models.psi_limit
    drift_table = TableBlock(
        ctx.tr(f"漂移（PSI，阈值 {limit}）", f"Drift (PSI, limit {limit})"),
        [ctx.tr("对象", "of"), "PSI"],
        psi_rows,
    )
    metrics_table = TableBlock(
        ctx.tr("模型指标", "Model metrics"),
        [ctx.tr("指标", "metric"), ctx.tr("数值", "value")],
        [
            ["ROC AUC", _num(m["roc_auc"], 3)],
            [ctx.tr("训练时 ROC AUC", "ROC AUC at training"), _num(m["roc_auc_at_training"], 3)],
            ["PR AUC", _num(m["pr_auc"], 3)],
            [ctx.tr("前 10% 提升度", "lift at 10 %"), _num(m["lift_10"], 2)],
            [ctx.tr("前 10% 捕获率", "capture at 10 %"), _pct(m["capture_10"])],
            ["Brier", _num(m["brier"], 4)],
            [ctx.tr("样本 / 流失", "rows / churners"), f"{ev['rows']:,} / {ev['positives']:,}"],
        ],
    )
    if ev["retrain"]:
        why = "；".join(ev["reasons_zh"]) if ctx.lang == "zh" else "; ".join(ev["reasons_en"])
        advice = ctx.tr(f"建议重新训练模型：{why}。", f"Retraining is recommended: {why}.")
    else:
        advice = ctx.tr(
            "无需重新训练：AUC 与漂移均在阈值之内。",
            "No retraining needed: AUC and drift are within their limits.",
        )
    summary = [
        ctx.tr(
            f"冠军模型 {champ['version']}，在 {month:%Y-%m}（已知标签的最新月份）上评估。",
            f"Champion {champ['version']}, evaluated on {month:%Y-%m} (the newest labelled month).",
        ),
        advice,
    ]
    if date.fromisoformat(champ["train_end"]) >= month:
        summary.append(
            ctx.tr(
                "注意：该月份在模型的训练窗口内，指标偏乐观。",
                "Note: this month is inside the model's training window; the figures are optimistic.",  # noqa: E501
            )
        )
    return Section(
        "model", ctx.tr("模型表现", "Model performance"), summary, out, [metrics_table, drift_table]
    )


# -- campaigns -----------------------------------------------------------------------------


def campaigns(ctx: ReportContext) -> Section:
    """The newest campaign up to the month: funnel, lift over control with its interval, ROI."""
    import sqlalchemy as sa

    from ..retention.kpi import campaign_kpis
    from ..retention.store import CampaignMember
    from ..warehouse.operational import session_scope

    rows = [k for k in campaign_kpis(ctx.settings) if k["as_of"] <= f"{ctx.as_of:%Y-%m}"]
    if not rows:
        raise MissingInput(
            Bi(
                "还没有挽留活动；用 churnguard campaign plan 发起一次活动",
                "no retention campaign yet; plan one with 'churnguard campaign plan'",
            )
        )
    k = rows[-1]
    mt = cast(sa.Table, CampaignMember.__table__)
    with session_scope(ctx.settings) as session:
        res: dict[str | None, int] = dict(
            session.execute(
                sa.select(mt.c.result, sa.func.count())
                .where(mt.c.campaign_id == k["campaign_id"], mt.c.arm == "treatment")
                .group_by(mt.c.result)
            ).all()
        )
        kept = session.execute(
            sa.select(sa.func.count()).where(
                mt.c.campaign_id == k["campaign_id"],
                mt.c.arm == "treatment",
                mt.c.outcome == "retained",
            )
        ).scalar_one()
    t = ctx.translator
    stages = [
        (t("campaigns.funnel.contacted"), int(k["contacted"])),
        (
            t("campaigns.funnel.reached"),
            sum(int(res.get(r, 0)) for r in ("reached", "accepted", "declined")),
        ),
        (t("campaigns.funnel.accepted"), int(res.get("accepted", 0))),
        (t("campaigns.funnel.retained"), int(kept)),
    ]
    out = [Chart("funnel", charts.funnel_chart(t("campaigns.funnel"), stages))]
    if k["incremental_retention"] is not None:
        lo, hi = k["incremental_ci95"]
        out.append(
            Chart(
                "uplift",
                charts.uplift_chart(
                    t("campaigns.uplift"),
                    labels=(
                        t("campaigns.uplift.treated"),
                        t("campaigns.uplift.control"),
                        t("campaigns.uplift.increment"),
                    ),
                    treated=k["retention_rate_treated"],
                    control=k["retention_rate_control"],
                    diff=k["incremental_retention"],
                    ci=(lo, hi),
                ),
            )
        )
        lift = ctx.tr(
            f"增量挽留率 {_pct(k['incremental_retention'])}（95% 区间 {_pct(lo)} 至 {_pct(hi)}）。",
            f"Incremental retention {_pct(k['incremental_retention'])} "
            f"(95 % interval {_pct(lo)} to {_pct(hi)}).",
        )
    else:
        lift = ctx.tr(
            "结果尚未揭晓：干预组与对照组的留存要等下个月的数据。",
            "Outcomes not known yet: retention of treatment and control needs next month's data.",
        )
    table = TableBlock(
        ctx.tr("活动指标", "Campaign KPIs"),
        [ctx.tr("指标", "KPI"), ctx.tr("数值", "value")],
        [
            [
                ctx.tr("干预组 / 对照组", "treated / control"),
                f"{k['treated']:,} / {k['control']:,}",
            ],
            [ctx.tr("已触达", "contacted"), f"{k['contacted']:,}"],
            [ctx.tr("接受率", "acceptance rate"), _pct(k["acceptance_rate"])],
            [ctx.tr("成本", "cost"), _num(k["cost"], 0)],
            [ctx.tr("挽回收入", "revenue saved"), _num(k["revenue_saved"], 0)],
            [ctx.tr("投资回报率", "ROI"), _pct(k["roi"])],
        ],
    )
    summary = [
        ctx.tr(
            f"活动 #{k['campaign_id']}「{k['name']}」（{k['as_of']}，状态 {k['status']}）。",
            f"Campaign #{k['campaign_id']} '{k['name']}' ({k['as_of']}, {k['status']}).",
        ),
        lift,
    ]
    return Section("campaigns", ctx.tr("挽留活动", "Retention campaigns"), summary, out, [table])


# -- analytics -----------------------------------------------------------------------------


def personas(ctx: ReportContext) -> Section:
    """Churner personas (clusters of churners and high-risk customers)."""
    from ..analytics.personas import people_of, personas_from
    from ..analytics.population import high_risk_frame
    from ..errors import StateError

    def compute() -> Any:
        risky = high_risk_frame(
            ctx.settings, as_of=ctx.as_of, min_probability=ctx.settings.value.risk_bands[1]
        )
        return personas_from(people_of(ctx.labelled, risky), ctx.labelled, window=ctx.window.label)

    try:
        result = ctx.memo("personas", compute)
    except StateError as exc:
        raise MissingInput(Bi(f"无法聚类：{exc}", f"cannot cluster: {exc}")) from None
    rows = [
        [
            p.name_zh if ctx.lang == "zh" else p.name_en,
            f"{p.customers:,}",
            _pct(p.share, 0),
            p.churners,
            p.high_risk,
            p.profile_zh if ctx.lang == "zh" else p.profile_en,
        ]
        for p in result.personas
    ]
    chart = charts.bar_chart(
        ctx.tr("各画像客户数", "Customers per persona"),
        [p.name_zh if ctx.lang == "zh" else p.name_en for p in result.personas],
        [float(p.customers) for p in result.personas],
    )
    table = TableBlock(
        ctx.tr("流失客户画像", "Churner personas"),
        [
            ctx.tr("画像", "persona"),
            ctx.tr("客户", "customers"),
            ctx.tr("占比", "share"),
            ctx.tr("已流失", "churned"),
            ctx.tr("高风险", "high risk"),
            ctx.tr("特征", "profile"),
        ],
        rows,
    )
    summary = [
        ctx.tr(
            f"{result.customers:,} 名流失及高风险客户聚为 {result.k} 类（轮廓系数 {_num(result.silhouette)}）。",  # noqa: E501
            f"{result.customers:,} churners and high-risk customers in {result.k} clusters "
            f"(silhouette {_num(result.silhouette)}).",
        )
    ]
    return Section(
        "personas",
        ctx.tr("流失客户画像", "Churner personas"),
        summary,
        [Chart("personas", chart)],
        [table],
    )


def rules(ctx: ReportContext) -> Section:
    """Association rules ``attributes → churn``."""
    from ..analytics.rules import rules_for_frame

    result = ctx.memo(
        "rules", lambda: rules_for_frame(ctx.labelled, window=ctx.window.label, top=12)
    )
    if not result.rules:
        raise MissingInput(
            Bi("没有达到支持度与提升度阈值的规则", "no rule reaches the support and lift limits")
        )
    table = TableBlock(
        ctx.tr("关联规则（→ 离网）", "Association rules (→ churn)"),
        [
            ctx.tr("规则", "rule"),
            ctx.tr("支持度", "support"),
            ctx.tr("置信度", "confidence"),
            ctx.tr("提升度", "lift"),
            ctx.tr("覆盖客户月", "customer-months"),
        ],
        [
            [
                r.text_zh if ctx.lang == "zh" else r.text_en,
                _pct(r.support, 2),
                _pct(r.confidence),
                _num(r.lift),
                f"{r.customers:,}",
            ]
            for r in result.rules
        ],
    )
    summary = [
        ctx.tr(
            f"{result.rows:,} 个客户月中 {result.churners:,} 个流失（基准流失率 {_pct(result.base_rate, 2)}）；"  # noqa: E501
            "提升度 = 置信度 / 基准流失率。",
            f"{result.churners:,} of {result.rows:,} customer-months churned (base rate "
            f"{_pct(result.base_rate, 2)}); lift = confidence / base rate.",
        )
    ]
    return Section("rules", ctx.tr("流失关联规则", "Churn association rules"), summary, [], [table])


def complaint_text(ctx: ReportContext) -> Section:
    """Terms that distinguish churners' complaints, by reason category."""
    from ..analytics.complaint_text import terms_from, window_complaints

    def compute() -> Any:
        churners = ctx.labelled.loc[ctx.labelled["label"] == 1, "subscriber_id"]
        docs = window_complaints(ctx.settings, ctx.window, churners)
        if docs.empty or not docs["churner"].any():
            raise MissingInput(
                Bi("窗口内没有流失客户的投诉文本", "no complaint texts of churners in the window")
            )
        return terms_from(docs, top=15, window=ctx.window.label)

    result = ctx.memo("text", compute)
    cats = result.categories
    spec = _fig(
        ctx.tr("投诉提及各类原因的比例", "Share of complaints mentioning each reason"),
        [
            {
                "type": "bar",
                "name": ctx.tr("流失客户", "churners"),
                "x": [ctx.tr(c["zh"], c["en"]) for c in cats],
                "y": [c["churner_share"] for c in cats],
            },
            {
                "type": "bar",
                "name": ctx.tr("其他客户", "others"),
                "x": [ctx.tr(c["zh"], c["en"]) for c in cats],
                "y": [c["other_share"] for c in cats],
            },
        ],
        barmode="group",
        yaxis={"tickformat": ".0%"},
    )
    table = TableBlock(
        ctx.tr("流失客户投诉中的特征词", "Terms typical of churners' complaints"),
        [
            ctx.tr("词语", "term"),
            ctx.tr("流失客户投诉", "churners"),
            ctx.tr("其他投诉", "others"),
            "z",
            ctx.tr("原因类别", "reason category"),
        ],
        [
            [
                r.term,
                _pct(r.churner_share),
                _pct(r.other_share),
                _num(r.z),
                (r.category_zh if ctx.lang == "zh" else r.category_en) or "–",
            ]
            for r in result.churner_terms
        ],
    )
    summary = [
        ctx.tr(
            f"流失客户投诉 {result.churner_complaints:,} 条，其他客户投诉 {result.other_complaints:,} 条（中文经 jieba 分词）。",  # noqa: E501
            f"{result.churner_complaints:,} complaints of churners against {result.other_complaints:,} "  # noqa: E501
            "of other customers (Chinese segmented with jieba).",
        )
    ]
    return Section(
        "text",
        ctx.tr("投诉文本挖掘", "Complaint text mining"),
        summary,
        [Chart("text-categories", spec)],
        [table],
    )


def surveys(ctx: ReportContext) -> Section:
    """CSAT / NPS by segment and churn by NPS group."""
    from ..analytics.surveys import survey_answers, surveys_from
    from ..errors import StateError

    try:
        answers = survey_answers(ctx.settings, ctx.window, ctx.labelled)
    except StateError:
        raise MissingInput(Bi("没有满意度调查数据", "no satisfaction surveys")) from None
    if answers.empty:
        raise MissingInput(Bi("窗口内没有满意度调查", "no surveys in the window"))
    result = surveys_from(answers, window=ctx.window.label)
    spec = charts.bar_chart(
        ctx.tr("按 NPS 分组的流失率", "Churn rate by NPS group"),
        [ctx.tr(r["zh"], r["en"]) for r in result.churn_by_nps],
        [round(r["churn_rate"] or 0.0, 4) for r in result.churn_by_nps],
    )
    spec["layout"]["yaxis"] = {"tickformat": ".1%"}
    spec["data"][0]["texttemplate"] = "%{y:.1%}"
    table = TableBlock(
        ctx.tr("按细分的满意度", "Satisfaction by segment"),
        [
            ctx.tr("细分", "segment"),
            ctx.tr("回复", "responses"),
            "CSAT",
            "NPS",
            ctx.tr("流失率", "churn rate"),
        ],
        [
            [
                ctx.tr(r["zh"], r["en"]),
                r["responses"],
                _num(r["csat_mean"]),
                _num(r["nps"], 1),
                _pct(r["churn_rate"]),
            ]
            for r in result.by_segment
        ],
    )
    ratio = result.detractor_vs_promoter
    summary = [
        ctx.tr(
            f"{result.responses:,} 份调查，平均 CSAT {_num(result.csat_mean)}，NPS {_num(result.nps, 1)}。",  # noqa: E501
            f"{result.responses:,} surveys, mean CSAT {_num(result.csat_mean)}, NPS {_num(result.nps, 1)}.",  # noqa: E501
        ),
        ctx.tr(
            f"贬损者的流失率是推荐者的 {_num(ratio, 1)} 倍。",
            f"Detractors churn {_num(ratio, 1)}× as often as promoters.",
        ),
    ]
    return Section(
        "surveys",
        ctx.tr("满意度调查", "Satisfaction surveys"),
        summary,
        [Chart("nps-churn", spec)],
        [table],
    )


def groups(ctx: ReportContext) -> Section:
    """VPMN collective churn and second-SIM big customers (personal data masked)."""
    from ..analytics.groups import group_analysis

    result = ctx.memo(
        "groups", lambda: group_analysis(ctx.settings, as_of=ctx.as_of, top=15, clear_text=False)
    )
    if not result.groups and not result.second_sim:
        raise MissingInput(
            Bi(
                "没有集体离网的集团，也没有疑似一人多卡的大客户",
                "no group with collective churn and no second-SIM big customer",
            )
        )
    g_table = TableBlock(
        ctx.tr("集体离网的集团（VPMN 群）", "Groups with collective churn (VPMN)"),
        [
            ctx.tr("集团", "group"),
            ctx.tr("在网成员", "active"),
            ctx.tr("近3月离网", "left (3 months)"),
            ctx.tr("离网占比", "share left"),
            ctx.tr("有转网迹象", "with port-out signs"),
            ctx.tr("集团预警", "group warning"),
            ctx.tr("离网成员（已脱敏）", "leavers (masked)"),
        ],
        [
            [
                g["group_id"],
                g["active_members"],
                g["churned_3m"],
                _pct(g["churn_share_3m"], 0),
                g["signalling"],
                (g["group_warning"] or {}).get("level") or "–",
                "、".join(f"{x['msisdn']} {x['name']}" for x in g["leavers"][:5]),
            ]
            for g in result.groups
        ],
    )
    s_table = TableBlock(
        ctx.tr(
            f"疑似一人多卡的高价值客户（被叫/主叫 ≥ {result.second_sim_ratio:g}）",
            f"High-value customers with a likely second SIM (incoming/outgoing ≥ {result.second_sim_ratio:g})",  # noqa: E501
        ),
        [
            ctx.tr("用户", "subscriber"),
            ctx.tr("号码", "number"),
            ctx.tr("姓名", "name"),
            ctx.tr("被叫/主叫", "in/out"),
            ctx.tr("异网通话占比", "off-net share"),
            ctx.tr("呼转异网", "forwarded off-net"),
            "ARPU",
        ],
        [
            [
                r["subscriber_id"],
                r["msisdn"],
                r["name"],
                _num(r["calls_in_out_ratio_3m"], 1),
                _pct(r["offnet_share_3m"]),
                _num(r["call_forward_offnet_3m"], 0),
                _num(r["arpu_3m"], 0),
            ]
            for r in result.second_sim
        ],
    )
    summary = [
        ctx.tr(
            f"{len(result.groups)} 个集团出现集体离网，{len(result.second_sim)} 名高价值客户疑似一人多卡；号码与姓名已脱敏。",  # noqa: E501
            f"{len(result.groups)} groups with collective churn, {len(result.second_sim)} high-value "  # noqa: E501
            "customers with a likely second SIM; numbers and names masked.",
        )
    ]
    return Section(
        "groups",
        ctx.tr("集团离网与一人多卡", "Group churn and second SIMs"),
        summary,
        [],
        [g_table, s_table],
    )


# -- data quality --------------------------------------------------------------------------


def data_quality(ctx: ReportContext) -> Section:
    """Quarantined source rows by table and reason."""
    from ..contract import RejectReason
    from ..ingest.quarantine import quarantine_summary

    counts = quarantine_summary(ctx.settings)
    by: dict[tuple[str, str], int] = {}
    for c in counts:
        by[(c.table, c.reason)] = by.get((c.table, c.reason), 0) + c.rows

    def reason_text(code: str) -> str:
        try:
            r = RejectReason(code)
        except ValueError:
            return code
        return r.zh if ctx.lang == "zh" else r.en

    if not by:
        return Section(
            "data_quality",
            ctx.tr("数据质量", "Data quality"),
            [
                ctx.tr(
                    "隔离区为空：所有源数据行均已通过校验。",
                    "The quarantine is empty: every source row passed validation.",
                )
            ],
        )
    totals: dict[str, int] = {}
    for (_t, r), n in by.items():
        totals[r] = totals.get(r, 0) + n
    spec = charts.bar_chart(
        ctx.tr("隔离行数（按原因）", "Quarantined rows by reason"),
        [reason_text(r) for r in totals],
        list(totals.values()),
    )
    table = TableBlock(
        ctx.tr("隔离明细", "Quarantine by table and reason"),
        [ctx.tr("表", "table"), ctx.tr("原因", "reason"), ctx.tr("行数", "rows")],
        [[t, reason_text(r), f"{n:,}"] for (t, r), n in sorted(by.items())],
    )
    summary = [
        ctx.tr(
            f"共隔离 {sum(by.values()):,} 行；用 churnguard quarantine export 导出修正后重新导入。",
            f"{sum(by.values()):,} rows quarantined; fix them with 'churnguard quarantine export' "
            "and re-ingest.",
        )
    ]
    return Section(
        "data_quality",
        ctx.tr("数据质量", "Data quality"),
        summary,
        [Chart("quarantine", spec)],
        [table],
    )


def team_performance(ctx: ReportContext) -> Section:
    """Team KPIs: warnings worked in time, retention and win-back vs control, accuracy."""
    from ..retention.team_kpi import team_kpis

    def ci(v: Any) -> str:
        if not isinstance(v, list | tuple) or len(v) != 2 or v[0] is None:
            return "—"
        return f"[{_pct(v[0])}, {_pct(v[1])}]"

    def opt(v: Any, fmt: Callable[[float], str]) -> str:
        return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt(float(v))

    teams = ctx.memo("team_kpis:team", lambda: team_kpis(ctx.settings, by="team"))
    regions = ctx.memo("team_kpis:region", lambda: team_kpis(ctx.settings, by="region"))
    if teams.empty and regions.empty:
        raise MissingInput(
            Bi(
                "尚无预警处理或活动记录，无法评估团队绩效。",
                "No warnings worked and no campaigns yet: nothing to judge teams by.",
            )
        )
    cols = [
        ctx.tr("团队", "team"),
        ctx.tr("预警数", "warnings"),
        ctx.tr("时限内处理率", "worked within deadline"),
        ctx.tr("挽留成功率", "retention rate"),
        ctx.tr("增量挽留（对照组）", "incremental retention"),
        ctx.tr("95% 区间", "95 % CI"),
        ctx.tr("复活率", "win-back rate"),
        ctx.tr("增量复活", "incremental win-back"),
    ]
    rows = [
        [
            str(r["team"]),
            opt(r["warnings"], lambda v: f"{v:,.0f}"),
            opt(r["worked_within_deadline_rate"], _pct),
            opt(r["retention_rate"], _pct),
            opt(r["incremental_retention"], _pct),
            ci(r["incremental_retention_ci95"]),
            opt(r["winback_rate"], _pct),
            opt(r["incremental_winback"], _pct),
        ]
        for _, r in teams.iterrows()
    ]
    tables = [TableBlock(ctx.tr("按团队", "By team"), cols, rows)]
    charts_out: list[Chart] = []
    if not regions.empty and "warning_accuracy" in regions.columns:
        tables.append(
            TableBlock(
                ctx.tr("预警准确率（按地区）", "Warning accuracy by region"),
                [
                    ctx.tr("地区", "region"),
                    ctx.tr("流失客户", "churners"),
                    ctx.tr("其中已预警", "warned before leaving"),
                    ctx.tr("预警覆盖率", "share warned"),
                ],
                [
                    [
                        str(r["region"]),
                        opt(r["churners"], lambda v: f"{v:,.0f}"),
                        opt(r["warned_churners"], lambda v: f"{v:,.0f}"),
                        opt(r["warning_accuracy"], _pct),
                    ]
                    for _, r in regions.iterrows()
                ],
            )
        )
        shown = regions.dropna(subset=["warning_accuracy"])
        if not shown.empty:
            charts_out.append(
                Chart(
                    "team_accuracy",
                    charts.bar_chart(
                        ctx.tr("预警覆盖率（按地区）", "Share of churners warned, by region"),
                        [str(v) for v in shown["region"]],
                        [float(v) for v in shown["warning_accuracy"]],
                    ),
                )
            )
    summary = [
        ctx.tr(
            "团队绩效：预警时限内处理、挽留与复活成功率，以及相对随机对照组的增量效果。",
            "Team performance: warnings worked within their deadline, retention and win-back "
            "success, and the increment over the random control where one exists.",
        )
    ]
    return Section(
        "team_performance",
        ctx.tr("团队绩效", "Team performance"),
        summary,
        charts_out,
        tables,
    )


def _titled(builder: SectionBuilder, key: str, zh: str, en: str) -> SectionBuilder:
    """Give a builder the key and bilingual title the report shows when its input is missing."""
    builder.key = key  # type: ignore[attr-defined]
    builder.title = Bi(zh, en)  # type: ignore[attr-defined]
    return builder


for _b, _k, _zh, _en in (
    (churn_trend, "trend", "流失率趋势", "Churn rate trend"),
    (churn_timing, "timing", "流失时点", "Churn timing"),
    (survival, "survival", "客户留存（生存分析）", "Survival"),
    (reasons, "reasons", "流失原因", "Churn reasons"),
    (value_risk, "value_risk", "价值 × 风险矩阵", "Value × risk matrix"),
    (model_performance, "model", "模型表现", "Model performance"),
    (campaigns, "campaigns", "挽留活动", "Retention campaigns"),
    (personas, "personas", "流失客户画像", "Churner personas"),
    (rules, "rules", "流失关联规则", "Churn association rules"),
    (complaint_text, "text", "投诉文本挖掘", "Complaint text mining"),
    (surveys, "surveys", "满意度调查", "Satisfaction surveys"),
    (groups, "groups", "集团离网与一人多卡", "Group churn and second SIMs"),
    (team_performance, "team_performance", "团队绩效", "Team performance"),
    (data_quality, "data_quality", "数据质量", "Data quality"),
):
    _titled(_b, _k, _zh, _en)

SECTIONS: tuple[SectionBuilder, ...] = (
    churn_trend,
    churn_timing,
    survival,
    reasons,
    value_risk,
    model_performance,
    campaigns,
    personas,
    rules,
    complaint_text,
    surveys,
    groups,
    team_performance,
    data_quality,
)
