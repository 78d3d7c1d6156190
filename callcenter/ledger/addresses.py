"""Address normalisation (pure): 问题点位 → a place key of community + building.

The city writes one place many ways: 枫丹丽舍29号楼2单元, 枫丹丽舍 29 号楼,
枫丹丽舍社区29号楼, 北京市海淀区西三旗街道枫丹丽舍小区二十九号楼.  Hotspots
must count them together, so the key keeps only the place name (without the
city / district / street prefix and without 社区/小区) and the building
number; units, floors and rooms are dropped.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+(?=(?:号楼|号院|栋|幢|号|单元|楼|层|室))")
_NOISE = re.compile(r"[\s,，、;；:：()（）\[\]【】\"'“”‘’。.·\-—_]+")
_PREFIX = re.compile(r"^(?:北京市?)?(?:[^区]{1,5}(?<![社小园])区)?(?:[^街道镇乡]{1,8}?(?:街道办事处|街道|地区办事处|镇|乡))?")
_BUILDING = re.compile(r"(\d+)(?:号楼|号院|栋|幢|#楼|#|号|楼)")
_ROAD = re.compile(r"(?:路|街|大街|大道|巷|胡同)$")       # 建材城西路12号 is a doorplate, not a building
_PLACE_SUFFIX = re.compile(r"(?:社区居委会|居委会|社区|小区|院区)$")


def chinese_number(text: str) -> int:
    """二十九 → 29, 一百零二 → 102, 十 → 10 (the forms addresses use)."""
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


@dataclass(frozen=True)
class PlaceKey:
    place: str
    building: int | None

    def __str__(self) -> str:
        return f"{self.place}{self.building}号楼" if self.building is not None else self.place


def clean(address: str) -> str:
    """Width-folded (full-width digits → ASCII), Chinese numbers → digits, spaces and punctuation gone."""
    text = unicodedata.normalize("NFKC", address or "")
    text = _NOISE.sub("", text)
    return _CN_NUMBER.sub(lambda m: str(chinese_number(m.group(0))), text)


def place_key(address: str, community: str = "") -> PlaceKey:
    """The hotspot key of an address; ``community`` (所在社区) fills in a place the address leaves out."""
    text = _PREFIX.sub("", clean(address), count=1)
    match = _BUILDING.search(text)
    place = text[:match.start()] if match else text
    if match and match.group(0).endswith("号") and not match.group(0).endswith("楼") and _ROAD.search(place):
        return PlaceKey(text[:match.end()], None)
    place = _PLACE_SUFFIX.sub("", place)
    if not place and community:
        place = _PLACE_SUFFIX.sub("", clean(community))
    return PlaceKey(place, int(match.group(1)) if match else None)
