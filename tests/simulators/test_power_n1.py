"""The fast N-1 (pandapower's internal case of the base flow, re-solved per outage) against
the reference (a full pandapower ``runpp`` per outage) on pandapower's mv_oberrhein: the same
loadings of every line and voltages of every bus, case by case, and the same buses cut off."""

from __future__ import annotations

import numpy as np
import pandapower.networks as pn
import pytest

from simulators.power.flow import n_minus_1


@pytest.fixture(scope="module")
def net():
    return pn.mv_oberrhein()


def _aggregates_equal(a: dict, b: dict) -> None:
    for table, keys in (("line", ("max_loading_percent", "min_loading_percent")),
                        ("bus", ("max_vm_pu", "min_vm_pu"))):  # fmt: skip
        for key in keys:
            assert np.allclose(a[table][key], b[table][key], rtol=0, atol=1e-9, equal_nan=True), (
                table,
                key,
            )


def test_each_outage_gives_runpps_loadings_and_voltages(net):
    before = net.line.in_service.copy()
    topo, _ = n_minus_1(net, net.line.index.tolist(), power_flow=False)
    islanding = [c.line for c in topo if c.unsupplied]
    keeping = [c.line for c in topo if not c.unsupplied]
    assert islanding and keeping  # both kinds of case are compared
    # one outage per call: the aggregates are that case's loading of every other line and
    # voltage of every bus (NaN where cut off)
    for line in (islanding[0], islanding[len(islanding) // 2], keeping[0]):
        fast_cases, fast = n_minus_1(net, [line])
        ref_cases, ref = n_minus_1(net, [line], method="runpp")
        _aggregates_equal(fast, ref)
        assert fast_cases[0].unsupplied == ref_cases[0].unsupplied
        assert np.isnan(fast["bus"]["min_vm_pu"]).sum() == len(ref_cases[0].unsupplied)
    # a sweep over every 9th line: the same cases and aggregates
    lines = net.line.index[::9].tolist()
    fast_cases, fast = n_minus_1(net, lines)
    ref_cases, ref = n_minus_1(net, lines, method="runpp")
    _aggregates_equal(fast, ref)
    assert [(c.line, c.converged, c.unsupplied) for c in fast_cases] == [
        (c.line, c.converged, c.unsupplied) for c in ref_cases
    ]
    assert np.allclose([c.max_loading_percent for c in fast_cases],
                       [c.max_loading_percent for c in ref_cases], atol=1e-9)  # fmt: skip
    assert net.line.in_service.equals(before)  # the net is left as it was
    with pytest.raises(ValueError, match="method"):
        n_minus_1(net, lines, method="guess")
