"""Power flow: pandapower's power flow and unsupplied buses on the city's grid, with the
scenario's outages and demand changes; who is without electricity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.common.params import check_fields, param
from simulators.power.flow import PowerFlowParams, solve
from utilities.power import runs

from ..models import Run
from . import Kpi, ParamsRejected, Progress, Simulator, kpi_metric, register, same_names


@dataclass(frozen=True)
class PowerRunParams(PowerFlowParams):
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


def preflight(city, params: dict) -> None:
    """Refuse a run at once (400 on ``params.grid_id``) when the city has no such grid at all;
    whether the asker may use it is checked by the run (:func:`utilities.power.runs.choose_grid`)."""
    from utilities.power.models import Grid

    rows = Grid.objects.filter(city=city)
    if params.get("grid_id"):
        rows = rows.filter(pk=params["grid_id"])
    if not rows.exists():
        what = f"no power grid {params['grid_id']}" if params.get("grid_id") else "no power grid"
        raise ParamsRejected(
            "grid_id",
            f"{city.name} has {what}: import a pandapower file (target power_grid) or build a "
            f"coarse grid from its OSM power lines (manage.py build_power_grid_from_osm --city "
            f"{city.name!r})",
        )


def run_power_flow(run: Run, progress: Progress) -> dict:
    city = run.scenario.city
    params: PowerRunParams = SPEC.engine_params(run.params)
    grid = runs.choose_grid(city, params.grid_id, run.scenario.owner)
    progress(0.05, f"building the net of {grid.name}")
    scen = runs.scenario_net(grid, city, run.edits)
    progress(0.3, "power flow")
    result = solve(scen.net, params)
    points = runs.service_frame(grid)
    served = runs.served_mask(points, result.unsupplied)
    progress(0.8, "storing buses, lines and buildings")
    runs.write_results(run, grid, scen.net, result, points, served)
    net = scen.net
    people = np.array(
        [float(p["building__residents"] or 0) + float(p["building__workers"] or 0) for p in points]
    )
    load_bus = net.load.bus.to_numpy()
    load_mw = (net.load.p_mw * net.load.scaling).to_numpy(float)
    load_on = net.load.in_service.to_numpy(bool)
    cut = np.isin(load_bus, list(result.unsupplied)) | ~load_on
    loading = result.loading_percent
    vm = result.vm_pu
    run.meta = {**run.meta, "grid_id": grid.pk, "grid_name": grid.name, "out": scen.out}
    kpis = {
        "buildings_without_service": int((~served).sum()),
        "people_without_service": float(people[~served].sum()),
        "buildings_linked": len(points),
        "unsupplied_buses": len(result.unsupplied),
        "load_not_served_mw": float(load_mw[cut].sum()),
        "load_served_mw": float(load_mw[~cut].sum()),
        "lines_out": len(scen.out.get("line", [])),
        "converged": bool(result.converged),
        "max_line_loading_percent": float(np.nanmax(loading, initial=0.0)),
        "overloaded_lines": int(np.nansum(loading > params.overload_percent)),
        "min_vm_pu": float(np.nanmin(vm, initial=np.inf)) if np.isfinite(vm).any() else None,
        "buses_under_voltage": int(np.nansum(vm < params.min_vm_pu)),
        "losses_mw": float(np.nansum(result.pl_mw)),
    }
    warnings = []
    if not result.converged:
        warnings.append(
            {
                "code": "power_flow_not_converged",
                "message": f"the power flow did not converge ({result.message}); voltages and "
                "loadings are empty, the supply (topology) is still computed",
            }
        )
    if not points:
        warnings.append(
            {
                "code": "no_service_points",
                "message": f"no building of {city.name} is linked to a bus of {grid.name}: the "
                "people without service cannot be counted",
            }
        )
    run.warnings = warnings
    return kpis


SPEC = register(
    Simulator(
        name="power_flow",
        label="Power flow",
        description="Electricity supply after outages: pandapower power flow and unsupplied "
        "buses, buildings and people without service, line loadings and bus voltages",
        params_class=PowerRunParams,
        params=same_names(
            "grid_id",
            "algorithm",
            "max_iteration",
            "tolerance_mva",
            "overload_percent",
            "min_vm_pu",
        ),  # fmt: skip
        run=run_power_flow,
        preflight=preflight,
        kpis=(
            Kpi("buildings_without_service", "Buildings without electricity", "buildings"),
            Kpi(
                "people_without_service", "People without electricity (residents + jobs)", "people"
            ),
            Kpi("buildings_linked", "Buildings linked to the grid", "buildings"),
            Kpi("unsupplied_buses", "Buses without supply", "1"),
            Kpi("load_not_served_mw", "Load not served", "MW"),
            Kpi("load_served_mw", "Load served", "MW"),
            Kpi("lines_out", "Lines out of service by the edits", "1"),
            Kpi("converged", "Power flow converged", "1"),
            Kpi("max_line_loading_percent", "Highest line loading", "%"),
            Kpi("overloaded_lines", "Overloaded lines", "1"),
            Kpi("min_vm_pu", "Lowest bus voltage", "p.u."),
            Kpi("buses_under_voltage", "Buses under the voltage limit", "1"),
            Kpi("losses_mw", "Line losses", "MW"),
        ),
        results=(),
        engine_packages=("power", "common"),
        sweep_metric=kpi_metric("people_without_service", "People without electricity", "people"),
        data_version=runs.data_version,
    )
)
