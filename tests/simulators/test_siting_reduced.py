"""Siting at scale: heuristic incumbent, LP bound, reduced assignment priced back to the full model.

The reduced model starts each demand point with its ``nearest_k`` nearest sites only; pricing
against the LP duals and the incumbent's gap must give the full model's optimum (checked against
``method="full"``, every pair in one MIP, and against enumeration of every site set).
"""

from __future__ import annotations

import numpy as np
import pytest

from simulators.siting import SitingParams, p_median_reference, solve_p_median
from simulators.siting.heuristic import assign, greedy_sites, interchange


def _instance(seed: int, n: int, m: int, p: int, slack: float = 1.1):
    """Points and sites in a 5 km square, travel at 10 m/s, capacities that bind."""
    rng = np.random.default_rng(seed)
    xy_d, xy_s = rng.uniform(0, 5000, (n, 2)), rng.uniform(0, 5000, (m, 2))
    cost = np.hypot(*(xy_d[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) / 10.0
    w = rng.integers(1, 40, n).astype(float)
    cap = np.round(slack * w.sum() / p * rng.uniform(0.7, 1.2, m))
    return w, cost, cap


def test_reduced_model_with_pricing_equals_the_full_model():
    # 70 points x 14 sites, p = 4, capacities bind: each point starts with its 2 nearest sites
    # only, so the optimum needs pairs that pricing has to add back
    w, cost, cap = _instance(5, 70, 14, 4)
    for capacities in (cap, None):
        full = solve_p_median(w, cost, 4, capacities, SitingParams(method="full"))
        reduced = solve_p_median(w, cost, 4, capacities, SitingParams(nearest_k=2))
        assert full.optimal and reduced.optimal and reduced.bound_kind == "mip"
        assert reduced.objective_person_s == pytest.approx(full.objective_person_s, rel=1e-9)
        assert reduced.mip_gap == 0.0 and reduced.gap_words.startswith("proven optimal")
        assert reduced.stats["columns_priced"] > 0  # pricing added pairs ...
        assert reduced.stats["columns"] < reduced.stats["n_pairs"]  # ... and left some out
        assert np.all(reduced.site_load <= (cap if capacities is not None else np.inf) + 1e-6)
        assert reduced.assignment.groupby("demand").size().max() == 1  # one site per point
    # capacitated: pairs beyond the 2 nearest carry people in the optimum
    far = _far_people(w, cost, cap)
    assert far > 0


def _far_people(w, cost, cap) -> float:
    """People sent beyond their 2 nearest sites in the capacitated optimum."""
    result = solve_p_median(w, cost, 4, cap, SitingParams(nearest_k=2))
    rank = np.argsort(np.argsort(cost, axis=1), axis=1)
    a = result.assignment
    return float(a["people"][rank[a["demand"], a["site"]] >= 2].sum())


def test_split_reduced_model_bound_and_objective_bracket_the_full_optimum():
    # split people: the reduced model's answer is feasible (>= the optimum) and its stated
    # bound (the Lagrangian's) is <= the optimum, which enumeration of every site set gives
    w, cost, cap = _instance(8, 30, 8, 3)
    want, _ = p_median_reference(w, cost, 3, cap)
    got = solve_p_median(w, cost, 3, cap, SitingParams(single_assignment=False, nearest_k=2))
    assert got.objective_person_s >= want - 1e-6
    assert got.lower_bound_person_s <= want + 1e-6
    assert got.mip_gap == pytest.approx(
        (got.total_person_s - got.lower_bound_person_s) / got.total_person_s, abs=1e-12
    )
    full = solve_p_median(w, cost, 3, cap, SitingParams(single_assignment=False, method="full"))
    assert full.objective_person_s == pytest.approx(want, rel=1e-9)


def _heuristic(w, capacities, cost, single: bool):
    start = assign(w, capacities, cost, greedy_sites(w, capacities, cost, 4, 1e6), single, 1e6)
    better = interchange(w, capacities, cost, start, single, 1e6, deadline=np.inf)
    assert not better.unserved.any()  # the high penalty seats everyone
    assert better.total_person_s <= start.total_person_s
    # the heuristic's own figure is its people x times; everyone is seated within capacity
    load = np.bincount(
        better.site, weights=w[better.demand] * better.share, minlength=cost.shape[1]
    )
    assert better.total_person_s == pytest.approx(
        float(np.sum(w[better.demand] * better.share * cost[better.demand, better.site]))
    )
    assert np.all(load <= (capacities if capacities is not None else np.inf) + 1e-6)
    assert np.allclose(np.bincount(better.demand, better.share, minlength=len(w)), 1.0)
    return better


def test_heuristic_incumbent_and_bound_are_consistent():
    w, cost, cap = _instance(2, 50, 10, 4)
    # whole assignments (capacitated single, uncapacitated): bound <= answer <= incumbent, and
    # the optimum is proven with gap 0
    for capacities in (cap, None):
        heuristic = _heuristic(w, capacities, cost, True)
        result = solve_p_median(w, cost, 4, capacities, SitingParams(nearest_k=4))
        assert result.total_person_s <= result.heuristic_person_s + 1e-6
        assert result.heuristic_person_s <= heuristic.total_person_s + 1e-6
        assert result.optimal and result.mip_gap == 0.0 and result.bound_kind == "mip"
        assert result.lower_bound_person_s == pytest.approx(result.total_person_s, rel=1e-9)
        full = solve_p_median(w, cost, 4, capacities, SitingParams(method="full"))
        assert result.objective_person_s == pytest.approx(full.objective_person_s, rel=1e-9)
        assert full.lower_bound_person_s <= full.total_person_s + 1e-6
    # split: the stated bound (the Lagrangian's) is below the answer, the answer below the incumbent
    _heuristic(w, cap, cost, False)
    split = solve_p_median(w, cost, 4, cap, SitingParams(single_assignment=False, nearest_k=4))
    assert split.bound_kind == "lagrangian"
    assert split.lower_bound_person_s <= split.total_person_s <= split.heuristic_person_s + 1e-6


def test_time_limit_returns_the_best_solution_and_its_gap():
    # 400 x 60, p = 12, single assignment: 1 s is too short to prove it on a busy machine,
    # yet the answer is a feasible siting with its gap stated against a valid bound
    w, cost, cap = _instance(4, 400, 60, 12)
    result = solve_p_median(w, cost, 12, cap, SitingParams(time_limit_s=1.0))
    assert len(result.sites) == 12
    assert result.unserved_people.sum() == 0.0 and result.served_people == pytest.approx(w.sum())
    assert np.all(result.site_load <= cap + 1e-6)
    assert result.lower_bound_person_s <= result.total_person_s + 1e-6
    assert (result.mip_gap == 0.0) == result.gap_words.startswith("proven optimal")
    assert result.mip_gap == pytest.approx(
        (result.total_person_s - result.lower_bound_person_s) / result.total_person_s
    )
