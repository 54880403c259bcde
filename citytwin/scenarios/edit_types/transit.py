"""Transit edits: add a line, change a line's headway or speed, remove a line, a bus or tram
lane that takes one car lane. Their effect on the supply is :meth:`apply_to_transit` on the
engine's :class:`~simulators.transit.TransitSupply` (city UTM metres, seconds)."""

from __future__ import annotations

import json
import re

import numpy as np
import shapely

from layers.models import RoadEdge
from simulators.common import road_edits
from simulators.transit import MODES, TransitLine, TransitStop, TransitSupply

from ..edits import Checker, EditType, boolean, choice, geometry, ids, number, register, text
from .roads import SNAP_TOLERANCE_M, _edge_keys, _streets, snap_line_to_edges

# physical bounds: a headway of 1 min is a metro at its limit, 2 h a rural bus; tram and bus
# average speeds (stops included) are 12-25 km/h, metros 30-40, regional rail up to ~120;
# an articulated tram or a metro train carries 200-1,500 people, a minibus 20
HEADWAY_MIN = number("Headway", "min", minimum=1, maximum=120,
                     description="Time between departures (frequency = 60 / headway per hour)")  # fmt: skip
SPEED_KPH = number("Average speed", "km/h", minimum=5, maximum=120,
                   description="Operating speed with the stops included")  # fmt: skip
CAPACITY = number("Vehicle capacity", "persons", minimum=10, maximum=2000, integer=True)
#: a drawn stop joins the route when it lies this close to it (m)
STOP_SNAP_M = 150.0
ADDED_LINE = re.compile(r"^add-(\d+)(-back)?$")


def _line_id_field() -> dict:
    return text("Line", 120, "The line's id (from the transit data, or add-<n> for the n-th edit)")


def _local(city, geojson):
    from .. import inputs

    return inputs.local_geometry(city, geojson)


def _known_line(check: Checker, out: dict) -> None:
    """The line id must exist in the city's transit data or be a line added by an edit."""
    from .. import inputs

    line_id = out["line_id"]
    if ADDED_LINE.match(line_id):
        return
    known = inputs.transit_line_ids(check.city)
    if line_id not in known:
        shown = ", ".join(sorted(known)[:5]) or "none imported"
        check.fail("line_id", f"no transit line {line_id!r} in city {check.city.name!r} ({shown})")


def _with_lines(supply: TransitSupply, lines: list[TransitLine], stops=()) -> TransitSupply:
    return TransitSupply(list(supply.stops) + list(stops), lines, supply.period)


@register
class AddTransitLine(EditType):
    type = "add_transit_line"
    label = "Add a transit line"
    description = "A drawn route with its stops (drawn, or spaced evenly), headway, speed, vehicles"
    fields = {
        "route": geometry("LineString", "Route", "The line's path, first stop to last"),
        "stops": geometry("MultiPoint", "Stops", "Optional: stops along the route"),
        "name": text("Name", 80),
        "mode": choice("Mode", {k: v for k, v in MODES.items()}, default="tram"),
        "headway_min": {**HEADWAY_MIN, "default": 10},
        "speed_kph": {**SPEED_KPH, "default": 20},
        "vehicle_capacity": {**CAPACITY, "default": 200},
        "stop_spacing_m": number(
            "Stop spacing",
            "m",
            minimum=100,
            maximum=5000,
            default=500,
            description="Where no stops are drawn",
        ),  # fmt: skip
        "two_way": boolean("Both directions", True),
    }
    required = ("route",)

    @classmethod
    def check(cls, check, out):
        route = _local(check.city, out["route"])
        if route.length < 200:
            check.fail("route", f"is {route.length:.0f} m long; a line needs at least 200 m")
        if "stops" in out:
            stops = _local(check.city, out["stops"])
            far = [p for p in stops.geoms if route.distance(p) > STOP_SNAP_M]
            if far:
                check.fail(
                    "stops", f"{len(far)} stop(s) lie over {STOP_SNAP_M:.0f} m from the route"
                )
            if len(stops.geoms) < 2:
                check.fail("stops", "a line needs at least two stops")

    @classmethod
    def describe(cls, city, edit):
        route = _local(city, edit["route"])
        name = edit.get("name") or MODES[edit["mode"]].lower()
        return (
            f"Add {name}: {route.length / 1000:.1f} km every {edit['headway_min']:g} min at "
            f"{edit['speed_kph']:g} km/h"
        )

    @classmethod
    def apply_to_transit(cls, supply, city, index, edit):
        route = _local(city, edit["route"])
        if "stops" in edit:
            at = sorted({float(route.project(p)) for p in _local(city, edit["stops"]).geoms})
        else:
            n = max(1, round(route.length / edit["stop_spacing_m"]))
            at = list(np.linspace(0.0, route.length, n + 1))
        points = [route.interpolate(d) for d in at]
        stops = [
            TransitStop(f"add-{index}-s{k}", f"{edit.get('name') or 'New line'} stop {k + 1}",
                        float(p.x), float(p.y))
            for k, p in enumerate(points)
        ]  # fmt: skip
        lengths = list(np.diff(at))
        speed_m_s = edit["speed_kph"] / 3.6
        headway_s = edit["headway_min"] * 60.0
        name = edit.get("name") or f"New {MODES[edit['mode']].lower()}"
        ids_ = [s.stop_id for s in stops]
        lines = list(supply.lines)
        for suffix, order in (("", 1), ("-back", -1)):
            if order == -1 and not edit["two_way"]:
                continue
            seg = lengths[::order]
            lines.append(
                TransitLine(
                    line_id=f"add-{index}{suffix}", name=name, mode=edit["mode"],
                    stop_ids=ids_[::order], segment_time_s=[d / speed_m_s for d in seg],
                    headway_s=headway_s,
                    capacity_per_h=edit["vehicle_capacity"] * 3600.0 / headway_s, route_m=seg,
                )
            )  # fmt: skip
        return _with_lines(supply, lines, stops)


@register
class ChangeTransitLine(EditType):
    type = "change_transit_line"
    label = "Change a transit line"
    description = "A new headway or average speed for a line (both directions of an added one)"
    fields = {"line_id": _line_id_field(), "headway_min": HEADWAY_MIN, "speed_kph": SPEED_KPH}
    required = ("line_id",)

    @classmethod
    def check(cls, check, out):
        if not {"headway_min", "speed_kph"} & set(out):
            check.fail("headway_min", "give at least one of headway_min, speed_kph")
        _known_line(check, out)

    @classmethod
    def describe(cls, city, edit):
        changes = [
            f"every {edit['headway_min']:g} min" if "headway_min" in edit else "",
            f"at {edit['speed_kph']:g} km/h" if "speed_kph" in edit else "",
        ]
        return f"Line {edit['line_id']}: {' '.join(c for c in changes if c)}"

    @classmethod
    def apply_to_transit(cls, supply, city, index, edit):
        lines = []
        for line in supply.lines:
            if line.line_id in (edit["line_id"], f"{edit['line_id']}-back"):
                headway = edit.get("headway_min", line.headway_s / 60.0) * 60.0
                times = list(line.segment_time_s)
                if "speed_kph" in edit:
                    times = [d / (edit["speed_kph"] / 3.6) for d in line.route_m]
                # the vehicles keep their size: capacity per hour follows the frequency
                capacity = line.capacity_per_h * line.headway_s / headway
                line = TransitLine(line.line_id, line.name, line.mode, list(line.stop_ids),
                                   times, headway, capacity, list(line.route_m))  # fmt: skip
            lines.append(line)
        return _with_lines(supply, lines)


@register
class RemoveTransitLine(EditType):
    type = "remove_transit_line"
    label = "Remove a transit line"
    description = "The line stops running (both directions of an added one)"
    fields = {"line_id": _line_id_field()}
    required = ("line_id",)

    @classmethod
    def check(cls, check, out):
        _known_line(check, out)

    @classmethod
    def describe(cls, city, edit):
        return f"Remove line {edit['line_id']}"

    @classmethod
    def apply_to_transit(cls, supply, city, index, edit):
        gone = (edit["line_id"], f"{edit['line_id']}-back")
        return _with_lines(supply, [ln for ln in supply.lines if ln.line_id not in gone])


@register
class TransitLane(EditType):
    type = "transit_lane"
    label = "Bus or tram lane"
    description = "One car lane per direction given to buses or trams on the chosen roads"
    fields = {
        "edge_ids": ids("Road edges", RoadEdge),
        "line": geometry("LineString", "Drawn line", "Snapped to the edges it follows"),
    }
    computed = {"resolved_edge_ids": ids("Edges the line snapped to", RoadEdge)}

    @classmethod
    def validate(cls, city, index, edit):
        if "edge_ids" in edit:
            edit = {k: v for k, v in edit.items() if k != "line"}
        return super().validate(city, index, edit)

    @classmethod
    def check(cls, check, out):
        if "edge_ids" in out:
            check.existing(RoadEdge, out["edge_ids"], "edge_ids")
            return
        if "line" not in out:
            check.fail("line", "is required (a GeoJSON LineString in EPSG:4326)")
        resolved = snap_line_to_edges(check.city, shapely.from_geojson(json.dumps(out["line"])))
        if not resolved:
            check.fail("line", f"follows no road (nothing within {SNAP_TOLERANCE_M:.0f} m)")
        out["resolved_edge_ids"] = resolved

    @classmethod
    def describe(cls, city, edit):
        ids_ = edit.get("edge_ids") or edit.get("resolved_edge_ids") or []
        return f"Bus or tram lane on {_streets(city, ids_)}"

    @classmethod
    def apply_to_roads(cls, G, city, index, edit):
        """One lane fewer for cars (capacity per lane kept); a one-lane road closes to cars."""
        keys = _edge_keys(G, edit.get("edge_ids") or edit.get("resolved_edge_ids") or [])
        single = [k for k in keys if float(G.edges[k]["lanes"] or 1) <= 1]
        road_edits.close_roads(G, single)
        for key in keys:
            lanes = float(G.edges[key]["lanes"] or 1)
            if lanes > 1:
                road_edits.change_roads(G, [key], lanes=lanes - 1)
