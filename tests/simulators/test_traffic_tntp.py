"""Traffic assignment against published truth: TNTP Sioux Falls, Anaheim and Barcelona.

Best-known UE flows come from the Transportation Networks for Research
repository (data folder from ``CITYTWIN_DATA``, default ``../shared/data``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from simulators.traffic import assign
from simulators.traffic.__main__ import main
from simulators.traffic.costs import beckmann_objective, link_costs
from simulators.traffic.paths import (
    all_or_nothing,
    all_or_nothing_serial,
    shortest_path_tree,
    shortest_path_tree_reference,
)
from simulators.traffic.tntp import flows_in_network_order, read_flow, read_net, read_trips

DATA = Path(
    os.environ.get("CITYTWIN_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
)
TNTP = DATA / "tntp"
NETWORKS = ["SiouxFalls", "Anaheim"]


def load(name):
    if not (TNTP / f"{name}_net.tntp").exists():
        raise FileNotFoundError(f"TNTP data missing in {TNTP}; set CITYTWIN_DATA")
    net = read_net(TNTP / f"{name}_net.tntp")
    demand = read_trips(TNTP / f"{name}_trips.tntp")
    best = flows_in_network_order(net, TNTP / f"{name}_flow.tntp")
    return net, demand, best


def objective(net, volume):
    return float(
        beckmann_objective(
            net.free_flow_time, net.alpha, net.beta, net.capacity, net.fixed_cost, volume
        )
    )


def node_balance(net, volume, demand):
    """inflow - outflow + production - attraction per node (zero when flow is conserved)."""
    n = net.n_nodes
    balance = np.bincount(net.head, volume, n) - np.bincount(net.tail, volume, n)
    balance += np.bincount(demand.origin, demand.flow, n)
    balance -= np.bincount(demand.destination, demand.flow, n)
    return balance


@pytest.fixture(scope="module", params=NETWORKS)
def case(request):
    return (request.param, *load(request.param))


def test_demand_totals_match_headers(case):
    name, net, demand, _ = case
    header = (TNTP / f"{name}_trips.tntp").read_text().split("<TOTAL OD FLOW>")[1].split()[0]
    assert demand.total == pytest.approx(float(header), rel=1e-9)


def test_compiled_dijkstra_matches_reference(case):
    _, net, _, _ = case
    rng = np.random.default_rng(7)
    cost = net.free_flow_time * rng.uniform(0.5, 2.0, net.n_links)
    for origin in range(0, net.n_zones, 5):
        dist, pred = shortest_path_tree(
            origin, net.out_start, net.out_links, net.head, cost, net.first_thru_node
        )
        ref = shortest_path_tree_reference(
            net.n_nodes, net.tail, net.head, cost, net.first_thru_node, origin
        )
        np.testing.assert_allclose(dist, ref, rtol=1e-12)
        reached = np.flatnonzero(pred >= 0)
        # each tree link is tight: dist[head] = dist[tail] + cost
        links = pred[reached]
        np.testing.assert_allclose(dist[net.tail[links]] + cost[links], dist[reached], rtol=1e-12)


def test_all_or_nothing_conserves_flow(case):
    _, net, demand, _ = case
    origins, start, dest, entry = demand.by_origin()
    volume = np.empty(net.n_links)
    od_cost = all_or_nothing(
        net.out_start, net.out_links, net.tail, net.head, net.free_flow_time,
        net.first_thru_node, origins, start, dest, demand.flow[entry], volume,
    )  # fmt: skip
    assert np.all(np.isfinite(od_cost))
    assert np.abs(node_balance(net, volume, demand)).max() < 1e-6 * demand.total
    # AON total cost = sum of demand x shortest-path cost
    assert np.dot(volume, net.free_flow_time) == pytest.approx(
        np.dot(demand.flow[entry], od_cost), rel=1e-10
    )


@pytest.mark.parametrize("algorithm", ["bfw", "bush"])
def test_equilibrium_at_1e5_matches_best_known_objective(case, algorithm):
    name, net, demand, best = case
    result = assign(net, demand, algorithm=algorithm, gap=1e-5, max_iter=5000)
    assert result.converged and result.relative_gap <= 1e-5
    best_objective = objective(net, best)
    rel = (result.objective - best_objective) / best_objective
    # the best-known flows are (near) optimal: we cannot be meaningfully below them
    assert rel > -1e-9
    # convexity: Z(x) - Z* <= sum x.c - sum d.SP = gap x sum x.c (a bound that always holds)
    assert result.objective - best_objective <= result.relative_gap * result.tstt * (1 + 1e-9)
    if algorithm == "bush" or name == "SiouxFalls":
        assert rel < 1e-6
    else:
        # BFW on Anaheim: the first iterate with gap <= 1e-5 (iteration 22, gap 7.0e-6) is
        # 1.7e-6 above best; the objective criterion of 1e-6 is not met here (docs/traffic.md,
        # "Known limits": the objective error at the first gap crossing varies from instance
        # to instance, AequilibraE's BFW included)
        assert rel < 2e-6
    assert np.abs(node_balance(net, result.volume, demand)).max() < 1e-6 * demand.total
    assert result.history["relative_gap"][-1] == pytest.approx(result.relative_gap)
    assert len(result.history["objective"]) == len(result.history["tstt"])


def test_reported_gap_is_aequilibrae_gap_of_returned_flows(case):
    """The reported gap is (sum x.c - sum d.SP) / sum x.c at the returned flows themselves."""
    _, net, demand, _ = case
    result = assign(net, demand, algorithm="bfw", gap=1e-5, max_iter=5000)
    cost = np.empty(net.n_links)
    link_costs(
        net.free_flow_time, net.alpha, net.beta, net.capacity, net.fixed_cost, result.volume, cost
    )
    origins, start, dest, entry = demand.by_origin()
    od_cost = all_or_nothing(
        net.out_start, net.out_links, net.tail, net.head, cost, net.first_thru_node,
        origins, start, dest, demand.flow[entry], np.empty(net.n_links),
    )  # fmt: skip
    total = float(np.dot(result.volume, cost))
    gap = (total - float(np.dot(demand.flow[entry], od_cost))) / total
    assert gap == pytest.approx(result.relative_gap, rel=1e-6)
    assert 0 < gap <= 1e-5


def test_zone_nodes_are_never_passed_through():
    net, demand, _ = load("Anaheim")
    assert net.first_thru_node == 38
    for algorithm in ("bfw", "bush"):
        result = assign(net, demand, algorithm=algorithm, gap=1e-4)
        out_flow = np.bincount(net.tail, result.volume, net.n_nodes)
        in_flow = np.bincount(net.head, result.volume, net.n_nodes)
        production = np.bincount(demand.origin, demand.flow, net.n_nodes)
        attraction = np.bincount(demand.destination, demand.flow, net.n_nodes)
        zones = np.arange(net.first_thru_node)
        # what leaves a zone is its own trips only, what enters it ends there
        np.testing.assert_allclose(out_flow[zones], production[zones], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(in_flow[zones], attraction[zones], rtol=1e-9, atol=1e-6)


def test_bush_reaches_1e8_and_best_known_flows(case):
    _, net, demand, best = case
    result = assign(net, demand, algorithm="bush", gap=1e-8, max_iter=2000)
    assert result.converged and result.relative_gap <= 1e-8
    best_objective = objective(net, best)
    assert abs(result.objective - best_objective) / best_objective < 1e-9
    # UE link flows are unique for strictly increasing costs: the bush solution is the published one
    assert np.abs(result.volume - best).max() < 1.0
    assert np.abs(node_balance(net, result.volume, demand)).max() < 1e-6 * demand.total


def test_fw_and_cfw_converge(case):
    _, net, demand, best = case
    best_objective = objective(net, best)
    for algorithm, gap in (("fw", 1e-3), ("cfw", 1e-4)):
        result = assign(net, demand, algorithm=algorithm, gap=gap, max_iter=20000)
        assert result.converged
        assert 0 <= (result.objective - best_objective) / best_objective <= gap


def test_cli_json_and_flow_file(tmp_path, capsys):
    out = tmp_path / "flows.tntp"
    code = main(
        [
            "tntp", str(TNTP / "SiouxFalls_net.tntp"), str(TNTP / "SiouxFalls_trips.tntp"),
            "--flow", str(TNTP / "SiouxFalls_flow.tntp"), "--algorithm", "bfw", "--gap", "1e-5",
            "--out", str(out), "--json",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "iterations", "relative_gap", "objective", "tstt", "seconds", "objective_rel_diff",
        "max_abs_flow_diff",
    ):  # fmt: skip
        assert key in report
    assert report["relative_gap"] <= 1e-5
    assert abs(report["objective_rel_diff"]) < 1e-6
    frm, to, volume, cost = read_flow(out)
    net = read_net(TNTP / "SiouxFalls_net.tntp")
    np.testing.assert_array_equal(frm, net.tail + 1)
    np.testing.assert_array_equal(to, net.head + 1)
    best = flows_in_network_order(net, TNTP / "SiouxFalls_flow.tntp")
    assert np.abs(volume - best).max() == pytest.approx(report["max_abs_flow_diff"])
    assert np.all(cost >= net.free_flow_time)


def test_cli_text_output(capsys):
    main(
        ["tntp", str(TNTP / "Anaheim_net.tntp"), str(TNTP / "Anaheim_trips.tntp"), "--gap", "1e-3"]
    )
    text = capsys.readouterr().out
    assert "relative gap" in text and "Beckmann objective" in text and "TSTT" in text


def test_bush_reaches_1e8_on_barcelona():
    """Barcelona: constant-time connectors (zero derivative), powers up to 16.8, a sink node.

    Before flow crumbs were ignored, Algorithm B stalled at gap 6e-5 here. Run to 1e-9:
    the gap falls in steps here (1.7e-8, 4.6e-9, 2.5e-11 over the last sweeps), and where
    a run stops below 1e-8 decides how close the flows of the flattest links are (0.13 veh
    at 4.6e-9 on links whose cost moves 1e-6 min per veh, 3e-4 veh at 2.5e-11).
    """
    net, demand, best = load("Barcelona")
    assert net.first_thru_node == 110
    result = assign(net, demand, algorithm="bush", gap=1e-9, max_iter=3000)
    assert result.converged and result.relative_gap <= 1e-9
    best_objective = objective(net, best)
    assert abs(result.objective - best_objective) / best_objective < 1e-9
    # UE flows are unique only where the cost rises with flow: the 565 connectors with
    # b = power = 0 have a constant time, so parallel connectors may split differently
    rising = (net.alpha > 0) & (net.beta > 0)
    assert (~rising).sum() == 565
    assert np.abs(result.volume - best)[rising].max() < 0.1
    assert np.abs(node_balance(net, result.volume, demand)).max() < 1e-6 * demand.total


def test_warm_start_continues_from_previous_equilibrium(case):
    _, net, demand, best = case
    coarse = assign(net, demand, algorithm="bfw", gap=1e-4, max_iter=5000)
    cold = assign(net, demand, algorithm="bfw", gap=1e-5, max_iter=5000)
    warm = assign(
        net, demand, algorithm="bfw", gap=1e-5, max_iter=5000, initial_volume=coarse.volume
    )
    assert warm.converged and warm.relative_gap <= 1e-5
    # it starts where the coarse run stopped, and needs fewer iterations than from scratch
    assert warm.history["relative_gap"][0] == pytest.approx(coarse.relative_gap, rel=1e-9)
    assert warm.iterations < cold.iterations
    best_objective = objective(net, best)
    assert 0 <= warm.objective - best_objective <= warm.relative_gap * warm.tstt * (1 + 1e-9)
    assert np.abs(node_balance(net, warm.volume, demand)).max() < 1e-6 * demand.total
    # from the best-known equilibrium there is nothing left to do
    at_best = assign(net, demand, algorithm="bfw", gap=1e-8, initial_volume=best)
    assert at_best.converged and at_best.iterations == 1
    # the bush solver starts its bushes at the congested costs of the given flows
    bush = assign(net, demand, algorithm="bush", gap=1e-8, max_iter=2000, initial_volume=best)
    assert bush.converged
    assert abs(bush.objective - best_objective) / best_objective < 1e-9


def test_warm_start_refuses_flows_of_another_demand():
    net, demand, best = load("SiouxFalls")
    with pytest.raises(ValueError, match="initial_volume: expected 76"):
        assign(net, demand, initial_volume=best[:-1])
    with pytest.raises(ValueError, match="initial_volume: volumes must be finite"):
        assign(net, demand, initial_volume=-best)
    with pytest.raises(ValueError, match="initial_volume is not a flow of this demand"):
        assign(net, demand, initial_volume=0.5 * best)
    with pytest.raises(ValueError, match="select_links needs a cold start"):
        assign(net, demand, initial_volume=best, select_links=[0])


def test_threaded_all_or_nothing_matches_one_thread_kernel(case):
    _, net, demand, _ = case
    origins, start, dest, entry = demand.by_origin()
    cost = net.free_flow_time * np.random.default_rng(3).uniform(1.0, 3.0, net.n_links)
    args = (net.out_start, net.out_links, net.tail, net.head, cost, net.first_thru_node,
            origins, start, dest, demand.flow[entry])  # fmt: skip
    threaded, serial = np.empty(net.n_links), np.empty(net.n_links)
    np.testing.assert_array_equal(
        all_or_nothing(*args, threaded), all_or_nothing_serial(*args, serial)
    )
    np.testing.assert_allclose(threaded, serial, rtol=1e-12, atol=1e-9)
    assert threaded.sum() > 0


def test_parallel_bush_sweep_equals_serial_reference():
    """Origins on two threads (batches merged with a step that never raises the objective)
    reach the same equilibrium as the one-origin-after-another reference sweep."""
    from simulators.traffic.assignment import split_reachable_demand
    from simulators.traffic.bush import solve_bush_based

    net, demand, best = load("SiouxFalls")
    loaded, _ = split_reachable_demand(net, demand)
    serial = solve_bush_based(net, loaded, gap=1e-8, max_iter=3000, threads=1)
    parallel = solve_bush_based(net, loaded, gap=1e-8, max_iter=3000, threads=2)
    assert serial.converged and parallel.converged
    assert "shortened_batches" not in serial.history
    # the two threads did overlap on links, so the merge step was exercised
    assert sum(parallel.history["shortened_batches"]) > 0
    # flows at gap 1e-8 differ from best-known by up to 0.04 veh here (docs/traffic.md)
    assert np.abs(parallel.volume - serial.volume).max() < 0.05
    objectives = [objective(net, v) for v in (serial.volume, parallel.volume, best)]
    assert abs(objectives[1] - objectives[0]) / objectives[0] < 1e-10
    assert abs(objectives[1] - objectives[2]) / objectives[2] < 1e-9
    assert np.abs(node_balance(net, parallel.volume, demand)).max() < 1e-6 * demand.total
    with pytest.raises(ValueError, match="threads"):
        solve_bush_based(net, loaded, gap=1e-3, threads=0)


def test_kept_bush_orders_stay_topological():
    """The bushes' topological orders kept between sweeps stay valid for the bushes as links
    are dropped and added (in order, or re-sorted over the bush's links), and every
    node of a bush keeps its place in the order."""
    from simulators.traffic import bush as B
    from simulators.traffic.assignment import split_reachable_demand
    from simulators.traffic.costs import link_cost_derivatives

    net, demand, _ = load("Anaheim")
    loaded, _ = split_reachable_demand(net, demand)
    n_origins, m = len(loaded.origins), net.n_links
    t0, alpha, beta, cap, fixed = (net.free_flow_time, net.alpha, net.beta, net.capacity,
                                   net.fixed_cost)  # fmt: skip
    in_bush = np.zeros((n_origins, m), dtype=bool)
    flow = np.zeros((n_origins, m))
    volume = np.zeros(m)
    cost, deriv = np.empty(m), np.empty(m)
    link_costs(t0, alpha, beta, cap, fixed, volume, cost)
    B._init_bushes(net.out_start, net.out_links, net.tail, net.head, cost, net.first_thru_node,
                   loaded.origins, loaded.start, loaded.destination, loaded.flow, in_bush, flow,
                   volume)  # fmt: skip
    in_start, in_links = B.in_links_csr(net)
    orders = np.zeros((n_origins, net.n_nodes), dtype=np.int32)
    n_order = np.zeros(n_origins, dtype=np.int64)
    updates = np.zeros(4, dtype=np.int64)
    for _ in range(12):
        link_costs(t0, alpha, beta, cap, fixed, volume, cost)
        link_cost_derivatives(t0, alpha, beta, cap, volume, deriv)
        B._bush_sweep(loaded.origins, loaded.start, loaded.flow, net.first_thru_node,
                      net.out_start, net.out_links, in_start, in_links, net.tail, net.head,
                      net.open, t0, alpha, beta, cap, fixed, in_bush, flow, volume, cost, deriv,
                      1e-9, 5, np.arange(n_origins), orders, n_order, updates)  # fmt: skip
        for k in range(n_origins):
            position = np.full(net.n_nodes, -1)
            order = orders[k, : n_order[k]]
            position[order] = np.arange(len(order))
            links = np.flatnonzero(in_bush[k])
            assert order[0] == loaded.origins[k]
            assert (position[net.tail[links]] >= 0).all()
            assert (position[net.tail[links]] < position[net.head[links]]).all()
    # both ways of keeping an order were taken
    assert updates[1] > 0 and updates[2] > 0
    np.testing.assert_allclose(flow.sum(axis=0), volume, atol=1e-6)
