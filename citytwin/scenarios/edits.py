"""Validation of scenario edits (the table of edit types is in docs/scenarios.md).

Every edit is checked on input against the city it applies to: ids must exist in that city,
geometries must be valid GeoJSON of the right type (polygons not self-intersecting), numbers in
range. A drawn ``close_road`` line is snapped to the edges it follows and the ids are stored in
the edit (``resolved_edge_ids``), so a run later applies exactly what the user saw.
"""

from __future__ import annotations

import json
import math
from typing import Any

import shapely
from django.contrib.gis.db.models import Extent
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import GEOSGeometry
from shapely.validation import explain_validity

from layers.models import Building, City, RoadEdge, RoadNode

EDIT_TYPES = (
    "close_road",
    "change_road",
    "add_road",
    "add_building",
    "remove_building",
    "heighten_building",
    "add_shelter",
    "hazard_zone",
    "demand_change",
    "departure_profile",
)
BUILDING_USES = ("residential", "commercial", "industrial", "public", "other")
#: a drawn line selects the edges within this distance of it over most of their length (m)
SNAP_TOLERANCE_M = 8.0
#: ends of an added road join existing nodes this close (m), else they are new dead ends
NODE_SNAP_M = 50.0
MAX_IDS_PER_EDIT = 10_000


class EditRejected(Exception):
    """A scenario edit is invalid; nothing was stored.

    ``index`` is the edit's position in the list, ``field`` the offending field.
    """

    def __init__(self, index: int | None, field: str, message: str, status: int = 400):
        where = f"edits[{index}].{field}" if index is not None else field
        super().__init__(f"{where}: {message}")
        self.index, self.field, self.message, self.status = index, field, message, status

    def api_error(self) -> tuple[dict, int]:
        where = f"edits[{self.index}].{self.field}" if self.index is not None else self.field
        body = {"error": f"{where}: {self.message}", "field": where, "edit": self.index}
        return body, self.status


class _Checker:
    """Field accessors for one edit that raise :class:`EditRejected` naming the field."""

    def __init__(self, index: int, edit: dict):
        self.index, self.edit = index, edit

    def fail(self, field: str, message: str):
        raise EditRejected(self.index, field, message)

    def number(self, field, *, default=None, minimum=None, exclusive=True, integer=False):
        value = self.edit.get(field, default)
        if value is None:
            self.fail(field, "is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, f"must be a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a JSON integer too large for a float
            finite = False
        if not finite:
            self.fail(field, "must be a finite number")
        if integer and int(value) != value:
            self.fail(field, f"must be a whole number, got {value!r}")
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            self.fail(field, f"must be {'>' if exclusive else '>='} {minimum}, got {value!r}")
        return int(value) if integer else float(value)

    def ids(self, field: str) -> list[int]:
        value = self.edit.get(field)
        if not isinstance(value, list) or not value:
            self.fail(field, "must be a non-empty list of ids")
        if len(value) > MAX_IDS_PER_EDIT:
            self.fail(field, f"at most {MAX_IDS_PER_EDIT} ids per edit")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.fail(field, "must contain integer ids only")
        return sorted(set(value))

    def geometry(self, field: str, kind: str, *, required: bool = True) -> shapely.Geometry | None:
        value = self.edit.get(field)
        if value is None:
            if required:
                self.fail(field, f"is required (a GeoJSON {kind} in EPSG:4326)")
            return None
        try:
            geom = shapely.from_geojson(json.dumps(value))
        except (TypeError, ValueError, shapely.errors.GEOSException) as exc:
            self.fail(field, f"is not valid GeoJSON: {exc}")
        if geom.geom_type != kind:
            self.fail(field, f"must be a {kind}, got {geom.geom_type}")
        if shapely.has_z(geom):
            # heights come from the edit's own fields; the twin's geometry columns are 2D
            geom = shapely.force_2d(geom)
            self.edit[field] = json.loads(shapely.to_geojson(geom))
        if geom.is_empty:
            self.fail(field, "is empty")
        x0, y0, x1, y1 = geom.bounds
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            self.fail(field, "coordinates must be lon/lat degrees (EPSG:4326)")
        if kind == "Polygon":
            if not geom.is_valid:
                self.fail(field, f"is not a valid polygon: {explain_validity(geom)}")
            if geom.area == 0:
                self.fail(field, "has no area")
        if kind == "LineString" and geom.length == 0:
            self.fail(field, "has no length")
        return geom

    def choice(self, field: str, options, default=None) -> str:
        value = self.edit.get(field, default)
        if value not in options:
            self.fail(field, f"must be one of {', '.join(options)}, got {value!r}")
        return value


def _existing(model, city: City, ids: list[int], check: _Checker, field: str) -> None:
    found = set(model.objects.filter(city=city, pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        check.fail(field, f"no {model._meta.verbose_name} with id {shown} in city {city.name!r}")


def _inside_city(city: City, geom: shapely.Geometry, check: _Checker, field: str) -> None:
    """Reject geometries far from the city (a swapped lat/lon is the usual cause)."""
    bbox = _city_bbox(city)
    if bbox is None:
        return
    x0, y0, x1, y1 = bbox
    margin = 0.05  # degrees, a few km
    gx0, gy0, gx1, gy1 = geom.bounds
    if gx1 < x0 - margin or gx0 > x1 + margin or gy1 < y0 - margin or gy0 > y1 + margin:
        check.fail(field, f"lies outside the city {city.name!r} (lon/lat order?)")


def _city_bbox(city: City) -> tuple[float, float, float, float] | None:
    extent = RoadNode.objects.filter(city=city).aggregate(e=Extent("geom"))["e"]
    if extent is None:
        extent = Building.objects.filter(city=city).aggregate(e=Extent("footprint"))["e"]
    return extent


def snap_line_to_edges(city: City, line: shapely.LineString) -> list[int]:
    """Road edges that a drawn line follows: both ends of the edge near the line.

    Parameters
    ----------
    line : lon/lat line (EPSG:4326).

    Returns
    -------
    Edge ids (both directions of a two-way road), sorted.
    """
    geos_line = GEOSGeometry(line.wkt, srid=4326)
    local = geos_line.transform(city.local_epsg, clone=True)
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
    geos_point = GEOSGeometry(point.wkt, srid=4326)
    node = (
        RoadNode.objects.filter(city=city)
        .annotate(d=Distance("geom", geos_point))
        .order_by("d")
        .first()
    )
    if node is None:
        return None, math.inf
    return node.id, node.d.m


def validate_edit(city: City, index: int, edit: Any) -> dict:
    """Validate one edit and return its normalised form (defaults filled, ids resolved)."""
    if not isinstance(edit, dict):
        raise EditRejected(index, "type", "an edit must be a JSON object with a 'type'")
    check = _Checker(index, edit)
    kind = check.choice("type", EDIT_TYPES)
    out: dict[str, Any] = {"type": kind}
    if "note" in edit:
        out["note"] = str(edit["note"])[:500]

    if kind == "close_road":
        if "edge_ids" in edit:
            out["edge_ids"] = check.ids("edge_ids")
            _existing(RoadEdge, city, out["edge_ids"], check, "edge_ids")
        else:
            line = check.geometry("line", "LineString")
            _inside_city(city, line, check, "line")
            resolved = snap_line_to_edges(city, line)
            if not resolved:
                check.fail("line", f"follows no road (nothing within {SNAP_TOLERANCE_M:.0f} m)")
            out["line"] = edit["line"]
            out["resolved_edge_ids"] = resolved
    elif kind == "change_road":
        out["edge_ids"] = check.ids("edge_ids")
        _existing(RoadEdge, city, out["edge_ids"], check, "edge_ids")
        changed = False
        if "lanes" in edit:
            out["lanes"] = check.number("lanes", minimum=1, exclusive=False, integer=True)
            changed = True
        for field in ("capacity_veh_h", "speed_kph"):
            if field in edit:
                out[field] = check.number(field, minimum=0)
                changed = True
        if not changed:
            check.fail("lanes", "give at least one of lanes, capacity_veh_h, speed_kph")
    elif kind == "add_road":
        line = check.geometry("line", "LineString")
        _inside_city(city, line, check, "line")
        out["line"] = edit["line"]
        out["lanes"] = check.number("lanes", default=1, minimum=1, exclusive=False, integer=True)
        out["speed_kph"] = check.number("speed_kph", default=50, minimum=0)
        oneway = edit.get("oneway", False)
        if not isinstance(oneway, bool):
            check.fail("oneway", "must be true or false")
        out["oneway"] = oneway
        coords = list(line.coords)
        for end, xy in (("start", coords[0]), ("end", coords[-1])):
            node_id, distance_m = nearest_node(city, shapely.Point(xy))
            out[f"{end}_node_id"] = node_id if distance_m <= NODE_SNAP_M else None
    elif kind == "add_building":
        footprint = check.geometry("footprint", "Polygon")
        _inside_city(city, footprint, check, "footprint")
        out["footprint"] = edit["footprint"]
        out["height_m"] = check.number("height_m", minimum=0)
        out["use"] = check.choice("use", BUILDING_USES, default="residential")
        if "residents" in edit:
            out["residents"] = check.number("residents", minimum=0, exclusive=False)
    elif kind in ("remove_building", "heighten_building"):
        out["building_ids"] = check.ids("building_ids")
        _existing(Building, city, out["building_ids"], check, "building_ids")
        if kind == "heighten_building":
            out["height_m"] = check.number("height_m", minimum=0)
    elif kind == "add_shelter":
        point = check.geometry("point", "Point")
        _inside_city(city, point, check, "point")
        out["point"] = edit["point"]
        out["capacity"] = check.number("capacity", minimum=1, exclusive=False, integer=True)
        out["name"] = str(edit.get("name") or f"shelter {index + 1}")[:200]
    elif kind == "hazard_zone":
        polygon = check.geometry("polygon", "Polygon")
        _inside_city(city, polygon, check, "polygon")
        out["polygon"] = edit["polygon"]
        out["start_min"] = check.number("start_min", default=0, minimum=0, exclusive=False)
        out["name"] = str(edit.get("name") or f"zone {index + 1}")[:200]
    elif kind == "demand_change":
        out["factor"] = check.number("factor", minimum=0)
        zone = check.geometry("zone", "Polygon", required=False)
        if zone is not None:
            _inside_city(city, zone, check, "zone")
            out["zone"] = edit["zone"]
    elif kind == "departure_profile":
        out["distribution"] = check.choice("distribution", ("rayleigh", "weibull"))
        out["scale_min"] = check.number("scale_min", minimum=0)
        if out["distribution"] == "weibull":
            out["shape"] = check.number("shape", default=2.0, minimum=0)
    unknown = set(edit) - set(out) - {"type", "note", "line", "zone"}
    if unknown:
        check.fail(sorted(unknown)[0], f"is not a field of a {kind} edit")
    return out


def validate_edits(city: City, edits: Any, start_index: int = 0) -> list[dict]:
    """Validate a list of edits; the first bad one raises :class:`EditRejected`."""
    if not isinstance(edits, list):
        raise EditRejected(None, "edits", "must be a list of edits")
    return [validate_edit(city, start_index + i, edit) for i, edit in enumerate(edits)]
