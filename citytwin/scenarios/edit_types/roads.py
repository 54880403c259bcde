"""Road edits: close, change, add. Their rules on the graph are the engines' own
(:mod:`simulators.common.road_edits`)."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import shapely
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import GEOSGeometry

from layers.geo import to_geos
from layers.models import City, RoadEdge, RoadNode
from simulators.common import road_edits

from ..edits import Checker, EditType, boolean, geometry, ids, number, register, text

#: a drawn line selects the edges within this distance of it over most of their length (m)
SNAP_TOLERANCE_M = 8.0
#: ends of an added road join existing nodes this close (m), else they are new dead ends
NODE_SNAP_M = 50.0

# physical upper bounds (docs/scenarios.md): a motorway has at most ~6 lanes per direction
# (8 with auxiliary lanes), about 2,200 veh/h per lane, and no public road allows 200 km/h
LANES = number("Lanes per direction", "1", minimum=1, maximum=8, integer=True)
SPEED_KPH = number("Speed limit", "km/h", exclusive_minimum=0, maximum=200)
CAPACITY_VEH_H = number("Capacity per direction", "veh/h", exclusive_minimum=0, maximum=20_000)


def snap_line_to_edges(city: City, line: shapely.LineString) -> list[int]:
    """Road edges that a drawn line follows: both ends of the edge near the line.

    Parameters
    ----------
    line : lon/lat line (EPSG:4326).

    Returns
    -------
    Edge ids (both directions of a two-way road), sorted.
    """
    local = to_geos(line).transform(city.local_epsg, clone=True)
    buffer = local.buffer(SNAP_TOLERANCE_M).transform(4326, clone=True)
    candidates = RoadEdge.objects.filter(city=city, geom__intersects=buffer)
    # an edge is selected when most of it lies within the tolerance of the line (not just
    # crossing it): compare the edge length inside the buffer with its length
    picked = []
    for edge in candidates.only("id", "geom"):
        edge_local = edge.geom.transform(city.local_epsg, clone=True)
        inside = edge_local.intersection(local.buffer(SNAP_TOLERANCE_M)).length
        if edge_local.length == 0 or inside >= 0.6 * edge_local.length:
            picked.append(edge.id)
    return sorted(picked)


def nearest_node(city: City, point: shapely.Point) -> tuple[int | None, float]:
    """The nearest road node of the city and its distance (m)."""
    geos_point: GEOSGeometry = to_geos(point)
    node = (
        RoadNode.objects.filter(city=city)
        .annotate(d=Distance("geom", geos_point))
        .order_by("d")
        .first()
    )
    if node is None:
        return None, math.inf
    return node.id, node.d.m


def _edge_keys(G, edge_ids) -> list[tuple]:
    """Graph keys of the twin's edges ``edge_ids`` (ids not in the graph are skipped)."""
    # one index per graph, not one scan of every edge per edit (500 edits x 200k links);
    # rebuilt when an earlier edit removed or re-keyed an edge it points to
    index = G.graph.get("_edge_key_by_id")
    keys = [index[e] for e in dict.fromkeys(edge_ids) if e in index] if index is not None else None
    if keys is None or not all(
        G.has_edge(u, v, k) and G.edges[u, v, k].get("edge_id") is not None for u, v, k in keys
    ):
        index = {e: (u, v, k) for u, v, k, e in G.edges(keys=True, data="edge_id") if e is not None}
        G.graph["_edge_key_by_id"] = index
        keys = [index[e] for e in dict.fromkeys(edge_ids) if e in index]
    return keys


def _streets(city: City, edge_ids: list[int]) -> str:
    """'Mannerheimintie (3 segments)': the most common street name of the edges."""
    names = Counter(
        RoadEdge.objects.filter(city=city, pk__in=edge_ids).values_list("name", flat=True)
    )
    named = [n for n, _ in names.most_common() if n]
    segments = f"{len(edge_ids)} segment{'s' if len(edge_ids) != 1 else ''}"
    if not named:
        return f"an unnamed road ({segments})"
    more = f" and {len(named) - 1} more" if len(named) > 1 else ""
    return f"{named[0]}{more} ({segments})"


def _closed_ids(edit: dict) -> list[int]:
    return edit.get("edge_ids") or edit.get("resolved_edge_ids") or []


def street_edges(check: Checker, name: str) -> list[int]:
    """Every road edge of the street called ``name`` (case and diacritics aside), or a 400
    naming ``street`` with the closest names the city has."""
    from layers import gazetteer

    names = gazetteer.for_city(check.city)
    place = names.street(name)
    if place is None:
        near = [p.name for p in names.search(name, limit=3, kinds=("street",))]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        check.fail("street", f"no street called {name!r} in {check.city.name}{hint}")
    return sorted(place.ids)


@register
class CloseRoad(EditType):
    type = "close_road"
    label = "Close a road"
    description = (
        "Edges by id, a whole street by its name, or a drawn line snapped to the edges it follows"
    )
    fields = {
        "edge_ids": ids("Road edges", RoadEdge),
        "street": text("Street name", description="every segment of the street, both ways"),
        "line": geometry("LineString", "Drawn line", "Snapped to the edges it follows"),
    }
    computed = {"resolved_edge_ids": ids("Edges the street or the line stands for", RoadEdge)}

    @classmethod
    def validate(cls, city, index, edit):
        if "edge_ids" in edit:  # ids win over a street name or a drawn line
            edit = {k: v for k, v in edit.items() if k not in ("line", "street")}
        elif isinstance(edit, dict) and "street" in edit:  # a name wins over a line
            edit = {k: v for k, v in edit.items() if k != "line"}
        return super().validate(city, index, edit)

    @classmethod
    def check(cls, check: Checker, out: dict) -> None:
        if "edge_ids" in out:
            check.existing(RoadEdge, out["edge_ids"], "edge_ids")
            return
        if "street" in out:
            out["resolved_edge_ids"] = street_edges(check, out["street"])
            return
        if "line" not in out:
            check.fail("line", "is required (or street, or edge_ids)")
        line = shapely.from_geojson(json.dumps(out["line"]))
        resolved = snap_line_to_edges(check.city, line)
        if not resolved:
            check.fail("line", f"follows no road (nothing within {SNAP_TOLERANCE_M:.0f} m)")
        out["resolved_edge_ids"] = resolved

    @classmethod
    def describe(cls, city, edit):
        return f"Close {_streets(city, _closed_ids(edit))}"

    @classmethod
    def apply_to_roads(cls, G, city, index, edit):
        road_edits.close_roads(G, _edge_keys(G, _closed_ids(edit)))


@register
class ChangeRoad(EditType):
    type = "change_road"
    label = "Change a road"
    description = "New lanes, capacity or speed limit on road edges"
    fields = {
        "edge_ids": ids("Road edges", RoadEdge),
        "lanes": LANES,
        "capacity_veh_h": CAPACITY_VEH_H,
        "speed_kph": SPEED_KPH,
    }
    required = ("edge_ids",)

    @classmethod
    def check(cls, check, out):
        check.existing(RoadEdge, out["edge_ids"], "edge_ids")
        if not {"lanes", "capacity_veh_h", "speed_kph"} & set(out):
            check.fail("lanes", "give at least one of lanes, capacity_veh_h, speed_kph")

    @classmethod
    def describe(cls, city, edit):
        changes = [
            f"{edit['lanes']} lanes" if "lanes" in edit else "",
            f"{edit['capacity_veh_h']:g} veh/h" if "capacity_veh_h" in edit else "",
            f"{edit['speed_kph']:g} km/h" if "speed_kph" in edit else "",
        ]
        return f"Change {_streets(city, edit['edge_ids'])}: {', '.join(c for c in changes if c)}"

    @classmethod
    def apply_to_roads(cls, G, city, index, edit):
        road_edits.change_roads(
            G,
            _edge_keys(G, edit["edge_ids"]),
            lanes=edit.get("lanes"),
            capacity_veh_h=edit.get("capacity_veh_h"),
            speed_kph=edit.get("speed_kph"),
        )


@register
class AddRoad(EditType):
    type = "add_road"
    label = "Add a road"
    description = "A new road along a drawn line; its ends join roads within 50 m"
    fields = {
        "line": geometry("LineString", "Road"),
        "lanes": {**LANES, "default": 1},
        "speed_kph": {**SPEED_KPH, "default": 50},
        "oneway": boolean("One-way", False),
    }
    required = ("line",)
    computed = {
        "start_node_id": {"type": ["integer", "null"], "title": "Joined node at the start"},
        "end_node_id": {"type": ["integer", "null"], "title": "Joined node at the end"},
    }

    @classmethod
    def check(cls, check, out):
        coords = shapely.from_geojson(json.dumps(out["line"])).coords
        for end, xy in (("start", coords[0]), ("end", coords[-1])):
            node_id, distance_m = nearest_node(check.city, shapely.Point(xy))
            out[f"{end}_node_id"] = node_id if distance_m <= NODE_SNAP_M else None

    @classmethod
    def describe(cls, city, edit):
        length_m = _local_line(city, edit).length
        way = "one-way" if edit["oneway"] else "two-way"
        return f"Add a {way} road of {length_m:,.0f} m ({edit['speed_kph']:g} km/h)"

    @classmethod
    def apply_to_roads(cls, G, city, index, edit):
        from .. import inputs

        line = shapely.from_geojson(json.dumps(edit["line"]))
        lonlat = np.asarray(line.coords)[:, :2]
        xy = np.column_stack(inputs.to_local(city).transform(lonlat[:, 0], lonlat[:, 1]))
        road_edits.add_road(
            G,
            f"add-{index}",
            xy,
            (edit.get("start_node_id"), edit.get("end_node_id")),
            lanes=edit["lanes"],
            speed_kph=edit["speed_kph"],
            oneway=edit["oneway"],
            lonlat=lonlat,
            edge_id=None,
            geometry_wkb=line.wkb,
            geometry_wkb_reverse=line.reverse().wkb,
        )


def _local_line(city, edit) -> shapely.LineString:
    from .. import inputs

    return inputs.local_geometry(city, edit["line"])
