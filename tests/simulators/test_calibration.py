"""OD matrix estimation against link counts with a known truth (pure engines, no Django).

Counts are the equilibrium volumes of a known matrix (Sioux Falls' published trip table;
a grid city with traffic across its edge); the estimator starts from a perturbed prior and
must fit the counts (GEH < 5 on >= 85 % of counted links) and move the matrix toward the
truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from simulators.calibration import OdmeParams, estimate_demand, fit_report, geh
from simulators.calibration.shares import dense_shares, equilibrium_shares
from simulators.common.params import ParamError
from simulators.traffic.demand import ExternalParameters, combine, external_demand
from simulators.traffic.network import Demand
from simulators.traffic.osm import network_from_graph, node_index
from simulators.traffic.tntp import read_net, read_trips

TNTP = Path(os.environ.get("CITYTWIN_DATA", "/work/shared/data")) / "tntp"
#: assignment settings of the tests: tight enough that counts are the truth's equilibrium
FAST = {"gap": 1e-5, "outer_iterations": 8, "inner_iterations": 5}


@pytest.fixture(scope="module")
def sioux_falls():
    net = read_net(TNTP / "SiouxFalls_net.tntp")
    truth = read_trips(TNTP / "SiouxFalls_trips.tntp")
    volume, shares, _ = equilibrium_shares(net, truth, gap=1e-7)
    rng = np.random.default_rng(16)
    # a prior that is 15 % short overall and wrong cell by cell (log-normal, sd 0.3)
    noisy = truth.flow * 0.85 * np.exp(rng.normal(0.0, 0.3, len(truth.flow)))
    prior = Demand(truth.origin, truth.destination, noisy)
    return net, truth, prior, volume, shares


def test_geh_matches_the_formula_and_the_report_counts_links_under_5():
    assert geh(np.array([100.0]), np.array([100.0]))[0] == 0.0
    # M = 1200, C = 1000: sqrt(2 x 200^2 / 2200) = 6.03
    assert geh(np.array([1200.0]), np.array([1000.0]))[0] == pytest.approx(6.0302, abs=1e-4)
    assert geh(np.array([0.0]), np.array([0.0]))[0] == 0.0
    report = fit_report(np.array([1000.0, 500.0, 200.0]), np.array([1200.0, 510.0, 200.0]))
    assert report.share_geh_below_5 == pytest.approx(2 / 3)
    assert report.rmse_veh_h == pytest.approx(np.sqrt((200**2 + 10**2) / 3))
    assert not report.passes
    assert report.pairs()[0] == {
        "link": 0, "observed_veh_h": 1000.0, "modelled_veh_h": 1200.0,
        "geh": pytest.approx(6.0302, abs=1e-4),
    }  # fmt: skip


def test_origin_shares_reproduce_the_equilibrium_and_equal_the_dense_reference(sioux_falls):
    net, truth, _, volume, shares = sioux_falls
    p = dense_shares(shares)
    # the decomposition carries every trip: p g = the equilibrium volumes
    assert np.allclose(shares.load(truth.flow), volume, rtol=1e-9, atol=1e-6)
    assert np.allclose(p @ truth.flow, volume, rtol=1e-9, atol=1e-6)
    x = np.random.default_rng(0).random(net.n_links)
    assert np.allclose(shares.od_mean(x), p.T @ x, rtol=1e-12, atol=1e-12)
    # every pair's shares leave its origin exactly once
    assert np.allclose(p.sum(axis=0) > 0, True)


@pytest.mark.parametrize("share_counted", [1.0, 1 / 3])
def test_estimation_fits_the_counts_and_moves_toward_the_truth(sioux_falls, share_counted):
    net, truth, prior, volume, _ = sioux_falls
    rng = np.random.default_rng(3)
    links = np.sort(rng.choice(net.n_links, round(share_counted * net.n_links), replace=False))
    result = estimate_demand(net, prior, links, volume[links], OdmeParams(**FAST))
    assert result.before.share_geh_below_5 < 0.85  # the prior fails the acceptance rule
    assert result.after.share_geh_below_5 >= 0.85
    assert result.after.rmse_veh_h < 0.2 * result.before.rmse_veh_h
    before = np.linalg.norm(prior.flow - truth.flow)
    after = np.linalg.norm(result.demand.flow - truth.flow)
    assert after < before
    # the total moves toward the truth's
    assert abs(result.demand.total - truth.total) < abs(prior.total - truth.total)
    # structure kept: no negative trips, every cell within max_factor of the prior
    assert np.all(result.demand.flow >= 0)
    assert np.all(result.factors <= 5.0 + 1e-9) and np.all(result.factors >= 0.2 - 1e-9)
    # the reported fit is the equilibrium of the returned matrix
    check, _, _ = equilibrium_shares(net, result.demand, gap=1e-7)
    assert np.allclose(check[links], result.after.modelled_veh_h, rtol=2e-3)


def _grid_with_cut_roads(n: int = 6, spacing_m: float = 300.0) -> nx.MultiDiGraph:
    """An n x n grid of secondary streets whose middle rows and columns run past the edge."""
    G = nx.MultiDiGraph(crs="EPSG:3067")
    for i in range(n):
        for j in range(n):
            G.add_node((i, j), x=i * spacing_m, y=j * spacing_m)

    def street(a, b, highway="secondary"):
        for u, v in ((a, b), (b, a)):
            G.add_edge(u, v, highway=highway, length=spacing_m, capacity=1200.0, speed_kph=40.0)

    for i in range(n):
        for j in range(n):
            if i + 1 < n:
                street((i, j), (i + 1, j))
            if j + 1 < n:
                street((i, j), (i, j + 1))
    mid = n // 2
    for name, (x, y), end in (
        ("w", (-1, mid), (0, mid)), ("e", (n, mid), (n - 1, mid)),
        ("s", (mid, -1), (mid, 0)), ("n", (mid, n), (mid, n - 1)),
    ):  # fmt: skip
        G.add_node(name, x=x * spacing_m, y=y * spacing_m)
        street(name, end, "primary")
    return G


def test_external_zones_are_adjusted_toward_the_truth():
    G = _grid_with_cut_roads()
    net, _ = network_from_graph(G)
    index = node_index(G)
    zones = np.array([index[(i, j)] for i in (1, 4) for j in (1, 4)])
    rng = np.random.default_rng(7)
    matrix = rng.uniform(20, 60, (len(zones), len(zones)))
    np.fill_diagonal(matrix, 0.0)
    internal = Demand.from_dense(matrix, zones)
    internal = Demand(
        internal.origin, internal.destination, internal.flow,
        info={"zone_nodes": zones, "zone_productions_day": matrix.sum(1),
              "zone_attractions_day": matrix.sum(0)},
    )  # fmt: skip
    external = external_demand(G, internal, ExternalParameters())
    assert len(external.info["gateways"]["index"]) == 4
    # the truth: 60 % more traffic across the edge than the road-class rule says
    truth = combine(internal, Demand(external.origin, external.destination, external.flow * 1.6))
    prior = combine(internal, external)
    volume, _, _ = equilibrium_shares(net, truth, gap=1e-7)
    links = np.flatnonzero(volume > 1.0)
    result = estimate_demand(net, prior, links, volume[links], OdmeParams(**FAST))
    assert result.before.share_geh_below_5 < 0.85
    assert result.after.share_geh_below_5 >= 0.85
    is_external = np.arange(len(prior.flow)) >= len(internal.flow)
    est_external = result.demand.flow[is_external].sum()
    assert abs(est_external - truth.flow[is_external].sum()) < 0.25 * abs(
        prior.flow[is_external].sum() - truth.flow[is_external].sum()
    )


def test_bad_counts_are_refused_naming_the_field(sioux_falls):
    net, _, prior, _, _ = sioux_falls
    with pytest.raises(ParamError) as err:
        estimate_demand(net, prior, [0, 0], [100.0, 120.0])
    assert err.value.field == "links"
    with pytest.raises(ParamError) as err:
        estimate_demand(net, prior, [0, 1], [100.0, -1.0])
    assert err.value.field == "counts"
    with pytest.raises(ParamError) as err:
        estimate_demand(net, prior, [net.n_links], [100.0])
    assert err.value.field == "links"
    with pytest.raises(ParamError) as err:
        OdmeParams(weighting="none")
    assert err.value.field == "weighting"
