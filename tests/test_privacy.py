from __future__ import annotations

import pandas as pd

from churnguard.privacy import mask_email, mask_frame, mask_id_number, mask_msisdn, mask_name


def test_masks_follow_chinese_conventions() -> None:
    assert mask_msisdn(pd.Series(["13812345678"])).tolist() == ["138****5678"]
    assert mask_id_number(pd.Series(["110101199001011234"])).tolist() == ["110***********1234"]
    assert mask_name(pd.Series(["张三", "欧阳娜娜", "John Smith"])).tolist() == [
        "张*",
        "欧***",
        "J*** S****",
    ]
    assert mask_email(pd.Series(["zhang.san@example.com"])).tolist() == ["z***@example.com"]


def test_missing_and_short_values() -> None:
    out = mask_msisdn(pd.Series(["12", None, "12345"]))
    assert out.iloc[0] == "****"
    assert pd.isna(out.iloc[1])
    assert out.iloc[2] == "****45"
    assert mask_id_number(pd.Series(["123"])).tolist() == ["********"]


def test_mask_frame_masks_only_personal_columns() -> None:
    df = pd.DataFrame({"subscriber_id": ["S1"], "msisdn": ["13912345678"], "name": ["李四"]})
    out = mask_frame(df)
    assert out.to_dict("records") == [
        {"subscriber_id": "S1", "msisdn": "139****5678", "name": "李*"}
    ]
    assert df["msisdn"].iloc[0] == "13912345678"  # the input is not changed
    assert not out["msisdn"].str.fullmatch(r"1\d{10}").any()
