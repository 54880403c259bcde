"""City-scale traffic pieces: TNTP export of a twin-built problem, warm starts on a city.

The export is what ``bench/traffic_city_scale.py`` gives AequilibraE, so both engines
must see the same problem: the round trip is checked array by array and by solving it.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulators.synthetic import generate_city
from simulators.traffic import assign
from simulators.traffic.demand import demand_from_buildings
from simulators.traffic.osm import network_from_graph
from simulators.traffic.tntp import read_net, read_trips, write_net, write_trips, zones_first


@pytest.fixture(scope="module")
def city_problem():
    city = generate_city(n_road_links=1500, seed=1)
    graph = city.to_networkx()
    network, _ = network_from_graph(graph)
    demand = demand_from_buildings(graph, city.buildings, network=network)
    return network, demand


def test_exported_city_is_the_same_problem(city_problem, tmp_path):
    network, demand = city_problem
    renumbered, moved = zones_first(network, demand)
    write_net(tmp_path / "city_net.tntp", renumbered)
    write_trips(tmp_path / "city_trips.tntp", moved, renumbered.n_zones)
    back, back_demand = (
        read_net(tmp_path / "city_net.tntp"),
        read_trips(tmp_path / "city_trips.tntp"),
    )
    zones = np.unique(np.concatenate([demand.origin, demand.destination]))
    assert back.n_zones == len(zones) and back.first_thru_node == 0
    for name in ("tail", "head", "free_flow_time", "capacity", "alpha", "beta", "length"):
        np.testing.assert_array_equal(getattr(back, name), getattr(renumbered, name))
    # zones first, same trips between the same graph nodes
    assert set(back_demand.origin) | set(back_demand.destination) <= set(range(len(zones)))
    ids = np.asarray(renumbered.node_ids)
    sent = sorted(zip(network.node_ids[demand.origin], network.node_ids[demand.destination]))
    got = sorted(zip(ids[back_demand.origin], ids[back_demand.destination]))
    assert sent == got
    assert back_demand.total == pytest.approx(demand.total, rel=1e-12)
    # the equilibrium objective is unique: both numberings give it
    original = assign(network, demand, algorithm="bush", gap=1e-6, max_iter=3000)
    exported = assign(back, back_demand, algorithm="bush", gap=1e-6, max_iter=3000)
    assert original.converged and exported.converged
    assert exported.objective == pytest.approx(original.objective, rel=1e-6)


def test_warm_start_on_a_city_after_more_demand(city_problem):
    """A what-if run warm-started from the baseline of the same demand stops at once; the
    same flows are refused for a scaled demand (they do not carry its trips)."""
    network, demand = city_problem
    base = assign(network, demand, algorithm="bfw", gap=1e-4, max_iter=2000)
    again = assign(network, demand, algorithm="bfw", gap=1e-4, initial_volume=base.volume)
    assert again.iterations == 1 and again.converged
    assert again.relative_gap == pytest.approx(base.relative_gap, rel=1e-9)
    from simulators.traffic.scenarios import scale_demand

    with pytest.raises(ValueError, match="initial_volume is not a flow of this demand"):
        assign(network, scale_demand(demand, 1.2), initial_volume=base.volume)
