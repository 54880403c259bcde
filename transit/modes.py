"""Modes of public transport: GTFS route types, OSM route values and documented defaults.

The transit engine knows five modes (``simulators.transit.network.MODES``): tram, bus, rail,
metro, ferry. GTFS basic route types (0-12) and the extended "Hierarchical Vehicle Type"
codes (100-1700) map onto them; a code outside both lists is an unknown route type.

``DEFAULTS`` are what a line gets when the data says nothing about it (OSM lines have no
timetable; GTFS has no vehicle capacity). Sources and reasoning in docs/transit.md.
"""

from __future__ import annotations

from dataclasses import dataclass

#: GTFS basic route_type -> engine mode (https://gtfs.org/schedule/reference/#routestxt)
BASIC_ROUTE_TYPES = {
    0: "tram",  # tram, streetcar, light rail
    1: "metro",  # subway, metro
    2: "rail",  # rail (intercity or long distance)
    3: "bus",
    4: "ferry",
    5: "tram",  # cable tram
    6: "metro",  # aerial lift (gondola): frequent, fixed capacity; closest engine mode
    7: "rail",  # funicular
    11: "bus",  # trolleybus
    12: "metro",  # monorail
}

#: extended route types (Google's Hierarchical Vehicle Types), by hundreds
EXTENDED_ROUTE_TYPES = {
    100: "rail",  # railway service
    200: "bus",  # coach
    300: "rail",  # suburban railway (deprecated range)
    400: "metro",  # urban railway
    500: "metro",  # metro (deprecated)
    600: "metro",  # underground (deprecated)
    700: "bus",
    800: "bus",  # trolleybus
    900: "tram",
    1000: "ferry",  # water transport
    1100: "rail",  # air (not modelled as such; never expected in a city feed)
    1200: "ferry",
    1300: "metro",  # aerial lift
    1400: "rail",  # funicular
    1500: "bus",  # taxi (shared)
    1700: "bus",  # miscellaneous
}

#: OSM route=* values read as public transport lines -> engine mode
OSM_ROUTES = {
    "tram": "tram",
    "light_rail": "tram",
    "bus": "bus",
    "trolleybus": "bus",
    "subway": "metro",
    "train": "rail",
    "ferry": "ferry",
}


def route_type_mode(route_type: int) -> str | None:
    """The engine mode of a GTFS route_type, or None for an unknown route type."""
    if route_type in BASIC_ROUTE_TYPES:
        return BASIC_ROUTE_TYPES[route_type]
    if 100 <= route_type < 1800:
        return EXTENDED_ROUTE_TYPES.get(route_type // 100 * 100)
    return None


@dataclass(frozen=True)
class ModeDefaults:
    """What a line of a mode gets when its data says nothing.

    headway_s : time between departures, s (OSM lines: no timetable).
    speed_kph : commercial speed including stops, km/h (OSM lines).
    vehicle_capacity : passengers per vehicle, seated + standing (GTFS and OSM).
    """

    headway_s: float
    speed_kph: float
    vehicle_capacity: float


DEFAULTS = {
    "tram": ModeDefaults(headway_s=600.0, speed_kph=15.0, vehicle_capacity=200.0),
    "bus": ModeDefaults(headway_s=900.0, speed_kph=18.0, vehicle_capacity=70.0),
    "metro": ModeDefaults(headway_s=300.0, speed_kph=32.0, vehicle_capacity=900.0),
    "rail": ModeDefaults(headway_s=1200.0, speed_kph=45.0, vehicle_capacity=600.0),
    "ferry": ModeDefaults(headway_s=1800.0, speed_kph=20.0, vehicle_capacity=300.0),
}

#: said with every default so a reader knows where a number comes from
DEFAULTS_SOURCE = (
    "default for the mode (docs/transit.md: TCQSM 3rd ed. frequency bands, typical "
    "commercial speeds and vehicle capacities)"
)
