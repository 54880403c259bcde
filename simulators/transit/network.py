"""Transit supply handed to the transit engine (pure; no Django).

These three dataclasses are the contract between the data side (``transit.engine_input``
builds them from GTFS/OSM tables) and the engine (``simulators.transit``). Coordinates are
metres in the city's UTM zone; times are seconds; a line's headway is the average over the
modelled period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["TransitStop", "TransitLine", "TransitSupply", "SupplyError", "MODES"]

#: Modes a line may have (labels in words).
MODES = {"tram": "Tram", "bus": "Bus", "rail": "Rail", "metro": "Metro", "ferry": "Ferry"}


class SupplyError(ValueError):
    """The transit supply is inconsistent; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class TransitStop:
    """A stop (or station) where passengers board and alight.

    ``x_m``, ``y_m``: position in metres in the city's UTM zone.
    """

    stop_id: str
    name: str
    x_m: float
    y_m: float


@dataclass
class TransitLine:
    """One directed line pattern served at a period-average headway.

    Parameters
    ----------
    stop_ids : stops in the order served (one direction; a two-way route is two lines).
    segment_time_s : in-vehicle time of each segment between consecutive stops, s
        (``len(stop_ids) - 1`` values).
    headway_s : average time between departures over the period, s (frequency = 1 / headway).
    capacity_per_h : passengers the line can carry per hour (vehicles/h x vehicle capacity).
    route_m : length of each segment along the route, m (``len(stop_ids) - 1`` values).
    """

    line_id: str
    name: str
    mode: str
    stop_ids: list[str]
    segment_time_s: list[float]
    headway_s: float
    capacity_per_h: float
    route_m: list[float]


@dataclass
class TransitSupply:
    """The stops and lines of a city for one period (e.g. ``"07-09 weekday"``)."""

    stops: list[TransitStop]
    lines: list[TransitLine]
    period: str

    def validate(self) -> None:
        """Raise :class:`SupplyError` naming the field when the supply is inconsistent."""
        ids = [s.stop_id for s in self.stops]
        known = set(ids)
        if len(known) != len(ids):
            raise SupplyError("stops", "stop ids must be unique")
        for s in self.stops:
            if not (math.isfinite(s.x_m) and math.isfinite(s.y_m)):
                raise SupplyError("stops", f"stop {s.stop_id!r} has no finite position")
        line_ids = set()
        for line in self.lines:
            where = f"lines[{line.line_id}]"
            if line.line_id in line_ids:
                raise SupplyError("lines", f"line id {line.line_id!r} is repeated")
            line_ids.add(line.line_id)
            if line.mode not in MODES:
                raise SupplyError(f"{where}.mode", f"must be one of {', '.join(MODES)}")
            if len(line.stop_ids) < 2:
                raise SupplyError(f"{where}.stop_ids", "a line needs at least two stops")
            missing = [s for s in line.stop_ids if s not in known]
            if missing:
                raise SupplyError(f"{where}.stop_ids", f"unknown stop {missing[0]!r}")
            n = len(line.stop_ids) - 1
            if len(line.segment_time_s) != n:
                raise SupplyError(f"{where}.segment_time_s", f"needs {n} values (stops - 1)")
            if len(line.route_m) != n:
                raise SupplyError(f"{where}.route_m", f"needs {n} values (stops - 1)")
            if any(not (math.isfinite(t) and t >= 0) for t in line.segment_time_s):
                raise SupplyError(f"{where}.segment_time_s", "must be finite and >= 0 s")
            if any(not (math.isfinite(d) and d >= 0) for d in line.route_m):
                raise SupplyError(f"{where}.route_m", "must be finite and >= 0 m")
            if not (math.isfinite(line.headway_s) and line.headway_s > 0):
                raise SupplyError(f"{where}.headway_s", "must be a positive number of seconds")
            if not (math.isfinite(line.capacity_per_h) and line.capacity_per_h > 0):
                raise SupplyError(f"{where}.capacity_per_h", "must be positive passengers/h")
