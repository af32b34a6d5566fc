"""Realistic Chinese personal data, generated in bulk: names, phone numbers, ID numbers, e-mails.

Everything is vectorized: digits are drawn as integer matrices and turned into
strings through fixed-width byte views, never a Python loop over people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["Identities", "age_on", "make_identities", "subscriber_ids", "unknown_subscriber_ids"]

# Common family names, roughly by frequency (most frequent first).
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲兰飞鹏辉波宁斌建国文海峰浩宇轩子涵欣怡梓"
    "睿博晨阳思雨佳琪昊然一诺欣妍嘉俊晓东志刚丹丹婷婷雪梅振华春燕海燕凯旭鑫淑珍秀英玉兰德明永健慧琳"
)
_MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        147,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        175,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        184,
        185,
        186,
        187,
        188,
        189,
        191,
        195,
        198,
        199,
    ],
    dtype=np.int64,
)
_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "139.com", "sina.com", "gmail.com", "foxmail.com")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def _digits_to_strings(codes: npt.NDArray[np.uint8]) -> pa.Array:
    """Rows of ASCII codes (n × width) as a pyarrow string array."""
    width = codes.shape[1]
    raw = np.ascontiguousarray(codes).view(f"S{width}").ravel()
    return pa.array(raw, type=pa.binary(width)).cast(pa.binary()).cast(pa.string())


def _int_digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Zero-padded decimal digits of ``values`` as ASCII codes (n × width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + 48).astype(np.uint8)


def subscriber_ids(index: npt.NDArray[np.int64]) -> pa.Array:
    """Subscriber ids ``S00000001``... for 0-based world indices."""
    digits = pc.utf8_lpad(
        pa.array(index + 1, type=pa.int64()).cast(pa.string()), width=8, padding="0"
    )
    return pc.binary_join_element_wise(pa.scalar("S"), digits, "")


def unknown_subscriber_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """Ids shaped like real ones but never issued (above 90,000,000)."""
    values = rng.integers(90_000_000, 99_999_999, size=n, dtype=np.int64)
    codes = np.concatenate(
        [np.full((n, 1), ord("S"), dtype=np.uint8), _int_digits(values, 8)], axis=1
    )
    return _digits_to_strings(codes)


@dataclass(frozen=True)
class Identities:
    """Personal data of a batch of new subscribers (aligned arrays)."""

    msisdn: pa.Array
    msisdn_value: npt.NDArray[np.int64]
    name: pa.Array
    id_number: pa.Array
    email: pa.Array
    birth_day: npt.NDArray[np.int32]  # days since 1970-01-01
    age: npt.NDArray[np.int64]  # whole years on the reference day, consistent with the ID
    male: npt.NDArray[np.bool_]


def _msisdn(
    rng: np.random.Generator, index: npt.NDArray[np.int64], seed: int
) -> npt.NDArray[np.int64]:
    """Unique phone numbers: a random prefix plus a seed-keyed bijection of the world index.

    ``(a * i + b) mod 10^8`` with ``a`` coprime to 10 maps distinct indices below 10^8 to
    distinct 8-digit suffixes, so numbers never collide and no look-up is needed.
    """
    keys = np.random.default_rng([seed, 7_777]).integers(1, 10**7, size=2)
    a = int(keys[0]) * 10 + 7  # ends in 7: coprime to 10
    b = int(keys[1])
    suffix = (index.astype(np.int64) * a + b) % 100_000_000
    out: npt.NDArray[np.int64] = (
        rng.choice(_MOBILE_PREFIXES, size=len(index)) * 100_000_000 + suffix
    )
    return out


def _names(rng: np.random.Generator, n: int) -> pa.Array:
    surnames = pa.array(list(_SURNAMES))
    given = pa.array(list(_GIVEN))
    ranks = np.arange(1, len(_SURNAMES) + 1, dtype=np.float64)
    p = 1.0 / ranks**0.9
    s = surnames.take(pa.array(rng.choice(len(_SURNAMES), size=n, p=p / p.sum())))
    g1 = given.take(pa.array(rng.integers(0, len(_GIVEN), size=n)))
    g2 = given.take(pa.array(rng.integers(0, len(_GIVEN), size=n)))
    two = pa.array(rng.random(n) < 0.7)
    g2 = pc.if_else(two, g2, pa.scalar("", pa.string()))
    return pc.binary_join_element_wise(s, g1, g2, "")


def _id_numbers(
    rng: np.random.Generator,
    *,
    area_prefix: npt.NDArray[np.int64],
    birth_day: npt.NDArray[np.int32],
    male: npt.NDArray[np.bool_],
) -> pa.Array:
    n = len(birth_day)
    births = birth_day.astype("datetime64[D]")
    years = births.astype("datetime64[Y]").astype(np.int64) + 1970
    months = births.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (births - births.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = years * 10000 + months * 100 + days
    seq = rng.integers(0, 500, size=n, dtype=np.int64) * 2 + male.astype(np.int64)  # odd: male
    digits = np.concatenate(
        [_int_digits(area_prefix, 6), _int_digits(ymd, 8), _int_digits(seq, 3)], axis=1
    )
    check = _ID_CHECK[((digits.astype(np.int64) - 48) @ _ID_WEIGHTS) % 11]
    return _digits_to_strings(np.concatenate([digits, check[:, None]], axis=1))


def _emails(rng: np.random.Generator, msisdn: npt.NDArray[np.int64]) -> pa.Array:
    n = len(msisdn)
    style = rng.integers(0, 3, size=n)
    qq = rng.integers(10_000_000, 3_999_999_999, size=n, dtype=np.int64)
    letters = rng.integers(97, 123, size=(n, 6), dtype=np.uint8)
    tail = _int_digits(rng.integers(0, 100, size=n, dtype=np.int64), 2)
    word = _digits_to_strings(np.concatenate([letters, tail], axis=1))
    local = pc.if_else(
        pa.array(style == 0),
        pa.array(qq.astype(str)),
        pc.if_else(pa.array(style == 1), pa.array(msisdn.astype(str)), word),
    )
    domain_idx = np.where(style == 0, 0, np.where(style == 1, 3, rng.integers(1, 7, size=n)))
    domains = pa.array(["@" + d for d in _EMAIL_DOMAINS]).take(pa.array(domain_idx))
    return pc.binary_join_element_wise(local, domains, "")


def make_identities(
    rng: np.random.Generator,
    *,
    age: npt.NDArray[np.int64],
    reference_day: int,
    home_prefix: npt.NDArray[np.int64],
    first_index: int,
    seed: int,
) -> Identities:
    """Personal data for ``len(age)`` new people.

    Parameters
    ----------
    age
        Age in whole years on ``reference_day``; birth dates are drawn to match it.
    reference_day
        Days since 1970-01-01 at which ``age`` holds.
    home_prefix
        6-digit ID-card area code of each person's birthplace.
    first_index, seed
        World index of the first new person and the world seed: phone numbers are
        unique across the whole world, however many people join later.
    """
    n = len(age)
    # Born between (age+1) years and age years before the reference day (exclusive).
    days_back = age * 365.25 + rng.uniform(1.0, 364.0, size=n)
    birth_day = (reference_day - np.floor(days_back)).astype(np.int32)
    male = rng.random(n) < 0.52
    msisdn = _msisdn(rng, np.arange(first_index, first_index + n, dtype=np.int64), seed)
    return Identities(
        msisdn=pa.array(msisdn.astype(str)),
        msisdn_value=msisdn,
        name=_names(rng, n),
        id_number=_id_numbers(rng, area_prefix=home_prefix, birth_day=birth_day, male=male),
        email=_emails(rng, msisdn),
        birth_day=birth_day,
        age=age_on(birth_day, reference_day),
        male=male,
    )


def age_on(birth_day: npt.NDArray[np.int32], reference_day: int) -> npt.NDArray[np.int64]:
    """Whole years between each birth day and ``reference_day`` (days since 1970-01-01)."""
    births = pa.array(np.asarray(birth_day, dtype=np.int32), type=pa.date32())
    ref = np.datetime64(int(reference_day), "D").astype(object)
    by = pc.year(births).to_numpy()
    bm = pc.month(births).to_numpy()
    bd = pc.day(births).to_numpy()
    before = (bm > ref.month) | ((bm == ref.month) & (bd > ref.day))
    out: npt.NDArray[np.int64] = (ref.year - by - before).astype(np.int64)
    return out
