"""Shelter siting engine: capacitated p-median (HiGHS) against spopt, enumeration and hand sums."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from simulators.common.params import ParamError
from simulators.siting import (
    SitingInfeasible,
    SitingParams,
    network_for,
    p_median_reference,
    snap_to_nodes,
    solve_p_median,
    travel_times_s,
)

REFERENCE = Path(__file__).parent / "data" / "siting_spopt_reference.json"

# three demand points on a line (people 10, 10, 5 at 0, 1 and 10 s) and three sites at 0, 10
# and 4 s holding 12, 100 and 5 people
LINE_W = np.array([10.0, 10.0, 5.0])
LINE_COST = np.abs(np.array([0.0, 1.0, 10.0])[:, None] - np.array([0.0, 10.0, 4.0])[None, :])
LINE_CAP = np.array([12.0, 100.0, 5.0])


def test_objective_equals_spopt_on_the_same_instance():
    ref = json.loads(REFERENCE.read_text())
    w, cost, cap = (np.array(ref[k], float) for k in ("weights", "cost_s", "capacities"))
    for kind, capacities in (("uncapacitated", None), ("capacitated", cap)):
        result = solve_p_median(w, cost, ref["p"], capacities, SitingParams(mip_rel_gap=0.0))
        assert result.optimal
        assert abs(result.objective_person_s - ref["spopt"][kind]["objective_person_s"]) < 1e-6
        assert result.sites.tolist() == ref["spopt"][kind]["sites"]
    # the instance's capacities bind: the capacitated optimum costs more than the free one
    free = ref["spopt"]["uncapacitated"]["objective_person_s"]
    assert ref["spopt"]["capacitated"]["objective_person_s"] > free + 1.0


def test_capacitated_case_by_hand():
    # uncapacitated p=2: sites 0 and 1, only the second point travels (10 people x 1 s) = 10
    free = solve_p_median(LINE_W, LINE_COST, 2)
    assert free.sites.tolist() == [0, 1] and free.objective_person_s == pytest.approx(10.0)
    # site 0 holds 12: people may split: 10 + 2 stay (2 x 1 s), 8 go to site 1 (8 x 9 s) = 74
    split = solve_p_median(LINE_W, LINE_COST, 2, LINE_CAP, SitingParams(single_assignment=False))
    assert split.objective_person_s == pytest.approx(74.0, abs=1e-9)
    assert split.site_load.tolist() == pytest.approx([12.0, 13.0, 0.0])
    # one site per point: the second point's 10 people all go to site 1 (10 x 9 s) = 90
    whole = solve_p_median(LINE_W, LINE_COST, 2, LINE_CAP)
    assert whole.objective_person_s == pytest.approx(90.0, abs=1e-9)
    assert whole.site_load.tolist() == pytest.approx([10.0, 15.0, 0.0])
    assert whole.summary()["max_travel_time_min"] == pytest.approx(9.0 / 60.0)
    assert whole.summary()["capacity_used_share"] == pytest.approx(25.0 / 112.0)


def test_equals_enumeration_on_random_instances():
    rng = np.random.default_rng(7)
    for _ in range(2):
        w = rng.integers(1, 30, 14).astype(float)
        cost = rng.uniform(10, 900, (14, 7))
        cost[rng.random(cost.shape) < 0.1] = np.inf  # some pairs have no route
        cost[:, 0] = rng.uniform(10, 900, 14)  # ... but every point reaches site 0
        cap = rng.uniform(0.3, 0.8, 7) * w.sum()
        for capacities in (None, cap):
            want, sites = p_median_reference(w, cost, 3, capacities)
            got = solve_p_median(w, cost, 3, capacities, SitingParams(single_assignment=False))
            assert got.objective_person_s == pytest.approx(want, rel=1e-9)
            assert np.all(got.site_load <= (cap if capacities is not None else np.inf) + 1e-6)


def test_short_capacity_is_infeasible_or_unserved():
    with pytest.raises(SitingInfeasible, match="hold 15 people, fewer than the 25"):
        solve_p_median(LINE_W, LINE_COST, 2, np.array([5.0, 10.0, 5.0]))
    params = SitingParams(allow_unserved=True, single_assignment=False)
    result = solve_p_median(LINE_W, LINE_COST, 2, np.array([5.0, 10.0, 5.0]), params=params)
    assert result.unserved_people.sum() == pytest.approx(10.0)  # 25 people, 15 places open
    assert result.served_people == pytest.approx(15.0)


def test_bad_inputs_name_the_field():
    with pytest.raises(ParamError) as exc:
        solve_p_median(LINE_W, LINE_COST, 4)
    assert exc.value.field == "p"
    with pytest.raises(ParamError) as exc:
        solve_p_median(-LINE_W, LINE_COST, 2)
    assert exc.value.field == "weights"
    with pytest.raises(ParamError) as exc:
        solve_p_median(LINE_W, LINE_COST, 2, LINE_CAP[:2])
    assert exc.value.field == "capacities"
    with pytest.raises(ParamError) as exc:
        SitingParams(p=0)
    assert exc.value.field == "p"
    with pytest.raises(ParamError) as exc:
        SitingParams(mip_rel_gap=2.0)
    assert exc.value.field == "mip_rel_gap"


def _grid_graph(closed=()) -> nx.MultiDiGraph:
    """4 x 4 grid, 100 m blocks, 36 km/h (10 m/s) both ways; ``closed`` roads in one direction."""
    G = nx.MultiDiGraph(crs="EPSG:3067")
    for i in range(4):
        for j in range(4):
            G.add_node(4 * i + j, x=100.0 * j, y=100.0 * i)
    rng = np.random.default_rng(3)
    for i in range(4):
        for j in range(4):
            for di, dj in ((0, 1), (1, 0)):
                if i + di < 4 and j + dj < 4:
                    a, b = 4 * i + j, 4 * (i + di) + j + dj
                    speed = float(rng.choice([30.0, 36.0, 50.0]))
                    for u, v in ((a, b), (b, a)):
                        G.add_edge(u, v, length=100.0, speed_kph=speed, highway="residential",
                                   closed=(u, v) in closed)  # fmt: skip
    return G


def test_travel_times_equal_networkx_dijkstra():
    G = _grid_graph(closed={(0, 1), (1, 0)})
    net = network_for(G, "car")
    origins = snap_to_nodes(net, [0.0, 310.0], [0.0, 290.0])
    sites = snap_to_nodes(net, [100.0, 300.0, 0.0], [0.0, 300.0, 200.0], into=True)
    got = travel_times_s(net, origins, sites)
    H = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        if not d["closed"]:
            H.add_edge(u, v, t=d["length"] / (d["speed_kph"] / 3.6))
    for a, o in enumerate(origins):
        for b, s in enumerate(sites):
            want = nx.dijkstra_path_length(H, net.node_ids[o], net.node_ids[s], weight="t")
            assert got[a, b] == pytest.approx(want, rel=1e-12)
    # the closed road 0-1 makes node 0 -> node 1 a detour of three blocks
    assert got[0, 0] > 250.0 / (50 / 3.6)


def test_strong_rows_for_nearest_sites_only_keep_the_optimum():
    # 60 points x 12 sites: the model with strong rows for each point's 3 nearest sites only
    # (the rest linked through capacity / an aggregated row) has the full model's optimum
    rng = np.random.default_rng(11)
    xy_d, xy_s = rng.uniform(0, 5000, (60, 2)), rng.uniform(0, 5000, (12, 2))
    cost = np.hypot(*(xy_d[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) / 10.0
    w = rng.integers(1, 40, 60).astype(float)
    cap = np.round(1.1 * w.sum() / 4 * rng.uniform(0.7, 1.2, 12))
    for capacities in (None, cap):
        for single in (False, True):
            full = solve_p_median(
                w, cost, 4, capacities, SitingParams(single_assignment=single, method="full")
            )
            reduced = solve_p_median(
                w, cost, 4, capacities,
                SitingParams(single_assignment=single, strong_link_k=3, method="full"),
            )  # fmt: skip
            assert full.optimal and reduced.optimal
            assert reduced.objective_person_s == pytest.approx(full.objective_person_s, rel=1e-9)
            assert np.all(reduced.site_load <= (cap if capacities is not None else np.inf) + 1e-6)
    # the capacities bind: the capacitated optimum costs more than the free one
    assert full.objective_person_s > solve_p_median(w, cost, 4).objective_person_s + 1.0
