"""Spatial-queue loading against kinematic-wave / queueing analytics."""

import numpy as np
import pytest

from simulators.dynamics import (
    ARRIVED,
    NO_ROUTE,
    CapacityEvent,
    Demand,
    Destinations,
    LoadingParams,
    from_arrays,
    simulate,
)


def _chain(lengths, speed, caps, storage=None):
    n = len(lengths)
    return from_arrays(range(n), range(1, n + 1), lengths, speed, caps, storage_veh=storage)


def _to(node, n_nodes):
    mask = np.zeros((1, n_nodes), dtype=bool)
    mask[0, node] = True
    return Destinations(mask)


def _all_at(origin, n, t=0.0):
    return Demand(np.full(n, origin), np.full(n, t), np.zeros(n, dtype=int))


def test_free_flow_time_on_empty_road_including_short_links():
    lengths = [400.0, 7.0, 12.0, 950.0, 3.0]  # short OSM-like links in between
    net = from_arrays(range(5), range(1, 6), lengths, 13.9, 0.5, short_link_m=25.0)
    assert np.isinf(net.storage_veh[[1, 2, 4]]).all()
    res = simulate(net, _all_at(0, 1, t=17.0), _to(5, 6), LoadingParams(dt_s=5.0))
    assert res.status[0] == ARRIVED
    assert res.arrival_s[0] == pytest.approx(17.0 + sum(lengths) / 13.9, abs=1e-9)


@pytest.mark.parametrize("dt", [1.0, 2.0, 5.0])
def test_single_path_clears_at_free_flow_plus_demand_over_capacity(dt):
    net = _chain([600.0, 900.0], 15.0, 0.5)
    n = 120
    res = simulate(net, _all_at(0, n), _to(2, 3), LoadingParams(dt_s=dt, horizon_s=5000))
    tau = 1500.0 / 15.0
    assert (res.status == ARRIVED).all()
    clear = res.arrival_s.max()
    # fluid answer tau + N/c; the credit rule lets a fresh link start with up to
    # max(1, c dt) + 1 vehicles of credit
    burst = max(1.0, 0.5 * dt) + 1.0
    assert tau + (n - burst) / 0.5 - 1e-9 <= clear <= tau + n / 0.5 + dt
    # FIFO on a single path: vehicles arrive in the order they started (index order)
    assert np.all(np.diff(res.arrival_s) >= 0)
    # and never faster than capacity over any window of 20 arrivals
    assert (res.arrival_s[20:] - res.arrival_s[:-20]).min() >= (20 - burst) / 0.5


@pytest.mark.parametrize("spill", [False, True])
def test_mid_chain_bottleneck_governs_clearance_and_queues_upstream(spill):
    # links 0, 1, [2 = bottleneck at a quarter of the capacity], 3
    caps = [1.0, 1.0, 0.25, 1.0]
    # no spill: point queues; spill: link 1 holds 8 vehicles only
    storage = [np.inf, 8.0 if spill else np.inf, np.inf, np.inf]
    net = _chain([500.0, 300.0, 400.0, 500.0], 10.0, caps, storage)
    n = 100
    res = simulate(net, _all_at(0, n), _to(4, 5), LoadingParams(dt_s=2.0, sample_interval_s=10.0))
    tau = 1700.0 / 10.0
    clear = res.arrival_s.max()
    assert tau + (n - 2.0) / 0.25 - 1e-9 <= clear <= tau + n / 0.25 + 4.0
    # discharge downstream of the bottleneck at its capacity (kinematic wave: q = c_b)
    head = np.sort(res.arrival_s)
    rate = (len(head) - 11) / (head[-1] - head[10])
    assert rate == pytest.approx(0.25, rel=0.02)
    assert res.queue_max_veh[1] > 0  # queue just upstream of the bottleneck
    assert res.queue_max_veh[3] == 0  # none downstream
    if spill:
        assert res.queue_max_veh[1] <= 8
        assert res.queue_max_veh[0] > 0  # full link 1 spills back onto link 0
    else:
        assert res.queue_max_veh[0] == 0


def test_unreachable_destination_reported_not_dropped():
    net = from_arrays([0, 1], [1, 0], 100.0, 10.0, 1.0, n_nodes=3)
    res = simulate(net, _all_at(0, 3), _to(2, 3), LoadingParams(horizon_s=600))
    assert (res.status == NO_ROUTE).all()
    assert np.isnan(res.arrival_s).all()
    assert len(res.not_arrived) == 3


def test_horizon_too_short_leaves_vehicles_on_network_reported():
    net = _chain([1000.0], 10.0, 0.1)
    res = simulate(net, _all_at(0, 50), _to(1, 2), LoadingParams(dt_s=5.0, horizon_s=300))
    arrived = (res.status == ARRIVED).sum()
    assert 0 < arrived < 50
    assert len(res.not_arrived) == 50 - arrived


def test_horizon_extends_itself_until_everyone_is_out_up_to_the_cap():
    net = _chain([1000.0], 10.0, 0.1)
    # 50 vehicles at 0.1 veh/s need about 600 s; the first horizon is 300 s
    params = LoadingParams(dt_s=5.0, horizon_s=300, max_horizon_s=3600, record_occupancy=True)
    res = simulate(net, _all_at(0, 50), _to(1, 2), params)
    assert (res.status == ARRIVED).all() and not res.capped
    assert res.horizon_s == 600 and res.simulated_s >= res.arrival_s.max()
    # the replay covers the extended horizon: cars on the road after the first 300 s
    assert res.occupancy_veh.shape[0] == int(res.simulated_s // 60) >= 9
    assert res.occupancy_veh[5:, 0].min() > 0
    capped = simulate(
        net, _all_at(0, 50), _to(1, 2), LoadingParams(horizon_s=100, max_horizon_s=400)
    )
    assert capped.capped and capped.horizon_s == 400
    assert 0 < (capped.status == ARRIVED).sum() < 50


def _two_routes():
    # 0 -> 1 -> 3 short but narrow, 0 -> 2 -> 3 longer and wide
    return from_arrays(
        [0, 1, 0, 2], [1, 3, 2, 3], [500.0, 500.0, 900.0, 900.0], 10.0, [0.2, 0.2, 1.0, 1.0]
    )


def test_rerouting_on_current_times_uses_the_second_route():
    net = _two_routes()
    n = 300
    fixed = simulate(net, _all_at(0, n), _to(3, 4), LoadingParams(reroute_interval_s=None))
    rerouted = simulate(net, _all_at(0, n), _to(3, 4), LoadingParams(reroute_interval_s=60))
    assert (fixed.status == ARRIVED).all() and (rerouted.status == ARRIVED).all()
    assert fixed.arrival_s.max() >= 100 + (n - 1) / 0.2 - 1e-6  # all on the narrow route
    assert rerouted.arrival_s.max() < 0.5 * fixed.arrival_s.max()


def test_timed_closure_diverts_and_reopens():
    net = _two_routes()
    closed = CapacityEvent(np.array([0]), start_s=0.0, end_s=600.0)
    res = simulate(net, _all_at(0, 1), _to(3, 4), LoadingParams(reroute_interval_s=None), [closed])
    assert res.arrival_s[0] == pytest.approx(180.0)  # took the long route
    late = Demand(np.array([0]), np.array([700.0]), np.array([0]))
    res = simulate(net, late, _to(3, 4), LoadingParams(reroute_interval_s=None), [closed])
    assert res.arrival_s[0] == pytest.approx(800.0)  # short route open again


def test_merge_shares_downstream_capacity():
    # two approaches 0->2 and 1->2 merge into 2->3 of capacity 0.5 veh/s
    net = from_arrays([0, 1, 2], [2, 2, 3], 200.0, 10.0, [1.0, 1.0, 0.5])
    n = 60
    dem = Demand(np.r_[np.zeros(n), np.ones(n)].astype(int), np.zeros(2 * n), np.zeros(2 * n, int))
    res = simulate(net, dem, _to(3, 4), LoadingParams(dt_s=2.0))
    a, b = res.arrival_s[:n], res.arrival_s[n:]
    assert res.arrival_s.max() == pytest.approx(40 + (2 * n) / 0.5, abs=6.0)
    # both approaches are served at about half the bottleneck capacity
    assert abs(np.median(a) - np.median(b)) < 10.0
