"""Quickest-flow bound: analytic cases, Ford-Fulkerson theorem, and validity against the
simulation on random graphs."""

import numpy as np
import pytest
from scipy.optimize import linprog

from simulators.dynamics import Demand, Destinations, LoadingParams, from_arrays, simulate
from simulators.evacuation import max_flow_over_time, network_lower_bound, quickest_flow_steps


def test_two_parallel_routes_t_star_is_14():
    # capacity 2 / transit 2 and capacity 1 / transit 10, 30 units: T* = 14
    # (by T = 14 route 1 delivers 2 x 13 and route 2 1 x 5, 31 >= 30; by 13 only 28)
    sink = np.array([False, True])
    args = (2, [0, 0], [1, 1], [2, 10], [2, 1], [0], [0], [30], sink)
    assert quickest_flow_steps(*args) == 14
    assert max_flow_over_time(*args, 13) == 28


@pytest.mark.parametrize("n,cap,tau", [(30, 2, 3), (7, 3, 0), (100, 7, 12)])
def test_single_arc_quickest_flow(n, cap, tau):
    args = (2, [0], [1], [tau], [cap], [0], [0], [n], np.array([False, True]))
    assert quickest_flow_steps(*args) == tau + int(np.ceil(n / cap)) - 1


def _temporally_repeated_value(n, tails, heads, tau, cap, s, t, T):
    """Ford-Fulkerson: the max flow over time (discrete, horizon T) equals
    max over static s-t flows x of (T + 1)|x| - sum tau_e x_e (LP, independent of the
    time-expanded network)."""
    m = len(tails)
    A = np.zeros((n, m))
    for e, (a, b) in enumerate(zip(tails, heads)):
        A[a, e] -= 1
        A[b, e] += 1
    keep = [v for v in range(n) if v not in (s, t)]
    value = A[t]  # net inflow at t = |x|
    c = -((T + 1) * value - np.asarray(tau, float))
    res = linprog(c, A_eq=A[keep], b_eq=np.zeros(len(keep)), bounds=list(zip([0] * m, cap)))
    return -res.fun


@pytest.mark.parametrize("seed", range(8))
def test_max_flow_over_time_matches_ford_fulkerson(seed):
    rng = np.random.default_rng(seed)
    n = 7
    tails, heads = [], []
    for a in range(n):
        for b in range(n):
            if a != b and b != 0 and a != n - 1 and rng.random() < 0.35:
                tails.append(a), heads.append(b)
    tau = rng.integers(0, 5, len(tails))
    cap = rng.integers(1, 5, len(tails))
    sink = np.zeros(n, bool)
    sink[n - 1] = True
    for T in (3, 8, 15):
        got = max_flow_over_time(n, tails, heads, tau, cap, [0], [0], [10**6], sink, T)
        want = _temporally_repeated_value(n, tails, heads, tau, cap, 0, n - 1, T)
        assert got == pytest.approx(max(want, 0.0), abs=1e-6)


def test_release_times_delay_the_bound():
    args = (2, [0], [1], [5], [1], [0, 0], [0, 20], [3, 3], np.array([False, True]))
    # the last three are released at 20: 20 + 5 + 3 - 1
    assert quickest_flow_steps(*args) == 27


def _random_graph(rng, n_side):
    nodes = n_side * n_side
    tails, heads = [], []
    for i in range(n_side):
        for j in range(n_side):
            a = i * n_side + j
            for di, dj in ((0, 1), (1, 0), (0, -1), (-1, 0)):
                ii, jj = i + di, j + dj
                if 0 <= ii < n_side and 0 <= jj < n_side and rng.random() < 0.85:
                    tails.append(a), heads.append(ii * n_side + jj)
    m = len(tails)
    net = from_arrays(
        tails,
        heads,
        rng.uniform(50, 600, m),
        rng.uniform(5, 20, m),
        rng.uniform(0.1, 1.0, m),
        lanes=rng.integers(1, 3, m),
        n_nodes=nodes,
        short_link_m=60.0,
    )
    return net


@pytest.mark.parametrize("seed", range(22))
def test_simulation_never_beats_the_bound_on_random_graphs(seed):
    rng = np.random.default_rng(100 + seed)
    net = _random_graph(rng, int(rng.integers(4, 8)))
    sink = np.zeros(net.n_nodes, bool)
    sink[rng.choice(net.n_nodes, 2, replace=False)] = True
    n_veh = int(rng.integers(50, 400))
    origin = rng.choice(np.flatnonzero(~sink), n_veh)
    depart = rng.uniform(0, 600, n_veh) * (seed % 2)
    dt = float(rng.choice([1.0, 2.0, 5.0]))
    res = simulate(
        net,
        Demand(origin, depart, np.zeros(n_veh, int)),
        Destinations(sink[None, :]),
        LoadingParams(dt_s=dt, horizon_s=6 * 3600, reroute_interval_s=[None, 120.0][seed % 3 == 0]),
    )
    ok = np.isfinite(res.arrival_s)
    # coarse time-expanded network on a third of the cases
    bound = network_lower_bound(
        net, origin[ok], depart[ok], sink, dt, max_arcs=[10**7, 20_000][seed % 3 == 1]
    )
    if seed % 3 == 1:
        assert bound.step_s > dt
    t = res.arrival_s[ok]
    assert t.max() >= bound.clearance_s - 1e-9
    t90 = np.sort(t)[int(np.ceil(0.9 * len(t))) - 1]
    assert t90 >= bound.t90_s - 1e-9
    # the simulated arrival curve never lies above the earliest-arrival curve
    simulated = np.searchsorted(np.sort(t), bound.curve_s, side="right")
    assert np.all(simulated <= bound.curve_units + 1e-9)
