"""Turn frames (buildings, road graph, utilities, facilities, areas) into the twin's tables.

Shared by the OSM importer and the synthetic-city loader, so that every source of a city
goes through the same derivations (heights, uses, residents, capacities, components).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from django.db import connection
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from simulators.common.road_defaults import (
    highway_class,
    link_defaults,
    parse_maxspeed_kph,
    parse_number,
)

from .writer import copy_frame, ewkb_hex


def largest_scc_mask(u: np.ndarray, v: np.ndarray, node_ids: np.ndarray) -> np.ndarray:
    """Boolean mask over ``node_ids``: members of the largest strongly connected component."""
    if len(node_ids) == 0:
        return np.zeros(0, dtype=bool)
    index = pd.Index(node_ids)
    ui, vi = index.get_indexer(u), index.get_indexer(v)
    n = len(node_ids)
    matrix = csr_matrix((np.ones(len(ui)), (ui, vi)), shape=(n, n))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    return labels == largest


def edges_frame_from_graph(
    graph: nx.MultiDiGraph, local_crs: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and directed edges of an OSMnx-style graph (lon/lat) as frames for the twin.

    Speed, lanes (per direction) and capacity come from OSM ``maxspeed``/``lanes`` where they
    parse, else from ``simulators.common.road_defaults``; ``*_source`` says which.
    """
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    xs = np.array([graph.nodes[n]["x"] for n in node_ids], dtype=float)
    ys = np.array([graph.nodes[n]["y"] for n in node_ids], dtype=float)
    nodes = gpd.GeoDataFrame({"osm_id": node_ids}, geometry=shapely.points(xs, ys), crs="EPSG:4326")
    rows = []
    for u, v, key, data in graph.edges(keys=True, data=True):
        geom = data.get("geometry")
        if geom is None:
            geom = shapely.LineString(
                [
                    (graph.nodes[u]["x"], graph.nodes[u]["y"]),
                    (graph.nodes[v]["x"], graph.nodes[v]["y"]),
                ]
            )
        oneway = bool(data.get("oneway", False))
        speed, lanes, capacity = link_defaults(
            data.get("highway"), data.get("maxspeed"), data.get("lanes"), oneway
        )
        osmid = data.get("osmid")
        osm_ids = [int(x) for x in (osmid if isinstance(osmid, list) else [osmid]) if x is not None]
        name = data.get("name")
        name = name[0] if isinstance(name, list) and name else name
        rows.append(
            {
                "u_osm": int(u),
                "v_osm": int(v),
                "key": int(key),
                "geometry": geom,
                "highway": highway_class(data.get("highway")),
                "name": name[:200] if isinstance(name, str) else "",
                "lanes": lanes,
                "speed_kph": speed,
                "capacity_veh_h": capacity,
                "oneway": oneway,
                "osm_ids": osm_ids,
                "speed_source": "osm" if parse_maxspeed_kph(data.get("maxspeed")) else "default",
                "lanes_source": "osm" if parse_number(data.get("lanes")) else "default",
            }
        )
    edges = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    edges["length_m"] = edges.to_crs(local_crs).geometry.length.to_numpy() if len(edges) else []
    return nodes, edges


def write_buildings(city_id: int, buildings: gpd.GeoDataFrame) -> int:
    """COPY building rows (EPSG:4326 polygons + the model's attribute columns)."""
    if buildings.empty:
        return 0
    frame = pd.DataFrame(
        {
            "city_id": city_id,
            "footprint": ewkb_hex(
                [
                    g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
                    for g in buildings.geometry
                ]
            ),
            "height_m": buildings["height_m"].astype(float),
            "height_source": buildings["height_source"],
            "levels": buildings["levels"].map(lambda x: None if pd.isna(x) else int(round(x))),
            "use": buildings["use"],
            "use_source": buildings.get(
                "use_source", pd.Series("imported", index=buildings.index)
            ).fillna("imported"),
            "use_confidence": buildings.get(
                "use_confidence", pd.Series(1.0, index=buildings.index)
            ).astype(float),
            "building_type": buildings.get(
                "building_type", pd.Series("", index=buildings.index)
            ).fillna(""),
            "name": buildings.get("name", pd.Series("", index=buildings.index))
            .fillna("")
            .astype(str)
            .str[:200],
            "footprint_area_m2": buildings["footprint_area_m2"].astype(float),
            "floor_area_m2": buildings["floor_area_m2"].astype(float),
            "residents": buildings["residents"].astype(float),
            "workers": buildings["workers"].astype(float),
            "external_id": buildings.get(
                "external_id", pd.Series("", index=buildings.index)
            ).fillna(""),
            "osm_id": buildings.get("osm_id", pd.Series(None, index=buildings.index)),
            "tags": buildings.get("tags", pd.Series([{}] * len(buildings), index=buildings.index)),
        }
    )
    return copy_frame("layers_building", frame, list(frame.columns))


def write_road_network(city_id: int, nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame) -> dict:
    """COPY road nodes then edges (u/v given as OSM ids in ``u_osm``/``v_osm``).

    The largest strongly connected component is found here, once for every source of a city,
    and flagged on its nodes and on the edges between them.

    Returns
    -------
    dict with ``nodes``, ``edges`` and ``largest_scc_nodes`` (counts written).
    """
    if nodes.empty:
        return {"nodes": 0, "edges": 0, "largest_scc_nodes": 0}
    node_ids = nodes["osm_id"].to_numpy(np.int64)
    u_osm = edges["u_osm"].to_numpy(np.int64) if len(edges) else np.zeros(0, np.int64)
    v_osm = edges["v_osm"].to_numpy(np.int64) if len(edges) else np.zeros(0, np.int64)
    node_in_scc = largest_scc_mask(u_osm, v_osm, node_ids)
    scc_ids = node_ids[node_in_scc]
    edge_in_scc = np.isin(u_osm, scc_ids) & np.isin(v_osm, scc_ids)
    node_frame = pd.DataFrame(
        {
            "city_id": city_id,
            "osm_id": node_ids,
            "geom": ewkb_hex(nodes.geometry.to_numpy()),
            "in_largest_scc": node_in_scc,
        }
    )
    copy_frame("layers_roadnode", node_frame, list(node_frame.columns))
    with connection.cursor() as cursor:
        cursor.execute("SELECT osm_id, id FROM layers_roadnode WHERE city_id = %s", [city_id])
        id_of = dict(cursor.fetchall())
    counts = {"nodes": len(node_frame), "edges": 0, "largest_scc_nodes": int(node_in_scc.sum())}
    if edges.empty:
        return counts
    edge_frame = pd.DataFrame(
        {
            "city_id": city_id,
            "u_id": edges["u_osm"].map(id_of),
            "v_id": edges["v_osm"].map(id_of),
            "key": edges["key"].astype(int),
            "geom": ewkb_hex(edges.geometry.to_numpy()),
            "highway": edges["highway"],
            "name": edges["name"].fillna(""),
            "lanes": edges["lanes"].astype(int),
            "speed_kph": edges["speed_kph"].astype(float),
            "capacity_veh_h": edges["capacity_veh_h"].astype(float),
            "oneway": edges["oneway"].astype(bool),
            "length_m": edges["length_m"].astype(float),
            "osm_ids": edges["osm_ids"],
            "speed_source": edges["speed_source"],
            "lanes_source": edges["lanes_source"],
            "in_largest_scc": edge_in_scc,
        }
    )
    copy_frame("layers_roadedge", edge_frame, list(edge_frame.columns))
    return {**counts, "edges": len(edge_frame)}
