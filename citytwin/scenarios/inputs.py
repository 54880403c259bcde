"""Engine inputs of a scenario, built on the fly from the base tables plus the edits.

Nothing here writes to the database: a scenario never changes the twin. Everything is returned
in the city's local metric CRS (``City.local_epsg``, a UTM zone), which the engines expect.

- :func:`road_graph`: the OSMnx-style ``MultiDiGraph`` (node id = ``RoadNode.id``, edge key =
  ``RoadEdge.id``; added roads get string keys ``"add-<edit>-<dir>"`` and no ``edge_id``).
  Closed roads stay in the graph with ``closed=True``: traffic closes them in its network (so
  they report zero flow), evacuation removes them.
- :func:`buildings_frame`, :func:`shelters_frame`, :func:`hazards`, :func:`departure_params`.
"""

from __future__ import annotations

import functools
import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from django.db import connection
from pyproj import Transformer

from layers.models import City
from simulators.common.road_defaults import link_defaults
from simulators.evacuation import Hazard

#: floor height (m) used to turn an added building's height into floor area
FLOOR_HEIGHT_M = 3.0
#: residential floor area per resident (m2), as the twin's importer uses
FLOOR_AREA_PER_RESIDENT_M2 = 40.0


@functools.cache
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def to_local(city: City) -> Transformer:
    """lon/lat -> the city's local metric CRS (``direction="INVERSE"`` for the way back)."""
    return _transformer(int(city.local_epsg))


def local_geometry(city: City, geojson: dict) -> shapely.Geometry:
    """A GeoJSON geometry (lon/lat) in the city's local metric CRS."""
    geom = shapely.from_geojson(json.dumps(geojson))
    return shapely.transform(geom, lambda xy: np.column_stack(to_local(city).transform(*xy.T)))


def edits_of(edits: list[dict], *kinds: str) -> list[tuple[int, dict]]:
    return [(i, e) for i, e in enumerate(edits) if e["type"] in kinds]


def closed_edge_ids(edits: list[dict]) -> set[int]:
    closed: set[int] = set()
    for _, edit in edits_of(edits, "close_road"):
        closed.update(edit.get("edge_ids") or edit.get("resolved_edge_ids") or [])
    return closed


def road_graph(city: City, edits: list[dict]) -> nx.MultiDiGraph:
    """The city's directed road graph with the scenario's road edits applied.

    Node attributes: ``x``, ``y`` (m, local CRS), ``lon``, ``lat``. Edge attributes:
    ``edge_id``, ``length`` (m), ``highway``, ``lanes`` (per direction), ``speed_kph``,
    ``capacity`` (veh/h), ``oneway``, ``closed``, ``geometry_wkb`` (lon/lat, for results).
    """
    return apply_road_edits(base_road_graph(city), city, edits)


def base_road_graph(city: City) -> nx.MultiDiGraph:
    """The city's road graph as imported (see :func:`road_graph` for the attributes)."""
    epsg = int(city.local_epsg)
    G = nx.MultiDiGraph(crs=f"EPSG:{epsg}", city_id=city.id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, ST_X(p), ST_Y(p), ST_X(geom), ST_Y(geom) FROM "
            "(SELECT id, geom, ST_Transform(geom, %s) AS p FROM layers_roadnode "
            "WHERE city_id = %s) AS n ORDER BY id",  # the same node order in every graph
            [epsg, city.id],
        )
        for node_id, x, y, lon, lat in cursor.fetchall():
            G.add_node(node_id, x=x, y=y, lon=lon, lat=lat)
        cursor.execute(
            "SELECT id, u_id, v_id, highway, lanes, speed_kph, capacity_veh_h, oneway, length_m, "
            "ST_AsBinary(geom) FROM layers_roadedge WHERE city_id = %s ORDER BY id",
            [city.id],
        )
        for eid, u, v, highway, lanes, speed, cap, oneway, length, wkb in cursor.fetchall():
            G.add_edge(
                u, v, key=eid, edge_id=eid, highway=highway, lanes=lanes, speed_kph=speed,
                capacity=cap, oneway=oneway, length=length, closed=False,
                geometry_wkb=bytes(wkb),
            )  # fmt: skip
    return G


def apply_road_edits(G: nx.MultiDiGraph, city: City, edits: list[dict]) -> nx.MultiDiGraph:
    """``G`` (modified in place and returned) with the scenario's road edits."""
    by_id = {data["edge_id"]: (u, v, k) for u, v, k, data in G.edges(keys=True, data=True)}

    for _, edit in edits_of(edits, "change_road"):
        for eid in edit["edge_ids"]:
            data = G.edges[by_id[eid]]
            if "lanes" in edit and "capacity_veh_h" not in edit:
                # capacity is per lane in the defaults table, so it follows the lane count
                data["capacity"] = data["capacity"] * edit["lanes"] / max(data["lanes"], 1)
            if "lanes" in edit:
                data["lanes"] = edit["lanes"]
            if "capacity_veh_h" in edit:
                data["capacity"] = edit["capacity_veh_h"]
            if "speed_kph" in edit:
                data["speed_kph"] = edit["speed_kph"]

    forward = to_local(city)
    for index, edit in edits_of(edits, "add_road"):
        line = shapely.from_geojson(json.dumps(edit["line"]))
        lonlat = np.asarray(line.coords)[:, :2]
        x, y = forward.transform(lonlat[:, 0], lonlat[:, 1])
        length_m = float(shapely.LineString(np.column_stack([x, y])).length)
        ends = []
        for end, pos in (("start", 0), ("end", -1)):
            node = edit.get(f"{end}_node_id")
            if node is None or node not in G:
                node = f"add-{index}-{end}"
                G.add_node(node, x=x[pos], y=y[pos], lon=lonlat[pos, 0], lat=lonlat[pos, 1])
            ends.append(node)
        # the twin stores lanes per direction, so the lanes value is not split (oneway=True)
        _, _, capacity = link_defaults(
            "unclassified", edit["speed_kph"], edit["lanes"], oneway=True
        )
        common = dict(
            edge_id=None, highway="added", lanes=edit["lanes"], speed_kph=edit["speed_kph"],
            capacity=capacity, oneway=edit["oneway"],
            length=length_m, closed=False,
        )  # fmt: skip
        G.add_edge(ends[0], ends[1], key=f"add-{index}-f", geometry_wkb=line.wkb, **common)
        if not edit["oneway"]:
            G.add_edge(
                ends[1], ends[0], key=f"add-{index}-b", geometry_wkb=line.reverse().wkb, **common
            )

    for eid in closed_edge_ids(edits):
        if eid in by_id:
            G.edges[by_id[eid]]["closed"] = True
    return G


def open_graph(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``G`` without its closed edges (for engines without a closed-link notion)."""
    H = G.copy()
    H.remove_edges_from([(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if d["closed"]])
    return H


def buildings_frame(city: City, edits: list[dict]) -> gpd.GeoDataFrame:
    """Buildings with the scenario's building edits, in the local CRS.

    Columns: ``id`` (``RoadEdge``-style: the ``Building.id``, or ``add-<edit>`` for added ones),
    ``building_id`` (None when added), ``height_m``, ``floor_area_m2``, ``use``, ``residents``,
    ``workers``, ``added``, ``geometry`` (local CRS), ``geometry_wgs84``.
    """
    epsg = int(city.local_epsg)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, height_m, floor_area_m2, use, residents, workers, "
            "ST_AsBinary(ST_Transform(footprint, %s)), ST_AsBinary(footprint) "
            "FROM layers_building WHERE city_id = %s ORDER BY id",
            [epsg, city.id],
        )
        rows = cursor.fetchall()
    frame = pd.DataFrame(
        rows,
        columns=["id", "height_m", "floor_area_m2", "use", "residents", "workers", "wkb", "wgs"],
    )
    frame["building_id"] = frame["id"]
    frame["added"] = False
    removed: set[int] = set()
    for _, edit in edits_of(edits, "remove_building"):
        removed.update(edit["building_ids"])
    for _, edit in edits_of(edits, "heighten_building"):
        frame.loc[frame["id"].isin(edit["building_ids"]), "height_m"] = edit["height_m"]
    frame = frame[~frame["id"].isin(removed)]
    added = []
    for index, edit in edits_of(edits, "add_building"):
        wgs = shapely.from_geojson(json.dumps(edit["footprint"]))
        local = local_geometry(city, edit["footprint"])
        floors = max(1.0, round(edit["height_m"] / FLOOR_HEIGHT_M))
        floor_area = local.area * floors
        residents = edit.get("residents")
        if residents is None:
            residents = (
                floor_area / FLOOR_AREA_PER_RESIDENT_M2 if edit["use"] == "residential" else 0
            )
        added.append(
            {
                "id": f"add-{index}", "building_id": None, "height_m": edit["height_m"],
                "floor_area_m2": floor_area, "use": edit["use"], "residents": residents,
                "workers": 0.0, "wkb": shapely.to_wkb(local), "wgs": shapely.to_wkb(wgs),
                "added": True,
            }
        )  # fmt: skip
    if added:
        frame = pd.concat([frame, pd.DataFrame(added)], ignore_index=True)
    frame = frame.reset_index(drop=True)
    geometry = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")])
    wgs84 = shapely.from_wkb([bytes(b) for b in frame.pop("wgs")])
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs=epsg)
    out["geometry_wgs84"] = wgs84
    out["id"] = out["id"].astype(object)
    return out


def shelters_frame(city: City, edits: list[dict]) -> gpd.GeoDataFrame:
    """Shelters with a capacity (the twin's facilities + added ones), points in the local CRS."""
    epsg = int(city.local_epsg)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, capacity, ST_AsBinary(ST_Transform(geom, %s)) FROM layers_facility "
            "WHERE city_id = %s AND kind = 'shelter' AND capacity > 0 ORDER BY id",
            [epsg, city.id],
        )
        rows = [
            {"id": f"facility-{i}", "name": n or f"shelter {i}", "capacity": c, "wkb": bytes(w)}
            for i, n, c, w in cursor.fetchall()
        ]
    for index, edit in edits_of(edits, "add_shelter"):
        point = local_geometry(city, edit["point"])
        rows.append(
            {
                "id": f"add-{index}",
                "name": edit["name"],
                "capacity": edit["capacity"],
                "wkb": shapely.to_wkb(point),
            }
        )
    frame = pd.DataFrame(rows, columns=["id", "name", "capacity", "wkb"])
    geometry = shapely.from_wkb(list(frame.pop("wkb")))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=epsg)


def hazards(city: City, edits: list[dict]) -> list[Hazard]:
    """Hazard zones of the scenario (local CRS, start in seconds)."""
    return [
        Hazard(
            geometry=local_geometry(city, edit["polygon"]),
            start_s=60.0 * edit["start_min"],
            name=edit["name"],
        )
        for _, edit in edits_of(edits, "hazard_zone")
    ]


def departure_params(edits: list[dict]) -> dict:
    """EvacuationParams overrides from the last departure-profile edit."""
    profiles = edits_of(edits, "departure_profile")
    if not profiles:
        return {}
    edit = profiles[-1][1]
    out = {"mobilisation": edit["distribution"], "mobilisation_scale_min": edit["scale_min"]}
    if edit["distribution"] == "weibull":
        out["weibull_shape"] = edit["shape"]
    return out


def demand_zone_polygons(city: City, edits: list[dict]) -> list[tuple[float, shapely.Geometry]]:
    """``(factor, local polygon or None)`` of every demand change, in edit order."""
    return [
        (edit["factor"], local_geometry(city, edit["zone"]) if "zone" in edit else None)
        for _, edit in edits_of(edits, "demand_change")
    ]
