"""Engine-level behaviour: a frequent line along a congested corridor takes car trips off it;
removing a line does the opposite; a line nobody can walk to carries nobody."""

import numba
import numpy as np
import pytest

from simulators.traffic import Network
from simulators.transit import TransitLine, TransitStop, TransitSupply
from simulators.transit.model import accessibility, door_to_door_s, run_model
from simulators.transit.params import ModeChoiceParams

N_ZONES = 6
SPACING_M = 1500.0


def corridor():
    """Six zones along a two-way arterial (1.5 km blocks, 40 km/h, 900 veh/h per direction)
    with a slower parallel street 400 m north; zones join the arterial by short connectors.

    Nodes: zones 0..5 (at y = -30 m), arterial 6..11 (y = 0), parallel street 12..17
    (y = 400 m).
    """
    xs = np.arange(N_ZONES) * SPACING_M
    node_xy = np.concatenate(
        [np.column_stack([xs, np.full(N_ZONES, -30.0)]), np.column_stack([xs, np.zeros(N_ZONES)]),
         np.column_stack([xs, np.full(N_ZONES, 400.0)])]
    )  # fmt: skip
    tail, head, t0, cap, length = [], [], [], [], []

    def link(a, b, minutes, capacity, metres):
        for u, v in ((a, b), (b, a)):
            tail.append(u)
            head.append(v)
            t0.append(minutes)
            cap.append(capacity)
            length.append(metres)

    for k in range(N_ZONES):
        link(k, 6 + k, 0.05, 10_000.0, 30.0)  # zone connector
        link(6 + k, 12 + k, 0.6, 600.0, 400.0)  # cross street
        if k + 1 < N_ZONES:
            link(6 + k, 7 + k, SPACING_M / 1000 / 40 * 60, 900.0, SPACING_M)
            link(12 + k, 13 + k, SPACING_M / 1000 / 25 * 60, 500.0, SPACING_M)
    network = Network(
        tail=tail, head=head, free_flow_time=t0, capacity=cap, alpha=None, beta=None,
        length=length, toll=None, lanes=None, open=None, n_nodes=3 * N_ZONES,
        n_zones=N_ZONES, first_thru_node=N_ZONES,
    )  # fmt: skip
    # every zone sends 400 persons/h to every other (heavier over longer distances)
    dist = np.abs(xs[:, None] - xs[None, :])
    trips = 300.0 + 0.1 * dist
    np.fill_diagonal(trips, 0.0)
    return network, node_xy, np.arange(N_ZONES), trips


def _stops(prefix, y):
    return [TransitStop(f"{prefix}{k}", f"{prefix} stop {k}", k * SPACING_M, y)
            for k in range(N_ZONES)]  # fmt: skip


def _line(line_id, stop_ids, headway_s, kph=30.0):
    n = len(stop_ids) - 1
    return TransitLine(line_id, f"Line {line_id}", "tram", stop_ids,
                       [SPACING_M / (kph / 3.6)] * n, headway_s, 2000.0, [SPACING_M] * n)  # fmt: skip


def supply_with(lines, extra_stops=()):
    stops = _stops("c", 20.0) + list(extra_stops)
    return TransitSupply(stops, lines, "07-09")


def corridor_lines(headway_s=300.0):
    ids = [f"c{k}" for k in range(N_ZONES)]
    return [_line("east", ids, headway_s), _line("west", ids[::-1], headway_s)]


def arterial_volume(result):
    """Car volume (veh/h) on the arterial's corridor links, summed."""
    net = result.modes.car.network
    mask = (
        (net.tail >= N_ZONES)
        & (net.tail < 2 * N_ZONES)
        & (net.head >= N_ZONES)
        & (net.head < 2 * N_ZONES)
    )
    return float(result.modes.car.volume[mask].sum())


MP = ModeChoiceParams(max_iter=60, share_tolerance=1e-3)


@pytest.fixture(scope="module")
def runs():
    network, node_xy, zones, trips = corridor()

    def run(supply):
        return run_model(network, node_xy, zones, trips, supply, mode_params=MP, gap=1e-4)

    slow = [_line("slow", [f"c{k}" for k in range(N_ZONES)], 1800.0, kph=15.0)]
    # a network of 60 links: threads cost more than they give on a busy 2-core machine
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return {
            "none": run(supply_with(slow)),
            "line": run(supply_with(slow + corridor_lines())),
            "far": run(
                supply_with(
                    slow + [_line("far", ["f0", "f5"], 120.0, kph=60.0)],
                    [
                        TransitStop("f0", "far 0", 0.0, 9000.0),
                        TransitStop("f5", "far 5", 5 * SPACING_M, 9000.0),
                    ],
                )
            ),  # fmt: skip
        }
    finally:
        numba.set_num_threads(threads)


def test_the_loop_converges(runs):
    for r in runs.values():
        assert r.modes.converged
        assert r.modes.history["share_gap"][-1] < 1e-3
        assert r.modes.car.relative_gap < 1e-4


def test_frequent_line_along_a_congested_corridor_takes_cars_off_it(runs):
    before, after = runs["none"], runs["line"]
    assert before.modes.car.volume_capacity_ratio.max() > 0.9  # the corridor is congested
    assert arterial_volume(after) < 0.9 * arterial_volume(before)
    shares_before, shares_after = before.modes.shares(), after.modes.shares()
    assert shares_after["transit"] > shares_before["transit"] + 0.05
    assert shares_after["car"] < shares_before["car"] - 0.03
    loads = after.transit.line_loads()
    assert loads[1].max() > 100 and loads[2].max() > 100  # persons/h on the new line
    # persons who left the car are on transit: person trips are conserved
    total = after.modes.person_trips.sum()
    assert total == pytest.approx(before.modes.person_trips.sum())
    assert after.transit.summary()["trips"] == pytest.approx(after.modes.person_trips[1].sum())


def test_removing_a_line_puts_cars_back(runs):
    # "line" with the corridor lines removed is "none": car volumes rise again
    assert arterial_volume(runs["none"]) > arterial_volume(runs["line"]) * 1.1
    assert runs["none"].modes.shares()["transit"] < runs["line"].modes.shares()["transit"]


def test_a_line_nobody_can_walk_to_carries_nobody(runs):
    far = runs["far"]
    assert far.transit.line_loads()[1].sum() == 0.0
    assert far.transit.line_boardings()[1] == 0.0
    # and it changes nothing for cars
    assert arterial_volume(far) == pytest.approx(arterial_volume(runs["none"]), rel=1e-3)


def test_accessibility_grows_with_the_line(runs):
    people = np.full(N_ZONES, 1000.0)
    jobs = np.arange(N_ZONES) * 100.0
    buildings = np.array([0, 2, 5, -1])
    before = accessibility(door_to_door_s(runs["none"].transit), buildings, people, jobs)
    after = accessibility(door_to_door_s(runs["line"].transit), buildings, people, jobs)
    assert np.all(after[0] >= before[0]) and after[0][0] > before[0][0]
    assert after[1][0] > before[1][0]
    assert after[0][3] == 0.0  # a building outside every zone reaches nobody
    assert before[0][0] >= 1000.0  # its own zone counts
