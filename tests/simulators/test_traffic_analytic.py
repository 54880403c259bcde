"""Traffic assignment on networks with closed-form equilibria, and scenario edits."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.traffic import Demand, Network, assign
from simulators.traffic.scenarios import (
    add_link,
    close_links,
    scale_demand,
    set_capacity,
    set_lanes,
    set_speed,
    set_toll,
)

ALGORITHMS = ["fw", "cfw", "bfw", "bush"]


def linear_network(tail, head, a, b, n_nodes, **kw):
    """Links with cost a + b x, as BPR with beta=1: t0 = a, alpha/cap = b/a."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return Network(
        tail=tail, head=head, free_flow_time=a, capacity=a / b, alpha=np.ones(len(a)),
        beta=np.ones(len(a)), length=kw.pop("length", None), toll=kw.pop("toll", None),
        lanes=None, open=None, n_nodes=n_nodes, n_zones=kw.pop("n_zones", 0),
        first_thru_node=kw.pop("first_thru_node", 0), **kw,
    )  # fmt: skip


def two_links(**kw):
    # link 0: 10 + 1 x, link 1: 20 + 0.5 x (both 0 -> 1)
    return linear_network([0, 0], [1, 1], [10.0, 20.0], [1.0, 0.5], 2, **kw)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_two_parallel_links(algorithm):
    demand = Demand([0], [1], [100.0])
    result = assign(two_links(), demand, algorithm=algorithm, gap=1e-9, max_iter=5000)
    # equal costs: 10 + x1 = 20 + 0.5 (100 - x1)  ->  x1 = 40
    np.testing.assert_allclose(result.volume, [40.0, 60.0], atol=1e-4)
    np.testing.assert_allclose(result.cost, [50.0, 50.0], atol=1e-4)
    assert result.tstt == pytest.approx(100 * 50.0, rel=1e-6)


def test_two_parallel_links_only_one_used():
    # at demand 5 the cheap link's cost 15 stays below the other's free-flow 20
    result = assign(two_links(), Demand([0], [1], [5.0]), algorithm="bfw", gap=1e-10)
    np.testing.assert_allclose(result.volume, [5.0, 0.0], atol=1e-9)


def test_toll_and_distance_weights_shift_flow():
    net = two_links(toll=[5.0, 0.0], toll_weight=2.0, length=[0.0, 10.0], distance_weight=0.5)
    result = assign(net, Demand([0], [1], [100.0]), algorithm="bush", gap=1e-10)
    # 10 + 10 + x1 = 20 + 5 + 0.5 (100 - x1)  ->  1.5 x1 = 55
    np.testing.assert_allclose(result.volume[0], 55.0 / 1.5, atol=1e-5)
    # congested time excludes toll and distance terms
    np.testing.assert_allclose(result.travel_time, [10 + 55 / 1.5, 20 + 0.5 * (100 - 55 / 1.5)])


def braess(with_bridge: bool):
    # s=0, a=1, b=2, t=3; s-a 10x, a-t 50+x, s-b 50+x, b-t 10x, a-b 10+x; demand 6
    tail = [0, 1, 0, 2, 1]
    head = [1, 3, 2, 3, 2]
    eps = 1e-9  # BPR needs a positive free-flow time; 10x = eps (1 + (10/eps) x)
    net = linear_network(tail, head, [eps, 50, 50, eps, 10], [10, 1, 1, 10, 1], 4)
    return net if with_bridge else close_links(net, [4])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_braess_paradox(algorithm):
    demand = Demand([0], [3], [6.0])
    without = assign(braess(False), demand, algorithm=algorithm, gap=1e-10, max_iter=20000)
    np.testing.assert_allclose(without.volume, [3, 3, 3, 3, 0], atol=1e-3)
    assert without.tstt / 6 == pytest.approx(83.0, rel=1e-5)
    bridged = assign(braess(True), demand, algorithm=algorithm, gap=1e-10, max_iter=20000)
    np.testing.assert_allclose(bridged.volume, [4, 2, 2, 4, 2], atol=1e-3)
    assert bridged.tstt / 6 == pytest.approx(92.0, rel=1e-5)


@pytest.mark.parametrize("algorithm", ["bfw", "bush"])
def test_select_link_on_braess(algorithm):
    demand = Demand([0, 1], [3, 3], [6.0, 1.0])
    result = assign(braess(True), demand, algorithm=algorithm, gap=1e-9, select_links=[4, 1])
    # every flow on a link belongs to some OD pair: select-link flows add up to the volume
    for link in (4, 1):
        pairs = result.select_link(link)
        assert sum(f for *_, f in pairs) == pytest.approx(result.volume[link], rel=1e-6)
    assert {(o, d) for o, d, _ in result.select_link(4)} == {(1, 4), (2, 4)}
    with pytest.raises(KeyError):
        result.select_link(0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sink_dead_end_and_disconnected_nodes(algorithm):
    # 0 -> 1 -> 3 and 0 -> 2 -> 3; node 3 is a sink (two links in, none out);
    # node 4 is a dead end reached from 1; node 5 is disconnected
    tail = [0, 0, 1, 2, 1]
    head = [1, 2, 3, 3, 4]
    net = linear_network(tail, head, [1, 1, 1, 1, 1], [0.01, 0.01, 0.01, 0.01, 0.01], 6)
    demand = Demand([0, 0, 3, 0], [3, 4, 0, 5], [100.0, 10.0, 7.0, 3.0])
    result = assign(net, demand, algorithm=algorithm, gap=1e-10, max_iter=5000)
    # paths 0-1-3 and 0-2-3 are symmetric except link 0 also carries the 10 trips to node 4:
    # 2 + 0.01 (x + 10) + 0.01 x = 2 + 0.02 (100 - x)  ->  x = 47.5
    np.testing.assert_allclose(result.volume, [57.5, 52.5, 47.5, 52.5, 10], atol=1e-3)
    # the sink cannot send its 7 trips back and node 5 cannot be reached: both reported
    assert sorted(result.unassignable_pairs()) == sorted([(4, 1, 7.0), (1, 6, 3.0)])
    assert result.unassigned_demand == pytest.approx(10.0)
    inflow_sink = result.volume[2] + result.volume[3]
    assert inflow_sink == pytest.approx(100.0)


def test_zone_connectors_are_not_shortcuts():
    # zone 0 -> 2 and zone 1 -> 2; a free zone-to-zone shortcut 0 -> 1 -> 3 must not be used
    tail = [0, 2, 0, 1]
    head = [2, 3, 1, 3]
    net = linear_network(tail, head, [5, 5, 0.1, 0.1], [1e-3] * 4, 4, n_zones=2, first_thru_node=2)
    result = assign(net, Demand([0], [3], [10.0]), algorithm="bush", gap=1e-10)
    np.testing.assert_allclose(result.volume, [10, 10, 0, 0], atol=1e-9)


def test_scenarios_are_pure():
    base = braess(True)
    before = {k: getattr(base, k).copy() for k in ("capacity", "open", "free_flow_time", "toll")}
    closed = close_links(base, [4])
    widened = set_lanes(base, [1], 2)
    faster = set_speed(set_capacity(base, [0], factor=2.0), [2], 60.0)
    tolled = set_toll(base, [4], 3.0)
    extended, new_link = add_link(base, 0, 3, 70.0, 100.0)
    for key, value in before.items():
        np.testing.assert_array_equal(getattr(base, key), value)
    assert not closed.open[4] and base.open[4]
    assert widened.capacity[1] == pytest.approx(2 * base.capacity[1])
    assert faster.capacity[0] == pytest.approx(2 * base.capacity[0])
    assert tolled.toll[4] == 3.0 and base.toll[4] == 0.0
    assert new_link == 5 and extended.n_links == 6 and base.n_links == 5
    demand = Demand([0], [3], [6.0])
    # a direct 0->3 link at a flat 70 takes the trips that would pay more than 70 on the old paths
    result = assign(extended, demand, algorithm="bush", gap=1e-10)
    assert result.cost[:5][result.volume[:5] > 1e-6].max() <= 70.0 + 1e-6
    grown = scale_demand(demand, 1.2)
    assert grown.total == pytest.approx(7.2) and demand.total == 6.0
    partial = scale_demand(Demand([0, 1], [3, 3], [6.0, 2.0]), 2.0, zones=[1], direction="origin")
    np.testing.assert_allclose(partial.flow, [6.0, 4.0])


def test_closing_the_bridge_restores_braess_baseline():
    demand = Demand([0], [3], [6.0])
    result = assign(close_links(braess(True), [4]), demand, algorithm="bfw", gap=1e-10)
    assert result.volume[4] == 0.0
    assert result.tstt / 6 == pytest.approx(83.0, rel=1e-5)


def grid(n):
    """n x n two-way grid with uniform BPR links and all-corner demand."""
    tail, head = [], []
    for i in range(n):
        for j in range(n):
            node = i * n + j
            if j + 1 < n:
                tail += [node, node + 1]
                head += [node + 1, node]
            if i + 1 < n:
                tail += [node, node + n]
                head += [node + n, node]
    m = len(tail)
    net = Network(
        tail=tail, head=head, free_flow_time=np.ones(m), capacity=np.full(m, 100.0), alpha=None,
        beta=None, length=None, toll=None, lanes=None, open=None, n_nodes=n * n, n_zones=0,
        first_thru_node=0,
    )  # fmt: skip
    corners = [0, n - 1, n * (n - 1), n * n - 1]
    origin, destination = zip(*[(a, b) for a in corners for b in corners if a != b])
    return net, Demand(origin, destination, np.full(len(origin), 300.0))


def test_progress_callback_and_time_limit():
    seen = []
    net, demand = grid(30)
    result = assign(
        net, demand, algorithm="fw", gap=1e-14, max_iter=10**6,
        time_limit_s=0.2, progress=lambda f, s: seen.append((f, s)),
    )  # fmt: skip
    assert result.stop_reason == "time_limit" and not result.converged
    fractions = [f for f, _ in seen]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
