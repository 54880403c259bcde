"""Optimal strategies: the published example of Spiess & Florian (1989), and the compiled
kernel equal to the paper's algorithm written out literally, on random networks."""

import numpy as np
import pytest

from simulators.transit import SupplyError, TransitLine, TransitStop, TransitSupply
from simulators.transit.assignment import assign_transit
from simulators.transit.graph import BOARD, build_graph
from simulators.transit.params import TransitParams
from simulators.transit.strategies import assign_strategies, load_reference, strategy_reference

KM = 10_000.0  # stops far apart: a zone only walks to the stop it sits on


def _line(line_id, stops, minutes, headway_min):
    return TransitLine(line_id, f"Line {line_id}", "bus", stops, [m * 60.0 for m in minutes],
                       headway_min * 60.0, 1000.0, [1000.0] * len(minutes))  # fmt: skip


def paper_supply() -> TransitSupply:
    """Spiess & Florian (1989), Fig. 1: four lines between A, X, Y and B (minutes)."""
    stops = [TransitStop(s, s, k * KM, 0.0) for k, s in enumerate("AXYB")]
    return TransitSupply(
        stops,
        [
            _line("1", ["A", "B"], [25], 12),
            _line("2", ["A", "X", "Y"], [7, 6], 12),
            _line("3", ["X", "Y", "B"], [4, 4], 30),
            _line("4", ["Y", "B"], [10], 6),
        ],
        "paper",
    )


PAPER = TransitParams(wait_weight=1.0, walk_weight=1.0, boarding_penalty_s=0.0, max_transfer_m=0.0)


def test_paper_example_line_volumes_and_expected_time():
    graph = build_graph(paper_supply(), [[0.0, 0.0], [3 * KM, 0.0]], PAPER)
    result = assign_transit(graph, np.array([[0.0, 1.0], [0.0, 0.0]]))
    loads = result.line_loads()
    # the paper's optimal strategy: lines 1 and 2 from A, half each; stay on line 2 at X; at
    # Y the first of lines 3 and 4 (frequency shares 1/6 and 5/6)
    np.testing.assert_allclose(loads[0], [0.5], atol=1e-12)
    np.testing.assert_allclose(loads[1], [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(loads[2], [0.0, 0.5 / 6], atol=1e-12)
    np.testing.assert_allclose(loads[3], [0.5 * 5 / 6], atol=1e-12)
    # expected travel time 27.75 min (u at A in AequilibraE's test: 1665 s)
    assert result.skims["generalized_cost_s"][0, 1] == pytest.approx(1665.0)
    assert result.skims["waiting_s"][0, 1] == pytest.approx(180.0 + 0.5 * 150.0)
    assert result.skims["in_vehicle_s"][0, 1] == pytest.approx(1410.0)
    assert result.skims["boardings"][0, 1] == pytest.approx(1.5)
    np.testing.assert_allclose(result.boardings, [1.0, 0.0, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(result.alightings, [0.0, 0.0, 0.5, 1.0], atol=1e-12)
    # B to A has no line: unserved, not zero
    assert np.isinf(result.skims["generalized_cost_s"][1, 0])


def test_paper_example_waiting_weight_and_penalty_in_the_cost():
    params = TransitParams(
        wait_weight=2.0, walk_weight=1.0, boarding_penalty_s=120.0, max_transfer_m=0.0
    )
    graph = build_graph(paper_supply(), [[0.0, 0.0], [3 * KM, 0.0]], params)
    result = assign_transit(graph, np.array([[0.0, 1.0], [0.0, 0.0]]))
    s = {k: v[0, 1] for k, v in result.skims.items()}
    # generalized cost = in-vehicle + 2 x waiting + 120 s x boardings when the strategy is
    # a combination of its own components
    assert s["generalized_cost_s"] == pytest.approx(
        s["in_vehicle_s"] + 2.0 * s["waiting_s"] + 120.0 * s["boardings"]
    )
    assert result.volume.sum() > 0


def _random_network(seed: int, n_nodes=40, n_links=160, n_zones=6):
    rng = np.random.default_rng(seed)
    tail = rng.integers(0, n_nodes, n_links)
    head = rng.integers(0, n_nodes, n_links)
    keep = tail != head
    tail, head = tail[keep], head[keep]
    cost = rng.uniform(1.0, 20.0, len(tail))
    freq = np.where(rng.random(len(tail)) < 0.4, rng.uniform(0.02, 0.5, len(tail)), np.inf)
    return tail, head, cost, freq, n_nodes, n_zones


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_compiled_kernel_equals_the_papers_algorithm_on_random_networks(seed):
    tail, head, cost, freq, n_nodes, n_zones = _random_network(seed)
    rng = np.random.default_rng(100 + seed)
    demand = rng.uniform(0.0, 5.0, (n_zones, n_zones))
    np.fill_diagonal(demand, 0.0)
    alpha = 0.7
    volume, skims = assign_strategies(
        n_nodes, n_zones, tail, head, cost, freq, demand, wait_weight=1.4, wait_factor=0.5
    )
    expected = np.zeros(len(tail))
    reached = 0
    for d in range(n_zones):
        u, f, chosen, det = strategy_reference(n_nodes, tail, head, cost, freq, d, alpha, n_zones)
        flows = {o: demand[o, d] for o in range(n_zones) if o != d and np.isfinite(u[o])}
        expected += load_reference(n_nodes, tail, head, freq, chosen, f, det, flows)
        np.testing.assert_allclose(skims[4, :, d], u[:n_zones], rtol=1e-12)
        reached += int(np.isfinite(u[:n_zones]).sum())
    assert reached > n_zones  # the networks connect zones (the comparison is not empty)
    np.testing.assert_allclose(volume, expected, rtol=1e-10, atol=1e-10)
    # flow is conserved: every served trip leaves its origin zone
    served = demand * np.isfinite(skims[4])
    out_of_zones = (
        np.bincount(tail, volume, n_nodes)[:n_zones] - np.bincount(head, volume, n_nodes)[:n_zones]
    )
    np.testing.assert_allclose(out_of_zones, served.sum(axis=1) - served.sum(axis=0), atol=1e-9)


def test_trips_never_pass_through_another_zone():
    # zone 0 -> zone 1 only exists through zone 2: no strategy
    tail = np.array([0, 2])
    head = np.array([2, 1])
    volume, skims = assign_strategies(
        3, 3, tail, head, np.ones(2), np.full(2, np.inf), np.array([[0, 1.0, 0], [0] * 3, [0] * 3])
    )
    assert np.isinf(skims[4, 0, 1])
    assert volume.sum() == 0.0


def test_bad_supply_names_the_field():
    supply = paper_supply()
    supply.lines[1].segment_time_s = [420.0]
    with pytest.raises(SupplyError) as err:
        build_graph(supply, [[0.0, 0.0]])
    assert err.value.field == "lines[2].segment_time_s"
    supply = paper_supply()
    supply.lines[0].headway_s = 0.0
    with pytest.raises(SupplyError, match="headway_s"):
        build_graph(supply, [[0.0, 0.0]])
    supply = paper_supply()
    supply.lines[3].stop_ids = ["Y", "Q"]
    with pytest.raises(SupplyError, match="unknown stop 'Q'"):
        build_graph(supply, [[0.0, 0.0]])


def test_stop_nobody_can_walk_to_carries_nobody():
    supply = paper_supply()
    # zones near A and B, and a line far away from both
    supply.stops += [TransitStop("F1", "far", 0.0, 50 * KM), TransitStop("F2", "far", KM, 50 * KM)]
    supply.lines.append(_line("far", ["F1", "F2"], [1], 2))
    graph = build_graph(supply, [[0.0, 0.0], [3 * KM, 0.0]], PAPER)
    result = assign_transit(graph, np.array([[0.0, 5.0], [3.0, 0.0]]))
    assert result.line_loads()[4].sum() == 0.0
    assert result.line_boardings()[:4].sum() > 0
    assert (graph.kind == BOARD).sum() == 7


def test_destinations_in_chunks_give_the_same_assignment_with_progress():
    """The skims of a large city run in chunks of destination zones with progress: any chunk
    size gives the volumes and skims of one pass over every destination."""
    zones = [[k * KM, 0.0] for k in range(4)]  # at A, X, Y and B
    graph = build_graph(paper_supply(), zones, PAPER)
    demand = np.random.default_rng(7).uniform(0.0, 3.0, (4, 4))
    whole = assign_transit(graph, demand, chunk_destinations=4)
    seen = []
    chunked = assign_transit(graph, demand, lambda f, s: seen.append((f, s)), chunk_destinations=1)
    np.testing.assert_allclose(chunked.volume, whole.volume, rtol=1e-12, atol=1e-12)
    for name, matrix in whole.skims.items():
        np.testing.assert_array_equal(chunked.skims[name], matrix)
    assert whole.volume.sum() > 0 and np.isfinite(whole.skims["generalized_cost_s"]).sum() > 4
    assert [f for f, _ in seen] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert seen[-1][1] == "4 of 4 destination zones"
