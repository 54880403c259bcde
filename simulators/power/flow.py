"""One power flow with pandapower, and which buses have no supply."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandapower as pp
import pandapower.topology as top

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


def n_minus_1(
    net,
    lines: Sequence[int],
    params: PowerFlowParams | None = None,
    progress: Progress | None = None,
    power_flow: bool = True,
) -> tuple[list[Contingency], dict]:
    """Take each line in ``lines`` out once (the others as they are) and solve.

    Returns the cases and pandapower.contingency's aggregates over them (same definition as
    ``run_contingency``: per line ``max_loading_percent`` / ``min_loading_percent`` and per
    bus ``max_vm_pu`` / ``min_vm_pu``, over the in-service elements of each case).
    ``net`` is left as it was. ``power_flow=False``: the topology only (which buses lose
    supply: milliseconds per case instead of a power flow); loadings and voltages stay NaN,
    ``converged`` False, the aggregates NaN.
    """
    if not power_flow:
        return _n_minus_1_topology(net, lines, progress), _empty_aggregates(net)
    params = params or PowerFlowParams()
    cases = []
    agg = _empty_aggregates(net)
    total = max(len(lines), 1)
    # the base case once: its results start every case, its graph loses one edge per case
    solve(net, params)
    warm = "results" if net.converged else "auto"
    # every case starts from the base case (a previous case's cut-off buses have no voltage)
    base_res = {t: net[t].copy() for t in ("res_bus", "res_line", "res_trafo", "res_ext_grid")}
    mg = top.create_nxgraph(net)
    for k, line in enumerate(lines):
        if not bool(net.line.at[line, "in_service"]):
            continue
        key = ("line", int(line))
        removed = [(u, v, kk, d) for u, v, kk, d in mg.edges(keys=True, data=True) if kk == key]
        mg.remove_edges_from([(u, v, kk) for u, v, kk, _ in removed])
        net.line.at[line, "in_service"] = False
        try:
            for table, frame in base_res.items():
                net[table] = frame.copy()
            result = solve(net, params, mg=mg, init=warm)
            if not result.converged and warm != "auto":  # a cold start before giving up
                result = solve(net, params, mg=mg, init="auto")
        finally:
            net.line.at[line, "in_service"] = True
            mg.add_edges_from(removed)
        if result.converged:
            for table, values, in_service in (
                ("line", result.loading_percent, net.line.in_service.to_numpy(bool).copy()),
                ("bus", result.vm_pu, net.bus.in_service.to_numpy(bool)),
            ):
                if table == "line":
                    in_service[net.line.index.get_loc(line)] = False
                key = "loading_percent" if table == "line" else "vm_pu"
                where = in_service & ~np.isnan(values)
                np.fmax(values, agg[table][f"max_{key}"], out=agg[table][f"max_{key}"], where=where)
                np.fmin(values, agg[table][f"min_{key}"], out=agg[table][f"min_{key}"], where=where)
        cases.append(
            Contingency(
                int(line),
                result.converged,
                result.unsupplied,
                float(np.nanmax(result.loading_percent, initial=0.0))
                if result.converged
                else np.nan,
                float(np.nanmin(result.vm_pu, initial=np.inf)) if result.converged else np.nan,
            )
        )
        if progress is not None and (k % 10 == 0 or k == total - 1):
            progress((k + 1) / total, f"line {k + 1} of {total} out")
    return cases, agg


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
