"""Presence by hour and traffic across the edge of the extract (pure engines, no Django)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from simulators.common.presence import persons_present, visitor_share, work_share
from simulators.traffic.demand import ExternalParameters, external_demand, gateways, hour_factor
from simulators.traffic.network import Demand
from simulators.traffic.osm import node_index


def test_presence_follows_the_documented_weekday_profile():
    residents, workers = np.array([100.0, 0.0]), np.array([0.0, 200.0])
    floor, use = np.array([4000.0, 5000.0]), np.array(["residential", "commercial"])
    night = persons_present(residents, workers, 3, floor, use)
    day = persons_present(residents, workers, 14, floor, use)
    assert night == pytest.approx([100.0, 200 * 0.05])
    # half the residents away; every worker in; 2 visitors per 100 m2 of commercial floor area
    assert day == pytest.approx([50.0, 200.0 + 5000 / 100 * 2.0])
    assert persons_present(residents, workers, None).tolist() == [100.0, 0.0]
    assert work_share(12) == 1.0 and visitor_share(8) == 0.0 and visitor_share(15) == 1.0


def _cross() -> nx.MultiDiGraph:
    """A primary road west-east and a tertiary road south-north, crossing at (500, 500) m."""
    G = nx.MultiDiGraph(crs="EPSG:3067")
    for i, x in enumerate(range(0, 1001, 100)):
        G.add_node(("h", i), x=float(x), y=500.0)
        G.add_node(("v", i), x=500.0, y=float(x))
    G = nx.relabel_nodes(G, {("v", 5): ("h", 5)})  # the crossing is one node
    for road, highway, cap in (("h", "primary", 1800.0), ("v", "tertiary", 900.0)):
        for i in range(10):
            a = ("h", 5) if (road, i) == ("v", 5) else (road, i)
            b = ("h", 5) if (road, i + 1) == ("v", 5) else (road, i + 1)
            for u, v in ((a, b), (b, a)):
                G.add_edge(u, v, highway=highway, capacity=cap, length=100.0)
    return G


def test_gateways_and_external_trips_follow_the_road_class_rule():
    G = _cross()
    params = ExternalParameters()
    gw = gateways(G, params)
    assert sorted(gw["highway"]) == ["primary", "primary", "tertiary", "tertiary"]
    primary = gw["highway"] == "primary"
    # load factor x capacity into the area (and as much out)
    assert gw["inbound_veh_h"][primary] == pytest.approx([0.6 * 1800] * 2)
    assert gw["outbound_veh_h"][~primary] == pytest.approx([0.3 * 900] * 2)
    centre = node_index(G)[("h", 5)]
    internal = Demand(
        np.array([], int), np.array([], int), np.array([]),
        info={"zone_nodes": np.array([centre]), "zone_productions_day": np.array([10.0]),
              "zone_attractions_day": np.array([10.0])},
    )  # fmt: skip
    ext = external_demand(G, internal, params)
    through = float(np.sum(gw["inbound_veh_h"] * np.where(primary, 0.3, 0.1)))
    assert ext.info["through_veh_h"] == pytest.approx(through, rel=1e-4)
    assert ext.info["inbound_veh_h"] == pytest.approx(gw["inbound_veh_h"].sum() - through)
    # every gateway sends exactly its inbound flow into the area
    for node, inbound in zip(gw["index"], gw["inbound_veh_h"], strict=True):
        assert ext.flow[ext.origin == node].sum() == pytest.approx(inbound, rel=1e-4)
    # at 03:00 the cordon carries a sliver of the design hour
    night = gateways(G, ExternalParameters(hour=3))
    assert night["inbound_veh_h"].sum() == pytest.approx(gw["inbound_veh_h"].sum() * hour_factor(3))
    assert hour_factor(3) < 0.05 and hour_factor(None) == 1.0
