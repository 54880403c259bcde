"""Road upgrades on small networks with a known answer: two parallel routes, one saturated
(strengthening it ranks first, its saving is the difference of two plain assignments), and
two halves joined by one bridge (closing the bridge ranks first)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.common.params import ParamError
from simulators.road_upgrades import (
    RoadUpgradeParams,
    UpgradeOption,
    busiest_segments,
    congested_links,
    evaluate_closures,
    evaluate_upgrades,
    options_from,
    vehicle_hours,
)
from simulators.traffic import Demand, Network, assign
from simulators.traffic.scenarios import set_lanes

GAP = 1e-8


def _network(links, n_nodes, n_zones) -> Network:
    """``links``: (tail, head, free-flow min, capacity veh/h, lanes, length m)."""
    a = np.array(links, dtype=float)
    return Network(
        tail=a[:, 0].astype(np.int64), head=a[:, 1].astype(np.int64), free_flow_time=a[:, 2],
        capacity=a[:, 3], alpha=np.full(len(a), 0.15), beta=np.full(len(a), 4.0),
        length=a[:, 5], toll=np.zeros(len(a)), lanes=a[:, 4], open=np.ones(len(a), bool),
        n_nodes=n_nodes, n_zones=n_zones, first_thru_node=n_zones,
    )  # fmt: skip


#: zone 0 -> zone 1 over a short one-lane road (link 2, saturated) or a long two-lane detour
#: (links 3 and 4); connectors 0 and 1
PARALLEL = [
    (0, 2, 0.1, 100_000, 4, 100),
    (3, 1, 0.1, 100_000, 4, 100),
    (2, 3, 5.0, 1_000, 1, 5_000),
    (2, 4, 5.0, 5_000, 2, 5_000),
    (4, 3, 5.0, 5_000, 2, 5_000),
]


@pytest.fixture(scope="module")
def parallel():
    net = _network(PARALLEL, n_nodes=5, n_zones=2)
    demand = Demand(origin=[0], destination=[1], flow=[2_000.0])
    return assign(net, demand, algorithm="bush", gap=GAP, keep_bushes=True)


def test_strengthening_the_saturated_route_ranks_first_and_saves_what_two_runs_differ(parallel):
    base = parallel
    assert base.volume_capacity_ratio[2] > 1.4  # the short road is the bottleneck
    eligible = np.ones(base.network.n_links, bool)
    links = congested_links(base, eligible, n=5)
    assert links[0] == 2  # most delay vehicle-hours
    ranked = evaluate_upgrades(
        base, links, options_from(1, 25.0), gap=GAP, max_iter=2000, unrouted_trip_h=1.0
    )
    top = ranked[0]
    assert top.link == 2 and top.option == UpgradeOption("lanes", 1.0)
    assert top.lane_km_added == pytest.approx(5.0)  # one lane over 5 km
    assert [r.link for r in ranked].count(2) == 1 and len(ranked[0].evaluated) == 2
    # the saving is the difference of two plain assignments from scratch: base vs one lane more
    cold_base = assign(base.network, base.demand, algorithm="bfw", gap=GAP, max_iter=5000)
    upgraded = set_lanes(base.network, [2], 2)
    cold_up = assign(upgraded, base.demand, algorithm="bfw", gap=GAP, max_iter=5000)
    expected = cold_base.vehicle_hours_travelled - cold_up.vehicle_hours_travelled
    assert expected > 10.0
    assert top.saving_veh_h_per_h == pytest.approx(expected, rel=1e-4)
    assert top.saving_per_lane_km == pytest.approx(expected / 5.0, rel=1e-4)
    # the detour's links carry little: strengthening them saves next to nothing
    assert all(r.saving_per_lane_km < 0.01 * top.saving_per_lane_km for r in ranked[1:])


def _ring(first: int) -> list[tuple]:
    """Four junctions in a two-way ring, 500 m sides, two lanes."""
    nodes = [first, first + 1, first + 2, first + 3]
    out = []
    for a, b in zip(nodes, nodes[1:] + nodes[:1], strict=True):
        out += [(a, b, 1.0, 2_000, 2, 500), (b, a, 1.0, 2_000, 2, 500)]
    return out


def test_the_bridge_between_two_halves_is_the_first_closure_to_avoid():
    # zones 0, 1 west (rings 4-7), zones 2, 3 east (ring 8-11); one bridge 5 <-> 8
    connectors = []
    for zone, node in ((0, 4), (1, 6), (2, 9), (3, 11)):
        connectors += [(zone, node, 0.1, 100_000, 4, 50), (node, zone, 0.1, 100_000, 4, 50)]
    bridge = [(5, 8, 2.0, 2_000, 2, 800), (8, 5, 2.0, 2_000, 2, 800)]
    links = connectors + _ring(4) + _ring(8) + bridge
    net = _network(links, n_nodes=12, n_zones=4)
    pairs = [(o, d) for o in range(4) for d in range(4) if o != d]
    demand = Demand(
        origin=[o for o, _ in pairs], destination=[d for _, d in pairs], flow=[100.0] * len(pairs)
    )
    base = assign(net, demand, algorithm="bush", gap=GAP, keep_bushes=True)
    segments = busiest_segments(base, np.ones(net.n_links, bool), n=100)
    # every segment with traffic, both directions together
    assert all(len(s) == 2 for s in segments)
    ranked = evaluate_closures(base, segments, gap=GAP, max_iter=2000, unrouted_trip_h=1.0)
    bridge_links = [len(links) - 2, len(links) - 1]
    assert ranked[0].links.tolist() == bridge_links
    # it strands the 8 cross pairs x 100 veh/h: 800 trips at 1 h each, beyond any detour
    assert ranked[0].unassignable_trips_veh_h == pytest.approx(800.0)
    assert ranked[0].added_h > 800.0 - base.vehicle_hours_travelled
    assert ranked[0].added_h > ranked[1].added_h
    # a ring link closed has a detour: nothing stranded, a few vehicle-hours added
    ring = [c for c in ranked if c.links[0] >= 8 and c.links[0] < len(links) - 2]
    assert ring and all(c.unassignable_trips_veh_h == 0 and c.added_h >= -1e-6 for c in ring)
    assert vehicle_hours(base, 1.0) == pytest.approx(base.vehicle_hours_travelled)
    assert all(c.warm_started for c in ranked)


def test_options_stay_within_the_road_edits_limits_and_params_validate_themselves(parallel):
    net = parallel.network
    assert UpgradeOption("lanes", 1.0).apply(net, 2) == (2_000.0, 2.0, pytest.approx(5.0))
    # +25% of one lane over 5 km counts as 1.25 lane-km
    assert UpgradeOption("capacity", 25.0).apply(net, 2) == (1_250.0, 1.0, pytest.approx(1.25))
    wide = net.copy_with(lanes=np.where(np.arange(net.n_links) == 2, 8.0, net.lanes))
    assert UpgradeOption("lanes", 1.0).apply(wide, 2) is None  # 9 lanes: beyond 8
    assert UpgradeOption("capacity", 25.0).apply(net, 0) is None  # beyond 20,000 veh/h
    assert options_from(0, 10.0) == [UpgradeOption("capacity", 10.0)]
    assert UpgradeOption("lanes", 2.0).label == "+2 lanes"
    assert UpgradeOption("capacity", 25.0).label == "+25% capacity"
    with pytest.raises(ParamError, match="lanes_added"):
        RoadUpgradeParams(lanes_added=0, capacity_increase_pct=0.0)
    with pytest.raises(ParamError, match="closures"):
        RoadUpgradeParams(closures=0)
    with pytest.raises(ParamError, match="capacity_increase_pct"):
        RoadUpgradeParams(capacity_increase_pct=500.0)
