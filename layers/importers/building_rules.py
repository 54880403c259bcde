"""How a building's height, use, floor area, residents and workers are derived.

Height (metres), in order of preference
---------------------------------------
1. ``height`` tag (``osm_height``). Text such as ``"12"``, ``"12 m"``, ``"12,5"``, ``"40 ft"``
   or ``"12'"`` is parsed; a list such as ``"3;4"`` takes the largest value (the tallest part).
   Values that do not parse, or fall outside 0.5-1000 m, are reported and the next rule applies.
2. ``building:levels`` x ``STOREY_HEIGHT_M`` (3.0 m, the usual floor-to-floor height of
   housing and offices) + ``ROOF_ALLOWANCE_M`` (1.0 m for roof structure / parapet), plus
   half a storey per ``roof:levels`` (``osm_levels``).
3. A default per ``building=*`` type from ``TYPE_DEFAULT_HEIGHT_M`` (``type_default``); an
   untyped ``building=yes`` gets 9 m (a three-storey building, the common urban case).

Floor area = footprint area x levels (levels from the tag, else round(height / 3 m), >= 1).

Residents and workers: :mod:`simulators.common.occupancy` (the one source of the rates, shared
with scenario edits and the traffic demand model).
"""

from __future__ import annotations

import math
import re

from simulators.common.occupancy import STOREY_HEIGHT_M

ROOF_ALLOWANCE_M = 1.0
MIN_HEIGHT_M, MAX_HEIGHT_M = 0.5, 1000.0

TYPE_DEFAULT_HEIGHT_M: dict[str, float] = {
    "house": 7.0,
    "detached": 7.0,
    "semidetached_house": 7.0,
    "terrace": 8.0,
    "bungalow": 4.0,
    "cabin": 4.0,
    "hut": 3.0,
    "shed": 3.0,
    "garage": 3.0,
    "garages": 3.0,
    "carport": 3.0,
    "roof": 4.0,
    "kiosk": 3.0,
    "residential": 15.0,
    "apartments": 15.0,
    "dormitory": 15.0,
    "hotel": 18.0,
    "commercial": 12.0,
    "office": 15.0,
    "retail": 8.0,
    "supermarket": 7.0,
    "industrial": 9.0,
    "warehouse": 9.0,
    "factory": 10.0,
    "church": 20.0,
    "cathedral": 30.0,
    "chapel": 8.0,
    "mosque": 15.0,
    "temple": 12.0,
    "synagogue": 12.0,
    "school": 10.0,
    "university": 15.0,
    "college": 12.0,
    "kindergarten": 5.0,
    "hospital": 18.0,
    "public": 12.0,
    "civic": 12.0,
    "government": 15.0,
    "train_station": 12.0,
    "transportation": 8.0,
    "parking": 10.0,
    "stadium": 20.0,
    "sports_hall": 10.0,
    "greenhouse": 4.0,
    "farm_auxiliary": 5.0,
    "barn": 7.0,
    "service": 4.0,
    "construction": 9.0,
}
DEFAULT_HEIGHT_M = 9.0

_USE_BY_TYPE = {
    "residential": {
        "house",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
        "residential",
        "apartments",
        "dormitory",
        "cabin",
        "farm",
        "houseboat",
        "static_caravan",
    },
    "commercial": {"commercial", "office", "retail", "supermarket", "hotel", "kiosk", "shop"},
    "industrial": {
        "industrial",
        "warehouse",
        "factory",
        "manufacture",
        "service",
        "garage",
        "garages",
        "shed",
        "storage_tank",
        "hangar",
        "depot",
    },
    "public": {
        "church",
        "cathedral",
        "chapel",
        "mosque",
        "temple",
        "synagogue",
        "religious",
        "school",
        "university",
        "college",
        "kindergarten",
        "hospital",
        "public",
        "civic",
        "government",
        "train_station",
        "transportation",
        "stadium",
        "sports_hall",
        "museum",
        "library",
        "fire_station",
        "townhall",
        "theatre",
        "bunker",
    },
}
_PUBLIC_AMENITIES = {
    "school",
    "university",
    "college",
    "kindergarten",
    "hospital",
    "clinic",
    "library",
    "townhall",
    "courthouse",
    "police",
    "fire_station",
    "place_of_worship",
    "theatre",
    "arts_centre",
    "museum",
    "community_centre",
}
_COMMERCIAL_AMENITIES = {"restaurant", "cafe", "bar", "pub", "bank", "fast_food", "cinema"}
_NUMBER = re.compile(r"(?<![\d.])-?\d+(?:[.,]\d+)?")  # a minus only as a sign, not in "3-4"


def parse_height_m(value: object) -> tuple[float | None, str | None]:
    """Parse an OSM ``height`` value to metres.

    Returns
    -------
    (height_m, problem): height in metres or None; a short description of why the value was
    not usable, or None when it parsed cleanly.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    text = str(value).strip().lower()
    if not text:
        return None, None
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]
    if not numbers:
        return None, f"no number in {value!r}"
    if "ft" in text or "'" in text or "feet" in text:
        if "'" in text and '"' in text and len(numbers) >= 2:  # 12'6"
            height = numbers[0] * 0.3048 + numbers[1] * 0.0254
        else:
            height = max(numbers) * 0.3048
    else:
        height = max(numbers)
    if not MIN_HEIGHT_M <= height <= MAX_HEIGHT_M:
        return None, f"implausible height {value!r}"
    return height, None


def parse_levels(value: object) -> tuple[float | None, str | None]:
    """Parse ``building:levels`` (``"3"``, ``"3.5"``, ``"3;4"``) to a number of storeys."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    text = str(value).strip()
    if not text:
        return None, None
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(text)]
    if not numbers:
        return None, f"no number in {value!r}"
    levels = max(numbers)
    if not 0 < levels <= 300:
        return None, f"implausible levels {value!r}"
    return levels, None


def building_use(building_type: str, tags: dict[str, object] | None = None) -> str:
    """Use class (residential, commercial, industrial, public, other) from OSM tags."""
    tags = tags or {}
    btype = (building_type or "").strip().lower()
    for use, types in _USE_BY_TYPE.items():
        if btype in types:
            return use
    amenity = str(tags.get("amenity") or "").lower()
    if amenity in _PUBLIC_AMENITIES:
        return "public"
    if amenity in _COMMERCIAL_AMENITIES or tags.get("shop") or tags.get("office"):
        return "commercial"
    if tags.get("craft") or tags.get("industrial"):
        return "industrial"
    return "other"


def derive_height(
    building_type: str, height_tag: object, levels_tag: object, roof_levels_tag: object = None
) -> tuple[float, str, float | None, list[str]]:
    """Height in metres, its source, the parsed levels and any problems found.

    See the module docstring for the rules.
    """
    problems: list[str] = []
    levels, problem = parse_levels(levels_tag)
    if problem:
        problems.append(f"building:levels: {problem}")
    height, problem = parse_height_m(height_tag)
    if problem:
        problems.append(f"height: {problem}")
    if height is not None:
        return height, "osm_height", levels, problems
    if levels is not None:
        roof_levels, _ = parse_levels(roof_levels_tag)
        roof = 0.5 * STOREY_HEIGHT_M * (roof_levels or 0.0)
        return levels * STOREY_HEIGHT_M + ROOF_ALLOWANCE_M + roof, "osm_levels", levels, problems
    btype = (building_type or "").strip().lower()
    return TYPE_DEFAULT_HEIGHT_M.get(btype, DEFAULT_HEIGHT_M), "type_default", None, problems
