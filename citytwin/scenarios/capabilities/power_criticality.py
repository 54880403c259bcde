"""Criticality of power lines: every in-service line taken out once (N-1) on the scenario's
grid, ranked by the people left without electricity.

The lines go out in chunks (:mod:`utilities.power.sweep`): one Celery task per chunk
(``acks_late``), claimed in Redis by whichever worker gets to it first, this run's own worker
included, so a run never waits on a busy queue; results are keyed by chunk (a chunk done twice
counts once) and the rows are written in the run's transaction, unique per (run, line). The
what-if sweeps issue (18) generalises this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.common.params import check_fields, param
from simulators.power.flow import PowerFlowParams, n_minus_1
from utilities.power import runs, sweep
from utilities.power.models import Line, LineCriticality

from ..models import Run
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .power_flow import preflight

CHUNK_LINES = 25


@dataclass(frozen=True)
class CriticalityParams(PowerFlowParams):
    grid_id: int = param(
        0,
        label="Grid",
        description="Id of the city's power grid (GET /api/power/grids/); 0 = the newest",
        minimum=0,
        maximum=2**31 - 1,
        integer=True,
    )
    power_flow: bool = param(
        True,
        label="Power flow for each outage",
        kind="boolean",
        description="true: a power flow per line out (loadings and voltages after it); false: "
        "the topology only (who loses supply), about a hundred times faster",
    )

    def __post_init__(self) -> None:
        check_fields(self)


_CACHE: dict[str, tuple] = {}


def _inputs(run: Run, params) -> tuple:
    """The run's net (grid + edits), the service points' buses and people (once per process)."""
    key = str(run.pk)
    if key not in _CACHE:
        _CACHE.clear()
        grid = runs.choose_grid(run.scenario.city, params.grid_id, run.scenario.owner)
        net = runs.scenario_net(grid, run.scenario.city, run.edits).net
        points = runs.service_frame(grid)
        bus_of_point = np.array([p["bus__pp_index"] for p in points], dtype=np.int64)
        people = np.array(
            [
                float(p["building__residents"] or 0) + float(p["building__workers"] or 0)
                for p in points
            ]
        )
        _CACHE[key] = (grid, net, bus_of_point, people)
    return _CACHE[key]


def compute_chunk(run: Run, lines: list[int]) -> list[dict]:
    """N-1 rows of ``lines`` (pandapower indices) of the run's grid, as plain values."""
    params: CriticalityParams = SPEC.engine_params(run.params)
    _, net, bus_of_point, people = _inputs(run, params)
    cases, _ = n_minus_1(net, lines, params, power_flow=params.power_flow)
    out = []
    for case in cases:
        cut = np.isin(bus_of_point, list(case.unsupplied))
        out.append(
            {
                "line": case.line,
                "buildings": int(cut.sum()),
                "people": float(people[cut].sum()),
                "buses": len(case.unsupplied),
                "max_loading_percent": runs._f(case.max_loading_percent),
                "min_vm_pu": runs._f(case.min_vm_pu),
                "converged": bool(case.converged),
            }
        )
    return out


def run_power_criticality(run: Run, progress: Progress) -> dict:
    params: CriticalityParams = SPEC.engine_params(run.params)
    progress(0.02, "building the net")
    grid, net, _, _ = _inputs(run, params)
    lines = [int(i) for i in net.line.index[net.line.in_service.astype(bool)]]
    if not lines:  # nothing to rank is not a result
        raise ParamsRejected(
            "grid_id", f"{grid.name} has no line in service (after the edits) to take out"
        )
    chunks = [lines[i : i + CHUNK_LINES] for i in range(0, len(lines), CHUNK_LINES)]
    rows_of = {x.pp_index: x for x in Line.objects.filter(grid=grid).only("id", "pp_index", "geom")}
    found = sweep.run_chunks(
        run.pk,
        chunks,
        lambda chunk: compute_chunk(run, chunk),
        lambda f, s: progress(0.05 + 0.9 * f, s),
        send=lambda i: sweep.n1_chunk.delay(str(run.pk), i, chunks[i]),
    )
    _CACHE.clear()
    rows = [
        LineCriticality(
            run=run,
            line=rows_of[r["line"]],
            geom=rows_of[r["line"]].geom,
            buildings_without_service=r["buildings"],
            people_without_service=r["people"],
            unsupplied_buses=r["buses"],
            max_loading_percent=r["max_loading_percent"],
            min_vm_pu=r["min_vm_pu"],
            converged=r["converged"],
        )
        for r in found
    ]
    # rank: most people first, then most buses cut, then highest loading after
    rows.sort(
        key=lambda r: (
            -r.people_without_service,
            -r.unsupplied_buses,
            -(r.max_loading_percent or 0.0),
            r.line.pp_index,
        )
    )
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    LineCriticality.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    worst = rows[0] if rows else None
    run.meta = {**run.meta, "grid_id": grid.pk, "grid_name": grid.name, "chunks": len(chunks)}
    overload = params.overload_percent
    flow = params.power_flow
    run.warnings = (
        []
        if flow
        else [
            {
                "code": "topology_only",
                "message": "each outage was traced through the topology only: who loses supply "
                "is known, loadings and voltages after it were not computed",
            }
        ]
    )
    return {
        "lines_tested": len(rows),
        "lines_cutting_service": sum(r.buildings_without_service > 0 for r in rows),
        "max_people_without_service": worst.people_without_service if worst else 0.0,
        "most_critical_line": worst.line_id if worst else None,
        "cases_with_overload": sum((r.max_loading_percent or 0.0) > overload for r in rows)
        if flow
        else None,
        "cases_not_converged": sum(not r.converged for r in rows) if flow else None,
    }


SPEC = register(
    Simulator(
        name="power_criticality",
        label="Power line criticality (N-1)",
        description="Every line of the grid taken out once: ranked by the people left without "
        "electricity, with the highest loading and lowest voltage after each outage",
        params_class=CriticalityParams,
        params=same_names(
            "grid_id",
            "algorithm",
            "max_iteration",
            "tolerance_mva",
            "overload_percent",
            "min_vm_pu",
            "power_flow",
        ),  # fmt: skip
        run=run_power_criticality,
        preflight=preflight,
        kpis=(
            Kpi("lines_tested", "Lines taken out once", "1"),
            Kpi("lines_cutting_service", "Lines whose outage cuts off buildings", "1"),
            Kpi(
                "max_people_without_service",
                "Most people without electricity (one line out)",
                "people",
            ),
            Kpi("most_critical_line", "Most critical line (id)", "1"),
            Kpi("cases_with_overload", "Outages that overload another line", "1"),
            Kpi("cases_not_converged", "Outages without a converged power flow", "1"),
        ),
        results=(),
        engine_packages=("power", "common"),
        data_version=runs.data_version,
    )
)
