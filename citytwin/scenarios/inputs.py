"""Engine inputs of a scenario, built on the fly from the base tables plus the edits.

Nothing here writes to the database: a scenario never changes the twin. Everything is returned
in the city's local metric CRS (``City.local_epsg``, a UTM zone), which the engines expect.

- :func:`road_graph`: the OSMnx-style ``MultiDiGraph`` (node id = ``RoadNode.id``, edge key =
  ``RoadEdge.id``; added roads get string keys ``"add-<edit>-<dir>"`` and no ``edge_id``).
  Closed roads stay in the graph with ``closed=True``: traffic closes them in its network (so
  they report zero flow), evacuation closes them for cars and walkers (and names them when
  they leave evacuees with no route).
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
from simulators.evacuation import Hazard

from .edits import EditType, edit_type


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


def _types(edits: list[dict], start: int = 0):
    """``(index, edit, its EditType class)`` for every edit, in order; ``start`` is the index
    of the first one (a sweep variant's own edits follow the base's)."""
    return [(i, e, edit_type(e["type"])) for i, e in enumerate(edits, start=start)]


def touches(edits: list[dict], hook: str) -> bool:
    """Whether any of ``edits`` has an effect through the EditType hook ``hook`` (its type
    overrides it): e.g. ``touches(edits, "apply_to_roads")`` is False for a shelter edit."""
    default = getattr(EditType, hook).__func__
    return any(getattr(edit_type(e["type"]), hook).__func__ is not default for e in edits)


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


def apply_road_edits(
    G: nx.MultiDiGraph, city: City, edits: list[dict], start: int = 0
) -> nx.MultiDiGraph:
    """``G`` (modified in place and returned) with the scenario's road edits, in edit order
    (``start``: index of the first edit).

    Each edit type applies itself with the engines' rules (:mod:`simulators.common.road_edits`).
    """
    for index, edit, kind in _types(edits, start):
        kind.apply_to_roads(G, city, index, edit)
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
    rows = apply_building_edits(base_building_rows(city), city, edits)
    return as_buildings_frame(rows, int(city.local_epsg))


def base_building_rows(city: City) -> pd.DataFrame:
    """The city's buildings as stored (geometries as WKB: ``wkb`` local CRS, ``wgs`` lon/lat),
    the form building edits apply to (:func:`apply_building_edits`)."""
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
    return frame


def apply_building_edits(
    rows: pd.DataFrame, city: City, edits: list[dict], start: int = 0
) -> pd.DataFrame:
    """``rows`` (:func:`base_building_rows`' form; left unchanged) with the building edits,
    in edit order (``start``: index of the first edit)."""
    frame = rows.copy()  # an edit may change the frame in place
    for index, edit, kind in _types(edits, start):
        frame = kind.apply_to_buildings(frame, city, index, edit)
    return frame.reset_index(drop=True)


def as_buildings_frame(rows: pd.DataFrame, epsg: int) -> gpd.GeoDataFrame:
    """The engines' buildings frame (:func:`buildings_frame`) from building rows."""
    frame = rows.copy()
    geometry = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")])
    wgs84 = shapely.from_wkb([bytes(b) for b in frame.pop("wgs")])
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs=epsg)
    out["geometry_wgs84"] = wgs84
    out["id"] = out["id"].astype(object)
    return out


def shelters_frame(city: City, edits: list[dict]) -> gpd.GeoDataFrame:
    """Shelters with a capacity (the twin's facilities + added ones), points in the local CRS."""
    rows = base_shelter_rows(city) + added_shelter_rows(city, edits)
    return as_shelters_frame(rows, int(city.local_epsg))


def base_shelter_rows(city: City) -> list[dict]:
    """The twin's shelters with a capacity: ``{id, name, capacity, wkb}`` (local CRS)."""
    epsg = int(city.local_epsg)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, capacity, ST_AsBinary(ST_Transform(geom, %s)) FROM layers_facility "
            "WHERE city_id = %s AND kind = 'shelter' AND capacity > 0 ORDER BY id",
            [epsg, city.id],
        )
        return [
            {"id": f"facility-{i}", "name": n or f"shelter {i}", "capacity": c, "wkb": bytes(w)}
            for i, n, c, w in cursor.fetchall()
        ]


def added_shelter_rows(city: City, edits: list[dict], start: int = 0) -> list[dict]:
    """Shelters the edits add, as :func:`base_shelter_rows` (``start``: first edit's index)."""
    return [
        {**shelter, "wkb": shapely.to_wkb(shelter["geometry"])}
        for index, edit, kind in _types(edits, start)
        for shelter in kind.shelters(city, index, edit)
    ]


def as_shelters_frame(rows: list[dict], epsg: int) -> gpd.GeoDataFrame:
    """The engines' shelters frame (:func:`shelters_frame`) from shelter rows."""
    frame = pd.DataFrame(rows, columns=["id", "name", "capacity", "wkb"])
    geometry = shapely.from_wkb(list(frame.pop("wkb")))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=epsg)


def hazards(city: City, edits: list[dict], start: int = 0) -> list[Hazard]:
    """Hazard zones of the scenario (local CRS, start in seconds; ``start``: first edit's
    index)."""
    return [
        h for index, edit, kind in _types(edits, start) for h in kind.hazards(city, index, edit)
    ]


def departure_params(edits: list[dict]) -> dict:
    """EvacuationParams overrides of the scenario's edits (a later edit wins)."""
    out: dict = {}
    for _, edit, kind in _types(edits):
        out.update(kind.evacuation_overrides(edit))
    return out


def demand_zone_polygons(city: City, edits: list[dict]) -> list[tuple[float, shapely.Geometry]]:
    """``(factor, local polygon or None)`` of every demand change, in edit order."""
    return [pair for _, edit, kind in _types(edits) for pair in kind.demand_scaling(city, edit)]


# -- transit ----------------------------------------------------------------------------------


def _engine_input():
    """``transit.engine_input`` when the transit app (GTFS/OSM lines) is installed, else None."""
    from django.apps import apps

    try:
        from transit import engine_input
    except ImportError:  # the twin without its transit app
        return None
    if not apps.is_installed(engine_input.__name__.rsplit(".", 1)[0]):
        return None
    return engine_input


def base_transit_supply(city: City, start_h: float, end_h: float, day: str):
    """The city's imported transit lines for a period (empty when it has none).

    Returns
    -------
    (supply, source) : :class:`simulators.transit.TransitSupply` in the city's local CRS, and
    words saying where it came from.
    """
    from simulators.transit import TransitSupply

    engine_input = _engine_input()
    period = f"{start_h:g}-{end_h:g} h {day}"
    if engine_input is None:
        return TransitSupply([], [], period), "no transit data installed"
    supply = engine_input.transit_supply(city, start_h, end_h, day)
    return supply, "imported transit data"


def transit_line_ids(city: City) -> set[str]:
    """Ids of the city's imported transit lines (all day on a typical Tuesday)."""
    if _engine_input() is None:
        return set()
    supply, _ = base_transit_supply(city, 0.0, 24.0, "tuesday")
    return {line.line_id for line in supply.lines}


def transit_supply(city: City, edits: list[dict], start_h: float, end_h: float, day: str):
    """The scenario's transit supply: the imported lines plus the transit edits, in order."""
    supply, _ = base_transit_supply(city, start_h, end_h, day)
    for index, edit, kind in _types(edits):
        supply = kind.apply_to_transit(supply, city, index, edit)
    return supply
