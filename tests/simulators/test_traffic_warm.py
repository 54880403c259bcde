"""Warm-started what-ifs (``simulators.traffic.warm.reassign``): the same equilibrium as a
run from scratch on the edited network, on the TNTP networks (Sioux Falls, Anaheim)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from simulators.traffic import assign
from simulators.traffic.scenarios import close_links, set_capacity
from simulators.traffic.tntp import read_net, read_trips
from simulators.traffic.warm import reassign

TNTP = (
    Path(
        os.environ.get(
            "CITYTWIN_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
        )
    )
    / "tntp"
)


def tntp_path(name: str) -> Path:
    return TNTP / name


@pytest.fixture(scope="module", params=["SiouxFalls", "Anaheim"])
def base(request):
    network = read_net(tntp_path(f"{request.param}_net.tntp"))
    demand = read_trips(tntp_path(f"{request.param}_trips.tntp"))
    return assign(network, demand, algorithm="bush", gap=1e-6, keep_bushes=True)


def _busiest(result, n):
    net = result.network
    thru = (net.tail >= net.first_thru_node) & (net.head >= net.first_thru_node)
    links = np.flatnonzero(thru)
    return links[np.argsort(-result.volume[links])][:n]


def _balanced(result) -> float:
    """Largest violation of trip conservation at a node, veh/h."""
    net, demand = result.network, result.demand
    served = np.ones(len(demand.flow), dtype=bool)
    served[result.unassignable] = False
    n = net.n_nodes
    balance = np.bincount(net.head, result.volume, n) - np.bincount(net.tail, result.volume, n)
    balance += np.bincount(demand.origin[served], demand.flow[served], n)
    balance -= np.bincount(demand.destination[served], demand.flow[served], n)
    return float(np.abs(balance).max())


@pytest.mark.parametrize("n_closed", [1, 3])
def test_warm_closure_reaches_the_cold_equilibrium(base, n_closed):
    closed = _busiest(base, n_closed)
    edited = close_links(base.network, closed)
    cold = assign(edited, base.demand, algorithm="bush", gap=1e-8)
    warm = reassign(base, edited, gap=1e-8)
    assert warm.converged and cold.converged
    assert warm.history["repaired_bushes"][0] > 0  # the closed links were in bushes
    # both within the duality bound of gap 1e-8: objective - optimum <= gap x TSTT
    assert abs(warm.objective - cold.objective) <= 1e-8 * cold.tstt
    assert np.all(warm.volume[closed] == 0.0)
    assert _balanced(warm) < 1e-6 * base.demand.total
    # the base run is untouched: its bushes still carry flow on the closed links
    assert base.bushes.flow[:, closed].sum() > 0.0


def test_warm_capacity_cut_keeps_every_bush(base):
    edited = set_capacity(base.network, _busiest(base, 2), factor=0.5)
    cold = assign(edited, base.demand, algorithm="bush", gap=1e-8)
    warm = reassign(base, edited, gap=1e-8)
    assert warm.history["repaired_bushes"] == [0]
    assert abs(warm.objective - cold.objective) <= 1e-8 * cold.tstt


def test_warm_closure_that_cuts_off_a_zone_reports_its_trips(base):
    net = base.network
    zone = int(base.demand.destination[-1])  # every link into this zone closed
    edited = close_links(net, np.flatnonzero(net.head == zone))
    cold = assign(edited, base.demand, algorithm="bush", gap=1e-6)
    warm = reassign(base, edited, gap=1e-6)
    assert len(warm.unassignable) > 0
    np.testing.assert_array_equal(warm.unassignable, cold.unassignable)
    assert warm.unassigned_demand == pytest.approx(cold.unassigned_demand)
    assert abs(warm.objective - cold.objective) <= 1e-6 * cold.tstt
    assert _balanced(warm) < 1e-6 * base.demand.total


def test_warm_start_needs_kept_bushes(base):
    plain = assign(base.network, base.demand, algorithm="bush", gap=1e-3)  # no bushes kept
    with pytest.raises(ValueError, match="^base"):
        reassign(plain, base.network)
    other = "Anaheim" if base.network.n_links < 100 else "SiouxFalls"
    with pytest.raises(ValueError, match="^network"):
        reassign(base, read_net(tntp_path(f"{other}_net.tntp")))
