"""One power flow with pandapower, and which buses have no supply."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandapower as pp
import pandapower.topology as top
from pandapower.auxiliary import _check_connectivity
from pandapower.pd2ppc import _ppc2ppci
from pandapower.pf.run_newton_raphson_pf import _run_newton_raphson_pf
from pandapower.pypower.idx_brch import BR_STATUS, PF, PT, QF, QT
from pandapower.pypower.idx_bus import BUS_TYPE, NONE, VM
from pandapower.results import _copy_results_ppci_to_ppc
from pandapower.results_branch import _get_branch_flows

from simulators.common.params import check_fields, param

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class PowerFlowParams:
    """Settings of a power-flow run (pandapower ``runpp``)."""

    algorithm: str = param(
        "nr",
        label="Algorithm",
        kind="string",
        choices={
            "nr": "Newton-Raphson",
            "iwamoto_nr": "Newton-Raphson with Iwamoto multiplier",
            "bfsw": "backward/forward sweep (radial grids)",
            "fdbx": "fast-decoupled (XB)",
        },
    )
    max_iteration: int = param(
        30, label="Iterations at most", unit="1", minimum=1, maximum=200, integer=True
    )
    tolerance_mva: float = param(
        1e-8, label="Mismatch tolerance", unit="MVA", minimum=1e-12, maximum=1e-2
    )
    overload_percent: float = param(
        100.0,
        label="Overload threshold",
        description="A line loaded above this share of its thermal limit counts as overloaded",
        unit="%",
        minimum=1,
        maximum=500,
    )
    min_vm_pu: float = param(
        0.9,
        label="Lowest acceptable voltage",
        description="A bus below this voltage counts as under-voltage",
        unit="p.u.",
        minimum=0.5,
        maximum=1.0,
    )

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class FlowResult:
    """What a power flow gives: convergence, unsupplied buses, per-bus and per-line arrays
    (in the order of ``net.bus.index`` and ``net.line.index``; NaN where not computed)."""

    converged: bool
    unsupplied: set[int]
    bus_index: np.ndarray
    vm_pu: np.ndarray
    va_degree: np.ndarray
    p_mw: np.ndarray
    line_index: np.ndarray
    loading_percent: np.ndarray
    i_ka: np.ndarray
    p_from_mw: np.ndarray
    pl_mw: np.ndarray
    message: str = ""
    extra: dict = field(default_factory=dict)


def unsupplied(net, mg=None) -> set[int]:
    """Buses with no path to an external grid or generator (pandapower.topology), plus the
    buses out of service. ``mg``: the net's graph (``top.create_nxgraph``) when built."""
    cut = {int(b) for b in top.unsupplied_buses(net, mg=mg)}
    cut.update(int(b) for b in net.bus.index[~net.bus.in_service.astype(bool)])
    return cut


def _nan(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def solve(net, params: PowerFlowParams | None = None, mg=None, init: str = "auto") -> FlowResult:
    """Run the power flow on ``net`` (results also in its ``res_`` tables).

    A net that does not converge gives NaN voltages and loadings and ``converged=False``,
    not an exception: the unsupplied buses still come from the topology. ``init="results"``
    starts from the net's last results (N-1 cases: about half the time, same solution within
    the tolerance).
    """
    params = params or PowerFlowParams()
    cut = unsupplied(net, mg)
    nb, nl = len(net.bus), len(net.line)
    message = ""
    try:
        pp.runpp(
            net,
            algorithm=params.algorithm,
            max_iteration=int(params.max_iteration),
            tolerance_mva=params.tolerance_mva,
            init=init,
        )
        converged = bool(net.converged)
    except (pp.LoadflowNotConverged, UserWarning) as exc:
        # UserWarning: pandapower's "no reference bus" when every slack is out (all cut off)
        converged, message = False, str(exc)
    if converged:
        rb, rl = net.res_bus.reindex(net.bus.index), net.res_line.reindex(net.line.index)
        return FlowResult(
            True,
            cut,
            net.bus.index.to_numpy(),
            rb.vm_pu.to_numpy(float),
            rb.va_degree.to_numpy(float),
            rb.p_mw.to_numpy(float),
            net.line.index.to_numpy(),
            rl.loading_percent.to_numpy(float),
            rl.i_ka.to_numpy(float),
            rl.p_from_mw.to_numpy(float),
            rl.pl_mw.to_numpy(float),
        )
    return FlowResult(
        False,
        cut,
        net.bus.index.to_numpy(),
        _nan(nb),
        _nan(nb),
        _nan(nb),
        net.line.index.to_numpy(),
        _nan(nl),
        _nan(nl),
        _nan(nl),
        _nan(nl),
        message=message or "the power flow did not converge",
    )


@dataclass
class Contingency:
    """One N-1 case: the line taken out and what followed."""

    line: int
    converged: bool
    unsupplied: set[int]
    max_loading_percent: float
    min_vm_pu: float


#: how the N-1 cases are solved: "recycled" re-solves pandapower's internal case of the base
#: power flow with one branch out (the fast default); "runpp" runs pandapower's full
#: ``runpp`` per case (the reference: what ``pandapower.contingency`` does)
N1_METHODS = ("recycled", "runpp")


def n_minus_1(
    net,
    lines: Sequence[int],
    params: PowerFlowParams | None = None,
    progress: Progress | None = None,
    power_flow: bool = True,
    method: str = "recycled",
) -> tuple[list[Contingency], dict]:
    """Take each line in ``lines`` out once (the others as they are) and solve.

    Returns the cases and pandapower.contingency's aggregates over them (same definition as
    ``run_contingency``: per line ``max_loading_percent`` / ``min_loading_percent`` and per
    bus ``max_vm_pu`` / ``min_vm_pu``, over the in-service elements of each case).
    ``net`` is left as it was. ``power_flow=False``: the topology only (which buses lose
    supply: milliseconds per case instead of a power flow); loadings and voltages stay NaN,
    ``converged`` False, the aggregates NaN.

    ``method`` (:data:`N1_METHODS`): ``"recycled"`` builds pandapower's internal case (ppc)
    once from the base power flow and, per case, only marks the line's branch out, lets
    pandapower's own connectivity check drop the islanded buses, and runs pandapower's
    Newton-Raphson from the base solution; loadings and voltages come from the branch flows
    as pandapower computes them (``results_branch``). It skips what a full ``runpp`` repeats
    per case (rebuilding the case from the tables, writing every result table), which is
    three quarters of its time; ``"runpp"`` is the reference (tests/simulators/test_power_n1.py:
    the same loadings and voltages within 1e-9). Both cold-start a case that does not
    converge from the base solution once more (``runpp``) before giving up.
    """
    if not power_flow:
        return _n_minus_1_topology(net, lines, progress), _empty_aggregates(net)
    if method not in N1_METHODS:
        raise ValueError(f"method: one of {N1_METHODS}, got {method!r}")
    params = params or PowerFlowParams()
    cases = []
    agg = _empty_aggregates(net)
    total = max(len(lines), 1)
    # the base case once: its results start every case, its graph loses one edge per case
    solve(net, params)
    warm = "results" if net.converged else "auto"
    recycled = _Recycled(net) if method == "recycled" and net.converged else None
    # every case starts from the base case (a previous case's cut-off buses have no voltage)
    base_res = {t: net[t].copy() for t in ("res_bus", "res_line", "res_trafo", "res_ext_grid")}
    mg = top.create_nxgraph(net)
    line_in_service = net.line.in_service.to_numpy(bool)
    bus_in_service = net.bus.in_service.to_numpy(bool)
    for k, line in enumerate(lines):
        if not bool(net.line.at[line, "in_service"]):
            continue
        key = ("line", int(line))
        removed = [(u, v, kk, d) for u, v, kk, d in mg.edges(keys=True, data=True) if kk == key]
        mg.remove_edges_from([(u, v, kk) for u, v, kk, _ in removed])
        try:
            cut = unsupplied(net, mg)
            solved = recycled.case(int(line)) if recycled is not None else None
            if solved is None:  # the reference, or a recycled case that did not converge
                net.line.at[line, "in_service"] = False
                try:
                    for table, frame in base_res.items():
                        net[table] = frame.copy()
                    result = solve(net, params, mg=mg, init=warm)
                    if not result.converged and warm != "auto":  # a cold start, then give up
                        result = solve(net, params, mg=mg, init="auto")
                finally:
                    net.line.at[line, "in_service"] = True
                solved = (result.converged, result.loading_percent, result.vm_pu)
        finally:
            mg.add_edges_from(removed)
        converged, loading, vm = solved
        if converged:
            for table, values, in_service in (
                ("line", loading, line_in_service.copy()),
                ("bus", vm, bus_in_service),
            ):
                if table == "line":
                    in_service[net.line.index.get_loc(line)] = False
                name = "loading_percent" if table == "line" else "vm_pu"
                where = in_service & ~np.isnan(values)
                out_max, out_min = agg[table][f"max_{name}"], agg[table][f"min_{name}"]
                np.fmax(values, out_max, out=out_max, where=where)
                np.fmin(values, out_min, out=out_min, where=where)
        cases.append(
            Contingency(
                int(line),
                converged,
                cut,
                float(np.nanmax(loading, initial=0.0)) if converged else np.nan,
                float(np.nanmin(vm, initial=np.inf)) if converged else np.nan,
            )
        )
        if progress is not None and (k % 10 == 0 or k == total - 1):
            progress((k + 1) / total, f"line {k + 1} of {total} out")
    return cases, agg


class _Recycled:
    """N-1 cases on pandapower's internal case (ppc) of a converged base power flow.

    What ``runpp`` does per case, less what does not change when a line goes out: the ppc
    (built once from the tables by ``_pd2ppc``) is copied, the line's branch marked out,
    pandapower's connectivity check sets the islanded buses out, ``_ppc2ppci`` drops them,
    pandapower's Newton-Raphson solves from the base voltages; line currents and loadings as
    ``results_branch._get_line_results`` computes them, bus voltages as ``results_bus``.
    pandapower's lookups (which ``_ppc2ppci`` renumbers) are put back after every case.
    """

    def __init__(self, net) -> None:
        self.net = net
        self.ppc = net["_ppc"]
        self.lookups = copy.deepcopy(net["_pd2ppc_lookups"])
        first, last = self.lookups["branch"]["line"]
        self.rows = dict(zip(net.line.index.tolist(), range(first, last), strict=True))
        self.first, self.last = first, last
        line = net.line
        self.i_max = (line.max_i_ka * line.df * line.parallel).to_numpy(float)
        # every case starts from the base solution (the voltages in the ppc), no DC start
        self.options = {**net["_options"], "init_vm_pu": "results", "init_va_degree": "results"}
        self.bus_out = ~net.bus.in_service.to_numpy(bool)

    def case(self, line: int) -> tuple[bool, np.ndarray, np.ndarray] | None:
        """(converged, loading % per line, vm p.u. per bus) with ``line`` out; None if the
        Newton-Raphson did not converge (the caller falls back to ``runpp``)."""
        net = self.net
        ppc = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.ppc.items()}
        ppc["internal"] = dict(self.ppc["internal"])
        net["_pd2ppc_lookups"] = copy.deepcopy(self.lookups)
        try:
            ppc["branch"][self.rows[line], BR_STATUS] = 0
            # as in a fresh case: no flows on the branches the case leaves out
            ppc["branch"][:, [PF, QF, PT, QT]] = 0
            _check_connectivity(ppc)
            ppci = _ppc2ppci(ppc, net)
            result = _run_newton_raphson_pf(ppci, self.options)
            if not result["success"]:
                return None
            ppc = _copy_results_ppci_to_ppc(result, ppc, "pf")
            # islanded buses have no voltage (pandapower's res_bus: NaN)
            ppc["bus"][ppc["bus"][:, BUS_TYPE] == NONE, VM] = np.nan
            bus_idx = net["_pd2ppc_lookups"]["bus"][net.bus.index.to_numpy()]
            vm = ppc["bus"][bus_idx, VM].real.astype(float)
            vm[self.bus_out] = np.nan
            i_ft, _ = _get_branch_flows(ppc)
            with np.errstate(invalid="ignore", divide="ignore"):
                i_ka = np.max(i_ft[self.first : self.last], axis=1).astype(float)
                loading = np.where(self.i_max != 0, i_ka / self.i_max, np.inf) * 100
        finally:
            net["_pd2ppc_lookups"] = copy.deepcopy(self.lookups)
        return True, loading, vm


def _empty_aggregates(net) -> dict:
    return {
        "line": {
            "max_loading_percent": _nan(len(net.line)),
            "min_loading_percent": _nan(len(net.line)),
        },
        "bus": {"max_vm_pu": _nan(len(net.bus)), "min_vm_pu": _nan(len(net.bus))},
    }


def _n_minus_1_topology(net, lines: Sequence[int], progress: Progress | None) -> list:
    """N-1 cases from the topology alone: the graph built once, one edge removed per case."""
    mg = top.create_nxgraph(net)
    cases = []
    total = max(len(lines), 1)
    for k, line in enumerate(lines):
        if not bool(net.line.at[line, "in_service"]):
            continue
        key = ("line", int(line))
        removed = [(u, v, kk, d) for u, v, kk, d in mg.edges(keys=True, data=True) if kk == key]
        mg.remove_edges_from([(u, v, kk) for u, v, kk, _ in removed])
        try:
            cut = unsupplied(net, mg)
        finally:
            mg.add_edges_from(removed)
        cases.append(Contingency(int(line), False, cut, np.nan, np.nan))
        if progress is not None and (k % 10 == 0 or k == total - 1):
            progress((k + 1) / total, f"line {k + 1} of {total} out")
    return cases
