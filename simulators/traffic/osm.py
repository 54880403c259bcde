"""Road network from an OSMnx-style graph (the twin's road layer).

Nodes carry ``x``, ``y`` (projected metres, or lon/lat with ``G.graph["crs"]``
geographic); edges carry ``length`` (m) and optionally ``speed_kph``, ``lanes``
(per direction), ``capacity`` (veh/h), ``highway``, ``maxspeed``, ``oneway``,
``toll``. Missing values come from :func:`simulators.common.road_defaults.link_defaults`.

Every graph node is a network node in ``list(G.nodes)`` order; zones are graph
nodes (buildings are snapped to them), so no node is barred from through traffic
(``first_thru_node = 0``).
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from simulators.common.road_defaults import link_defaults, parse_number

from .network import Network

__all__ = [
    "network_from_graph",
    "edge_results",
    "node_index",
    "buildings_from_osm",
    "MIN_FREE_FLOW_TIME_MIN",
]

#: floor on free-flow time (minutes): zero-length OSM edges would otherwise make
#: zero-cost cycles, which label-setting tolerates but bush orders do not
MIN_FREE_FLOW_TIME_MIN = 1e-4

#: BPR defaults (Bureau of Public Roads 1964 Traffic Assignment Manual)
BPR_ALPHA = 0.15
BPR_BETA = 4.0


def node_index(G: nx.MultiDiGraph) -> dict[object, int]:
    """Graph node id -> network node index (``list(G.nodes)`` order)."""
    return {node: i for i, node in enumerate(G.nodes)}


def network_from_graph(
    G: nx.MultiDiGraph,
    alpha: float = BPR_ALPHA,
    beta: float = BPR_BETA,
    toll_weight: float = 0.0,
    distance_weight: float = 0.0,
) -> tuple[Network, list[tuple[object, object, object]]]:
    """Flat-array network of a directed OSMnx-style graph.

    Parameters
    ----------
    G : networkx MultiDiGraph with OSMnx attributes (see module doc).
    alpha, beta : BPR parameters applied to every link.
    toll_weight : minutes per money unit of the edge attribute ``toll``.
    distance_weight : minutes per metre of length in the generalized cost.

    Returns
    -------
    network : :class:`Network`, time in minutes, length in metres, capacity veh/h.
    edge_keys : ``(u, v, key)`` of every link, in link order, to map results back.
    """
    index = node_index(G)
    n = G.number_of_edges()
    tail = np.empty(n, dtype=np.int64)
    head = np.empty(n, dtype=np.int64)
    fft = np.empty(n)
    capacity = np.empty(n)
    length = np.empty(n)
    lanes = np.empty(n)
    toll = np.zeros(n)
    edge_keys = []
    for i, (u, v, key, data) in enumerate(G.edges(keys=True, data=True)):
        edge_keys.append((u, v, key))
        tail[i] = index[u]
        head[i] = index[v]
        # the twin stores lanes per direction, so the tag is never split between directions
        speed, n_lanes, cap = link_defaults(
            data.get("highway"), data.get("maxspeed"), data.get("lanes"), oneway=True
        )
        tagged_speed = parse_number(data.get("speed_kph"))
        if tagged_speed is not None and tagged_speed > 0:
            speed = tagged_speed
        tagged_cap = parse_number(data.get("capacity"))
        if tagged_cap is not None and tagged_cap > 0:
            cap = tagged_cap
        meters = parse_number(data.get("length"))
        if meters is None or meters < 0:
            meters = 0.0
        length[i] = meters
        lanes[i] = n_lanes
        capacity[i] = cap
        fft[i] = max(meters / 1000.0 / speed * 60.0, MIN_FREE_FLOW_TIME_MIN)
        tagged_toll = parse_number(data.get("toll"))
        toll[i] = tagged_toll if tagged_toll is not None and tagged_toll > 0 else 0.0
    network = Network(
        tail=tail,
        head=head,
        free_flow_time=fft,
        capacity=capacity,
        alpha=np.full(n, alpha),
        beta=np.full(n, beta),
        length=length,
        toll=toll,
        lanes=lanes,
        open=None,
        n_nodes=len(index),
        n_zones=0,
        first_thru_node=0,
        toll_weight=toll_weight,
        distance_weight=distance_weight,
        node_ids=np.array(list(G.nodes), dtype=object),
        time_unit_h=1.0 / 60.0,
        length_unit_km=0.001,
    )
    return network, edge_keys


def edge_results(result, edge_keys: list[tuple[object, object, object]]) -> pd.DataFrame:
    """Per-edge results indexed by ``(u, v, key)`` for writing back to the twin.

    Columns: ``volume`` (veh/h), ``capacity`` (veh/h), ``voc``, ``free_flow_min``,
    ``time_min`` (congested), ``delay_min``, ``speed_kph`` (congested), ``open``.
    """
    net = result.network
    n = len(edge_keys)
    index = pd.MultiIndex.from_tuples(edge_keys, names=["u", "v", "key"])
    return pd.DataFrame(
        {
            "volume": result.volume[:n],
            "capacity": net.capacity[:n],
            "voc": result.volume_capacity_ratio[:n],
            "free_flow_min": net.free_flow_time[:n],
            "time_min": result.travel_time[:n],
            "delay_min": result.delay[:n],
            "speed_kph": result.speed_kph[:n],
            "open": net.open[:n],
        },
        index=index,
    )


#: OSM ``building=*`` values -> the twin's use classes (anything else: "other")
_BUILDING_USE = {
    **dict.fromkeys(
        [
            "residential",
            "apartments",
            "house",
            "detached",
            "terrace",
            "dormitory",
            "semidetached_house",
        ],
        "residential",
    ),
    **dict.fromkeys(
        ["commercial", "retail", "office", "supermarket", "hotel", "kiosk"], "commercial"
    ),
    **dict.fromkeys(["industrial", "warehouse", "manufacture", "hangar"], "industrial"),
    **dict.fromkeys(
        [
            "public",
            "school",
            "university",
            "hospital",
            "civic",
            "government",
            "church",
            "college",
            "kindergarten",
            "train_station",
            "transportation",
        ],
        "public",
    ),  # fmt: skip
}


def buildings_from_osm(buildings, default_levels: float = 3.0):
    """Twin-style buildings (``floor_area_m2``, ``use``) from raw OSM building polygons.

    For tests and benchmarks on raw OSM extracts (e.g. pyrosm's ``get_buildings()``):
    floor area = footprint area (m², computed in a local metric projection) x
    ``building:levels`` (``default_levels`` when untagged); use from the
    ``building`` tag, with ``shop``/``office``/``amenity`` tags marking
    commercial or public use. The twin supplies these columns itself.
    """
    gdf = buildings[buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    metric = gdf.to_crs(gdf.estimate_utm_crs()) if gdf.crs and gdf.crs.is_geographic else gdf
    levels = (
        gdf["building:levels"].map(parse_number).astype(float)
        if "building:levels" in gdf
        else pd.Series(np.nan, index=gdf.index)
    )
    levels = levels.where(levels >= 1, default_levels).fillna(default_levels)
    gdf["floor_area_m2"] = metric.geometry.area.to_numpy() * levels.to_numpy()
    tag = gdf.get("building", pd.Series("yes", index=gdf.index)).fillna("yes").astype(str)
    use = tag.str.lower().map(_BUILDING_USE).fillna("other")
    for column, kind in (("shop", "commercial"), ("office", "commercial"), ("amenity", "public")):
        if column in gdf:
            use = use.where(gdf[column].isna() | (use != "other"), kind)
    gdf["use"] = use.to_numpy()
    return gdf[["geometry", "floor_area_m2", "use"]]
