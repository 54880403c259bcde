"""Criticality of power lines: every in-service line taken out once (N-1) on the scenario's
grid, ranked by the people left without electricity.

The cases run in this run's worker process, chunk by chunk with progress (about 0.2 s per
case on mv_oberrhein; bench/power_contingency.py). Spreading the chunks over several Celery
workers is left to the what-if sweeps issue (18). Result rows are unique per (run, line), so
a chunk written twice keeps one row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.common.params import check_fields, param
from simulators.power.flow import PowerFlowParams, n_minus_1
from utilities.power import runs
from utilities.power.models import Line, LineCriticality

from ..models import Run
from . import Kpi, Progress, Simulator, register, same_names

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

    def __post_init__(self) -> None:
        check_fields(self)


def run_power_criticality(run: Run, progress: Progress) -> dict:
    city = run.scenario.city
    params: CriticalityParams = SPEC.engine_params(run.params)
    grid = runs.choose_grid(city, params.grid_id, run.scenario.owner)
    progress(0.02, f"building the net of {grid.name}")
    scen = runs.scenario_net(grid, city, run.edits)
    net = scen.net
    lines = net.line.index[net.line.in_service.astype(bool)].tolist()
    points = runs.service_frame(grid)
    bus_of_point = np.array([p["bus__pp_index"] for p in points], dtype=np.int64)
    people = np.array(
        [float(p["building__residents"] or 0) + float(p["building__workers"] or 0) for p in points]
    )
    rows = {x.pp_index: x for x in Line.objects.filter(grid=grid).only("id", "pp_index", "geom")}
    found = []
    for start in range(0, len(lines), CHUNK_LINES):
        chunk = lines[start : start + CHUNK_LINES]
        done = start / max(len(lines), 1)
        cases, _ = n_minus_1(
            net,
            chunk,
            params,
            progress=lambda f, s, d=done, n=len(chunk): progress(
                0.05 + 0.9 * (d + f * n / max(len(lines), 1)), s
            ),
        )
        batch = []
        for case in cases:
            cut = np.isin(bus_of_point, list(case.unsupplied))
            batch.append(
                LineCriticality(
                    run=run,
                    line=rows[case.line],
                    geom=rows[case.line].geom,
                    buildings_without_service=int(cut.sum()),
                    people_without_service=float(people[cut].sum()),
                    unsupplied_buses=len(case.unsupplied),
                    max_loading_percent=runs._f(case.max_loading_percent),
                    min_vm_pu=runs._f(case.min_vm_pu),
                    converged=case.converged,
                )
            )
        LineCriticality.objects.bulk_create(batch, ignore_conflicts=True)
        found.extend(batch)
    # rank: most people first, then most buses cut, then highest loading after
    order = sorted(
        found,
        key=lambda r: (
            -r.people_without_service,
            -r.unsupplied_buses,
            -(r.max_loading_percent or 0.0),
            r.line_id,
        ),
    )
    for rank, row in enumerate(order, start=1):
        row.rank = rank
    LineCriticality.objects.bulk_update(order, ["rank"], batch_size=2000)
    worst = order[0] if order else None
    run.meta = {**run.meta, "grid_id": grid.pk, "grid_name": grid.name}
    overload = params.overload_percent
    return {
        "lines_tested": len(found),
        "lines_cutting_service": sum(r.buildings_without_service > 0 for r in found),
        "max_people_without_service": worst.people_without_service if worst else 0.0,
        "most_critical_line": worst.line_id if worst else None,
        "cases_with_overload": sum((r.max_loading_percent or 0.0) > overload for r in found),
        "cases_not_converged": sum(not r.converged for r in found),
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
        ),  # fmt: skip
        run=run_power_criticality,
        kpis=(
            Kpi("lines_tested", "Lines taken out once", "1"),
            Kpi("lines_cutting_service", "Lines whose outage cuts off buildings", "1"),
            Kpi(
                "max_people_without_service",
                "Most people without electricity (one line out)",
                "persons",
            ),
            Kpi("most_critical_line", "Most critical line (id)", "1"),
            Kpi("cases_with_overload", "Outages that overload another line", "1"),
            Kpi("cases_not_converged", "Outages without a converged power flow", "1"),
        ),
        results=(),
        engine_packages=("power", "common"),
    )
)
