"""Complaint and survey texts: templates × slots, in Chinese (mostly) and English.

Each complaint category has a *calm* pool and a *leaving* pool. Customers close
to leaving draw from the leaving pool, which mentions port-out, price and poor
signal far more often, so text mining finds a real signal.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .catalog import SERVICES

__all__ = ["COMPLAINT_CATEGORIES", "complaint_texts", "survey_comments", "text_pool"]

COMPLAINT_CATEGORIES: tuple[str, ...] = ("network", "billing", "service", "price", "other")

_PLACES = ("家里", "公司", "小区", "地下车库", "办公室", "地铁上", "卧室", "老家")
_TIMES = ("最近一周", "这几天", "本月以来", "每天晚上", "上周末", "连续三天")

_ZH_CALM: dict[str, tuple[str, ...]] = {
    "network_mobile": (
        "{time}{place}信号不稳定，打电话经常断线，请尽快处理。",
        "{place}手机网速很慢，{time}视频一直卡顿，希望排查一下。",
        "{time}{place}经常显示无服务，请检查基站。",
    ),
    "network_broadband": (
        "{time}宽带时断时通，{place}上网受影响，请派人检修。",
        "{place}宽带网速达不到套餐速率，{time}测速只有一半。",
        "{time}光猫经常掉线，{place}需要重启才能上网。",
    ),
    "network_tv": (
        "{place}电视信号有马赛克，{time}一直这样。",
        "{time}机顶盒经常离线，{place}电视看不了。",
        "点播节目{time}一直加载不出来，{place}请派人看看。",
    ),
    "billing": (
        "{time}账单里多扣了一笔费用，请核实并退还。",
        "对本月话费有疑问，{time}查询明细看不懂，请解释。",
        "自动扣费金额不对，{time}发现的，请帮忙核对。",
    ),
    "service": (
        "{time}打客服电话排队太久，问题还没解决。",
        "营业厅办理业务等了很久，{time}去了两次，希望改进。",
        "装机师傅{time}没按约定时间上门。",
    ),
    "price": (
        "套餐资费有点高，{time}想了解有没有更优惠的套餐。",
        "流量不够用，{time}超出部分收费较贵。",
    ),
    "other": (
        "{time}收到很多营销短信，请减少发送。",
        "积分兑换{time}一直失败，请协助处理。",
    ),
}
_ZH_LEAVING: dict[str, tuple[str, ...]] = {
    "network_mobile": (
        "{place}信号差到没法用，{time}天天掉线，再不解决就携号转网。",
        "信号差，网速慢，{time}投诉多次没人管，准备换运营商了。",
        "{place}信号太差了，{time}电话都打不出去，别家信号好多了。",
    ),
    "network_broadband": (
        "{time}宽带又断网了，{place}根本没法办公，考虑销户。",
        "网速太慢还经常断网，{time}报修多次没解决，准备换别家宽带。",
    ),
    "network_tv": (
        "{time}电视信号差，{place}天天花屏，不想用了准备销户。",
        "机顶盒{time}老是离线，看不了节目，打算不续费了。",
    ),
    "billing": (
        "{time}乱扣费，太贵了，不给说法就销户。",
        "话费莫名其妙变多，{time}已经第二次了，准备携号转网。",
        "账单问题{time}一直没解决，太失望了，打算换号。",
    ),
    "service": (
        "客服态度太差，{time}问题拖着不办，我要销户。",
        "{time}多次反映没人理，服务太差，准备转网。",
    ),
    "price": (
        "资费太贵了，别家同样的套餐便宜一半，{time}我要携号转网。",
        "太贵了，{time}看到其他运营商优惠很大，准备转网。",
        "套餐太贵又不让降档，{time}考虑销户换别家。",
    ),
    "other": (
        "{time}问题一直没人处理，不想用了，准备销户。",
        "办理携号转网资格查询，{time}想换运营商。",
    ),
}
_EN_CALM: dict[str, tuple[str, ...]] = {
    "network_mobile": (
        "Calls keep dropping {time_en}, please check the coverage.",
        "Mobile data is slow {time_en}, videos buffer all the time.",
    ),
    "network_broadband": ("Broadband keeps disconnecting {time_en}.",),
    "network_tv": ("The set-top box goes offline {time_en}.",),
    "billing": ("My bill has a charge I do not understand {time_en}.",),
    "service": ("Waited too long on the hotline {time_en}.",),
    "price": ("Is there a cheaper plan? My data runs out {time_en}.",),
    "other": ("Too many marketing messages {time_en}.",),
}
_EN_LEAVING: dict[str, tuple[str, ...]] = {
    "network_mobile": (
        "Signal is terrible {time_en}; I will port my number to another carrier.",
        "No coverage at home {time_en}. Thinking of cancelling.",
    ),
    "network_broadband": ("Internet down again {time_en}; I am cancelling my broadband.",),
    "network_tv": ("TV picture freezes {time_en}; I will cancel the subscription.",),
    "billing": ("Overcharged again {time_en}, too expensive, I want to cancel.",),
    "service": ("Nobody fixed my issue {time_en}. I am switching operators.",),
    "price": ("Too expensive; a rival offers half the price, I will switch {time_en}.",),
    "other": ("Fed up {time_en}, please tell me how to cancel.",),
}
_TIMES_EN = ("this week", "for days", "this month", "every evening", "since last weekend")


@cache
def text_pool(category: str, *, leaving: bool, english: bool) -> tuple[str, ...]:
    """All texts of one pool: every template filled with every slot combination."""
    if english:
        templates = (_EN_LEAVING if leaving else _EN_CALM)[category]
        return tuple(t.format(time_en=te) for t, te in itertools.product(templates, _TIMES_EN))
    templates = (_ZH_LEAVING if leaving else _ZH_CALM)[category]
    return tuple(
        t.format(time=tm, place=pl)
        for t, tm, pl in itertools.product(templates, _TIMES, _PLACES)
        if "{place}" in t or pl == _PLACES[0]  # no duplicates for templates without a place
    )


def complaint_texts(
    rng: np.random.Generator,
    *,
    category: npt.NDArray[np.int64],
    service: npt.NDArray[np.int8],
    leaving: npt.NDArray[np.bool_],
    english_share: float = 0.15,
) -> pa.Array:
    """One text per complaint, from its category's (and service's) calm or leaving pool."""
    n = len(category)
    english = rng.random(n) < english_share
    pick = rng.random(n)
    out = np.empty(n, dtype=object)
    for c, cat in enumerate(COMPLAINT_CATEGORIES):
        for svc, svc_name in enumerate(SERVICES):
            key = f"{cat}_{svc_name}" if cat == "network" else cat
            for lv in (False, True):
                for en in (False, True):
                    sel = np.flatnonzero(
                        (category == c) & (service == svc) & (leaving == lv) & (english == en)
                    )
                    if sel.size:
                        pool = np.array(text_pool(key, leaving=lv, english=en), dtype=object)
                        out[sel] = pool[(pick[sel] * len(pool)).astype(np.int64)]
    return pa.array(out, type=pa.string())


_COMMENTS = {
    1: ("信号太差，准备换运营商", "服务很差，太贵了", "Terrible service, switching soon"),
    2: ("网速不稳定，资费偏高", "客服解决问题太慢", "Price is too high"),
    3: ("一般吧，希望资费再便宜点", "还行，偶尔掉线", "It is okay"),
    4: ("整体满意，网络不错", "服务挺好的", "Good network"),
    5: ("非常满意，会推荐给朋友", "信号好，客服热情", "Excellent, would recommend"),
}


def survey_comments(
    rng: np.random.Generator, *, csat: npt.NDArray[np.int64], share: float = 0.35
) -> pa.Array:
    """Optional free-text comments matching each CSAT score (null when none given)."""
    n = len(csat)
    has = rng.random(n) < share
    pick = rng.integers(0, 3, size=n)
    out = np.full(n, None, dtype=object)
    for score, texts in _COMMENTS.items():
        sel = np.flatnonzero(has & (csat == score))
        out[sel] = np.array(texts, dtype=object)[pick[sel]]
    return pa.array(out, type=pa.string())
