"""Address normalisation: real-looking variants of one place fall together; different places stay apart."""
from __future__ import annotations

import pytest

from callcenter.ledger.addresses import chinese_number, place_key

SAME_PLACE = [
    # (address as the city writes it, community column, expected key)
    ("枫丹丽舍29号楼2单元", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍 29 号楼", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍社区29号楼", "", "枫丹丽舍29号楼"),
    ("北京市海淀区西三旗街道枫丹丽舍小区二十九号楼", "", "枫丹丽舍29号楼"),
    ("海淀区西三旗街道枫丹丽舍29栋3单元502", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍２９号楼", "", "枫丹丽舍29号楼"),
    ("西三旗街道办事处枫丹丽舍29#楼", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍（29号楼）东侧", "", "枫丹丽舍29号楼"),
    ("北京市海淀区西三旗街道枫丹丽舍29号楼1层底商", "", "枫丹丽舍29号楼"),
    ("北京海淀区西三旗街道枫丹丽舍社区29号楼", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍，29号楼，3单元", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍29幢", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍二十九栋", "", "枫丹丽舍29号楼"),
    ("枫丹丽舍29号楼-2单元-301", "", "枫丹丽舍29号楼"),
    ("29号楼", "枫丹丽舍社区", "枫丹丽舍29号楼"),
    ("北京市海淀区西三旗街道悦秀园社区4号楼3单元", "", "悦秀园4号楼"),
    ("悦秀园4号楼", "", "悦秀园4号楼"),
    ("悦秀园小区四号楼", "", "悦秀园4号楼"),
    ("悦秀园社区 4 号楼 西侧绿地", "", "悦秀园4号楼"),
    ("悦秀园十号楼", "", "悦秀园10号楼"),
    ("清缘里社区居委会3号楼", "", "清缘里3号楼"),
    ("清缘里3号楼5单元", "", "清缘里3号楼"),
    ("海淀区清缘里三号楼", "", "清缘里3号楼"),
    ("育新花园社区", "", "育新花园"),
    ("育新花园小区", "", "育新花园"),
    ("北京市海淀区西三旗街道育新花园", "", "育新花园"),
    ("建材城西路12号", "", "建材城西路12号"),
    ("海淀区建材城西路12号", "", "建材城西路12号"),
    ("永泰庄北路 3 号", "", "永泰庄北路3号"),
    ("知本时代一百零二号楼", "", "知本时代102号楼"),
    ("知本时代102号楼", "", "知本时代102号楼"),
    ("沁春家园社区 11号楼 1门", "", "沁春家园11号楼"),
]


@pytest.mark.parametrize(("address", "community", "expected"), SAME_PLACE)
def test_variants_fall_together(address, community, expected):
    assert str(place_key(address, community)) == expected


def test_different_places_stay_apart():
    keys = {str(place_key(a)) for a in ("枫丹丽舍29号楼", "枫丹丽舍28号楼", "悦秀园29号楼", "建材城西路12号",
                                         "建材城西路13号")}
    assert len(keys) == 5


def test_there_are_at_least_thirty_variants():
    assert len(SAME_PLACE) >= 30


@pytest.mark.parametrize(("text", "value"), [("十", 10), ("二十九", 29), ("一百零二", 102), ("四", 4), ("十五", 15)])
def test_chinese_numbers(text, value):
    assert chinese_number(text) == value


def test_a_hotspot_is_one_place_across_spellings_and_titles():
    from datetime import datetime, timezone

    from callcenter.reports.figures import hotspots

    def t(no, address, title, community=""):
        return {"ticket_no": no, "address": address, "title": title, "community_name": community,
                "category_l1": "物业管理", "called_at": datetime(2024, 5, 1, tzinfo=timezone.utc)}
    spots = hotspots([t("1", "枫丹丽舍29号楼2单元", "楼道堆物"), t("2", "枫丹丽舍 29 号楼", "电梯故障"),
                      t("3", "枫丹丽舍社区29号楼", "楼道堆物"), t("4", "悦秀园4号楼", "噪音"),
                      t("5", "悦秀园四号楼", "噪音")])
    assert [(s.place, s.tickets, s.titles) for s in spots] == [("枫丹丽舍29号楼", 3, 2)]
