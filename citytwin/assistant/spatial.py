"""Spatial phrases on the twin's own geometry: "between X and Y" along a street, "within 500 m
of X", "north of X", "at the corner of X and Y". Geometries out are GeoJSON in lon/lat
(EPSG:4326); distances are metres in the city's UTM zone."""

from __future__ import annotations

import json
import math

import networkx as nx
import shapely
from shapely.geometry import box

from layers.gazetteer import Place
from layers.models import Building, City, RoadEdge

#: a building/facility/area point when no street is meant: the centre of its extent
DEFAULT_RADIUS_M = 500.0
#: the largest zone a phrase may ask for (m): beyond it a city-sized question is meant
MAX_RADIUS_M = 50_000.0
#: an added building's square footprint side when none is given (m)
DEFAULT_FOOTPRINT_M = 30.0


def _local(city: City):
    from citytwin.scenarios import inputs

    return inputs.to_local(city)


def to_local_xy(city: City, lon: float, lat: float) -> tuple[float, float]:
    x, y = _local(city).transform(lon, lat)
    return float(x), float(y)


def to_lonlat(city: City, geom: shapely.Geometry) -> dict:
    """A local geometry as GeoJSON lon/lat (6 decimals, ~0.1 m)."""
    back = _local(city)

    def inverse(xy):
        import numpy as np

        lon, lat = back.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
        return np.column_stack([lon, lat])

    out = shapely.transform(geom, inverse)
    return json.loads(shapely.to_geojson(shapely.set_precision(out, 1e-6)))


def centre(place: Place) -> tuple[float, float]:
    """lon/lat of a place: the middle of its extent (a street's: its midpoint edge's)."""
    x0, y0, x1, y1 = place.bbox
    return (x0 + x1) / 2, (y0 + y1) / 2


def middle(city: City, place: Place) -> tuple[float, float]:
    """lon/lat of the middle of a place: a street's along its longest stretch (a bent
    street's extent centre may lie off it), else :func:`centre`."""
    if place.kind != "street" or not place.ids:
        return centre(place)
    import shapely.ops

    multi = _lines(city, place.ids)
    if multi is None:
        return centre(place)
    merged = shapely.ops.linemerge(multi)
    parts = list(merged.geoms) if hasattr(merged, "geoms") else [merged]
    point = max(parts, key=lambda g: g.length).interpolate(0.5, normalized=True)
    geo = to_lonlat(city, point)["coordinates"]
    return geo[0], geo[1]


def circle(city: City, lon: float, lat: float, radius_m: float) -> dict:
    """A polygon of ``radius_m`` around a point (64 sides)."""
    x, y = to_local_xy(city, lon, lat)
    return to_lonlat(city, shapely.Point(x, y).buffer(radius_m, quad_segs=16))


def square(city: City, lon: float, lat: float, side_m: float) -> dict:
    x, y = to_local_xy(city, lon, lat)
    h = side_m / 2
    return to_lonlat(city, box(x - h, y - h, x + h, y + h))


def bbox_polygon(place: Place, min_side_deg: float = 0.0005) -> dict:
    """The extent of a place as a polygon (a point's grown to about 50 m)."""
    x0, y0, x1, y1 = place.bbox
    if x1 - x0 < min_side_deg:
        x0, x1 = x0 - min_side_deg / 2, x1 + min_side_deg / 2
    if y1 - y0 < min_side_deg:
        y0, y1 = y0 - min_side_deg / 2, y1 + min_side_deg / 2
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def side_of(city: City, lon: float, lat: float, direction: str, distance_m: float) -> dict:
    """The box on one side (north/south/east/west) of a point: ``distance_m`` deep, twice
    as wide."""
    x, y = to_local_xy(city, lon, lat)
    d = distance_m
    boxes = {
        "north": box(x - d, y, x + d, y + d),
        "south": box(x - d, y - d, x + d, y),
        "east": box(x, y - d, x + d, y + d),
        "west": box(x - d, y - d, x, y + d),
    }
    return to_lonlat(city, boxes[direction])


def street_nodes(city: City, edge_ids: list[int]) -> set[int]:
    return set(
        n
        for pair in RoadEdge.objects.filter(city=city, pk__in=edge_ids).values_list("u_id", "v_id")
        for n in pair
    )


def corner(city: City, a: Place, b: Place) -> tuple[float, float] | None:
    """lon/lat of the corner of two streets: a node they share, else the nearest points of
    their edges (None when they lie over 100 m apart)."""
    shared = street_nodes(city, a.ids) & street_nodes(city, b.ids)
    from layers.models import RoadNode

    if shared:
        node = RoadNode.objects.filter(pk__in=shared).order_by("id").first()
        return node.geom.x, node.geom.y
    ga = _lines(city, a.ids)
    gb = _lines(city, b.ids)
    if ga is None or gb is None:
        return None
    pa, pb = shapely.ops.nearest_points(ga, gb)
    if pa.distance(pb) > 100:
        return None
    mid = shapely.Point((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
    geo = to_lonlat(city, mid)["coordinates"]
    return geo[0], geo[1]


def _lines(city: City, edge_ids: list[int]):
    import shapely.ops  # noqa: F401  (nearest_points)

    tf = _local(city)
    lines = []
    for geom in RoadEdge.objects.filter(city=city, pk__in=edge_ids).values_list("geom", flat=True):
        xs, ys = tf.transform(*zip(*geom.coords))
        lines.append(shapely.LineString(list(zip(xs, ys))))
    return shapely.MultiLineString(lines) if lines else None


def street_line(city: City, edge_ids: list[int]) -> dict | None:
    """The longest continuous line of a street's edges (lon/lat), for a route along it."""
    import shapely.ops

    multi = _lines(city, edge_ids)
    if multi is None:
        return None
    merged = shapely.ops.linemerge(multi)
    parts = list(merged.geoms) if hasattr(merged, "geoms") else [merged]
    longest = max(parts, key=lambda g: g.length)
    return to_lonlat(city, longest)


def between(city: City, street: Place, a: Place, b: Place) -> list[int] | None:
    """Edges of ``street`` between where it meets ``a`` and ``b`` (streets it crosses, or the
    street's nodes nearest to the places): both directions, sorted; None if no path."""
    rows = list(
        RoadEdge.objects.filter(city=city, pk__in=street.ids).values_list("id", "u_id", "v_id")
    )
    graph = nx.Graph()
    for pk, u, v in rows:
        graph.add_edge(u, v)
        graph.edges[u, v].setdefault("ids", []).append(pk)
    out: list[int] = []
    # a divided road is one component per carriageway: the stretch on each
    for nodes in nx.connected_components(graph):
        part = graph.subgraph(nodes)
        ends = [_meeting_node(city, street, other, part) for other in (a, b)]
        if None in ends or ends[0] == ends[1]:
            continue
        path = nx.shortest_path(part, ends[0], ends[1])
        for u, v in zip(path, path[1:]):
            out.extend(part.edges[u, v]["ids"])
    return sorted(out) or None


def _meeting_node(city: City, street: Place, other: Place, graph: nx.Graph) -> int | None:
    if other.kind == "street":
        shared = street_nodes(city, other.ids) & set(graph.nodes)
        if shared:
            return min(shared)
    from layers.models import RoadNode

    lon, lat = centre(other)
    best, best_d = None, math.inf
    for node in RoadNode.objects.filter(pk__in=list(graph.nodes)):
        d = (node.geom.x - lon) ** 2 + ((node.geom.y - lat) * 2) ** 2
        if d < best_d:
            best, best_d = node.pk, d
    return best


def buildings_of(city: City, place: Place) -> list[int]:
    """Every building of a named place: the buildings of that name (aliases resolved)."""
    name = place.canonical or place.name
    return sorted(Building.objects.filter(city=city, name=name).values_list("id", flat=True))
