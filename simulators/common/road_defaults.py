"""Default speed and capacity per OSM highway class.

The twin's road edges, the traffic engine and the evacuation engine all take a
link's free-flow speed and capacity from here when OSM does not say (``maxspeed``
and ``lanes`` tags win where present).

Sources
-------
- Capacities per lane follow the Highway Capacity Manual (HCM 2010) orders of
  magnitude: about 2,000 veh/h/lane on motorways (basic freeway segments),
  1,800 on trunk roads, and saturation flow x typical green ratio on signalised
  urban streets (1,900 veh/h/lane x 0.4-0.5 g/C ≈ 800-900 for primary roads,
  lower for minor streets).
- Speeds are typical urban limits in European cities (Finland: 50 km/h default
  in built-up areas, 30-40 km/h on residential streets, 80-120 km/h outside).
- Lanes per direction when OSM has no ``lanes`` tag: one, except motorways and
  trunk roads (two).
"""

from __future__ import annotations

import math
import re

#: highway class -> (speed km/h, capacity veh/h per lane, default lanes per direction)
HIGHWAY_DEFAULTS: dict[str, tuple[float, float, int]] = {
    "motorway": (100.0, 2000.0, 2),
    "motorway_link": (60.0, 1500.0, 1),
    "trunk": (80.0, 1800.0, 2),
    "trunk_link": (50.0, 1400.0, 1),
    "primary": (50.0, 900.0, 1),
    "primary_link": (40.0, 800.0, 1),
    "secondary": (50.0, 800.0, 1),
    "secondary_link": (40.0, 700.0, 1),
    "tertiary": (40.0, 700.0, 1),
    "tertiary_link": (30.0, 600.0, 1),
    "unclassified": (40.0, 600.0, 1),
    "residential": (30.0, 500.0, 1),
    "living_street": (20.0, 300.0, 1),
    "service": (20.0, 300.0, 1),
    "road": (30.0, 500.0, 1),
}
#: used for any class not in the table
FALLBACK_DEFAULTS: tuple[float, float, int] = (30.0, 500.0, 1)

#: vehicles per km per lane at jam density (7 m per stopped car)
JAM_DENSITY_VEH_PER_KM_LANE: float = 1000.0 / 7.0

_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def highway_class(value: object) -> str:
    """First highway class of an OSM ``highway`` value (list or ``a;b`` text)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    text = str(value or "").split(";")[0].strip()
    return text or "road"


def parse_number(value: object) -> float | None:
    """First number in an OSM text value (``"12 m"``, ``"3;4"``, ``"2.5"``), or None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return None if (isinstance(value, float) and math.isnan(value)) else float(value)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
        return parse_number(value)
    match = _NUMBER.search(str(value))
    if not match:
        return None
    return float(match.group(0).replace(",", "."))


def parse_maxspeed_kph(value: object) -> float | None:
    """OSM ``maxspeed`` in km/h (handles ``"50"``, ``"30 mph"``, ``"FI:urban"``)."""
    if value is None:
        return None
    text = str(value[0] if isinstance(value, list | tuple) and value else value).strip().lower()
    if text in {"", "none", "signals", "variable", "walk"}:
        return None
    if text.endswith(":urban"):
        return 50.0
    if text.endswith(":rural"):
        return 80.0
    if text.endswith(":living_street"):
        return 20.0
    number = parse_number(text)
    if number is None or number <= 0:
        return None
    return number * 1.609344 if "mph" in text else number


def link_defaults(
    highway: object,
    maxspeed: object = None,
    lanes: object = None,
    oneway: bool = True,
) -> tuple[float, int, float]:
    """Speed, lanes (per direction) and capacity of one directed link.

    Parameters
    ----------
    highway : OSM ``highway`` value.
    maxspeed : OSM ``maxspeed`` value; wins over the class default when parseable.
    lanes : OSM ``lanes`` value (total for the road); wins when parseable.
    oneway : whether the road is one-way; a two-way road's ``lanes`` tag is split
        between the two directions (at least one lane each).

    Returns
    -------
    (speed_kph, lanes_per_direction, capacity_veh_per_h)
    """
    speed, cap_per_lane, default_lanes = HIGHWAY_DEFAULTS.get(
        highway_class(highway), FALLBACK_DEFAULTS
    )
    tagged_speed = parse_maxspeed_kph(maxspeed)
    if tagged_speed is not None:
        speed = tagged_speed
    n_lanes = default_lanes
    tagged_lanes = parse_number(lanes)
    if tagged_lanes is not None and tagged_lanes >= 1:
        n_lanes = int(tagged_lanes) if oneway else max(1, int(tagged_lanes) // 2)
    return float(speed), int(n_lanes), float(cap_per_lane * n_lanes)
