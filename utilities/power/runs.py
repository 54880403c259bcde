"""What the power simulators share: the grid a run uses, its net with the scenario's edits,
which buildings are served, and the result rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import Q

from citytwin.scenarios.capabilities import ParamsRejected
from citytwin.scenarios.edits import edit_type
from simulators.power.flow import FlowResult
from simulators.power.outages import apply_outages, scale_loads

from .convert import grid_to_net
from .models import (
    ELEMENT_MODELS,
    Bus,
    BusResult,
    Grid,
    Line,
    LineResult,
    ServicePoint,
    ServiceResult,
)


def data_version(city) -> list:
    """The city's grids, their element rows, service points and the buildings they serve, as
    row digests for the input checksum: a re-imported or edited grid is a new input."""
    from citytwin.scenarios.digest import rows_digest

    in_city = "t.grid_id IN (SELECT id FROM power_grid WHERE city_id = %(city)s)"
    tables = [("power_grid", "t.city_id = %(city)s")]
    tables += [(model._meta.db_table, in_city) for model in ELEMENT_MODELS.values()]
    tables.append(("power_servicepoint", in_city))
    # people and use of the served buildings are read at run time
    tables.append(
        (
            "layers_building",
            "t.id IN (SELECT building_id FROM power_servicepoint p JOIN power_grid g "
            "ON g.id = p.grid_id WHERE g.city_id = %(city)s)",
        )
    )
    return rows_digest(tables, {"city": city.pk})


def grids_visible(city, user) -> Grid:
    rows = Grid.objects.filter(city=city)
    if user is not None and getattr(user, "is_staff", False):
        return rows
    if user is not None and getattr(user, "is_authenticated", False):
        return rows.filter(Q(visibility="public") | Q(owner=user))
    return rows.filter(visibility="public")


def choose_grid(city, grid_id: int, user=None) -> Grid:
    """The grid ``grid_id`` of the city (0: its newest one the user may see); raises
    ParamsRejected naming ``grid_id``."""
    rows = grids_visible(city, user)
    grid = rows.filter(pk=grid_id).first() if grid_id else rows.order_by("-created_at").first()
    if grid is None:
        what = f"no power grid {grid_id}" if grid_id else "no power grid"
        raise ParamsRejected(
            "grid_id",
            f"{what} in {city.name} that you may use; import one (target power_grid) first",
        )
    return grid


@dataclass
class ScenarioNet:
    grid: Grid
    net: object
    out: dict  # what the edits took out, per pandapower table


def scenario_net(grid: Grid, city, edits: list[dict]) -> ScenarioNet:
    """The grid's net with the power edits applied (other edit types have no hook here)."""
    net = grid_to_net(grid)
    out: dict[str, set] = {}
    for edit in edits:
        hook = getattr(edit_type(edit["type"]), "apply_to_power", None)
        if hook is None:
            continue
        change = hook(grid.pk, city, edit)
        for factor, loads in change.pop("scale_loads", []):
            scale_loads(net, factor, loads)
        if change:
            for table, idx in apply_outages(net, **change).items():
                out.setdefault(table, set()).update(idx)
    return ScenarioNet(grid, net, {t: sorted(v) for t, v in out.items()})


def service_frame(grid: Grid) -> list[dict]:
    """Service points with their building's people, footprint and bus pandapower index."""
    return list(
        ServicePoint.objects.filter(grid=grid).values(
            "building_id",
            "bus_id",
            "bus__pp_index",
            "demand_kw",
            "building__residents",
            "building__workers",
            "building__footprint",
        )
    )


def served_mask(points: list[dict], unsupplied: set[int]) -> np.ndarray:
    return np.array([p["bus__pp_index"] not in unsupplied for p in points], dtype=bool)


def write_results(run, grid: Grid, net, result: FlowResult, points, served) -> None:
    """Bus, line and building rows of one power flow."""
    buses = {
        b.pp_index: b for b in Bus.objects.filter(grid=grid).only("id", "pp_index", "geom", "vn_kv")
    }
    rows = []
    in_service = net.bus.in_service.to_numpy(bool)
    for i, idx in enumerate(result.bus_index):
        b = buses[int(idx)]
        rows.append(
            BusResult(
                run=run,
                bus=b,
                geom=b.geom,
                vn_kv=b.vn_kv,
                supplied=int(idx) not in result.unsupplied,
                in_service=bool(in_service[i]),
                vm_pu=_f(result.vm_pu[i]),
                va_degree=_f(result.va_degree[i]),
                p_mw=_f(result.p_mw[i]),
            )
        )
    BusResult.objects.bulk_create(rows, batch_size=5000)
    lines = {x.pp_index: x for x in Line.objects.filter(grid=grid).only("id", "pp_index", "geom")}
    line_on = net.line.in_service.to_numpy(bool)
    rows = [
        LineResult(
            run=run,
            line=lines[int(idx)],
            geom=lines[int(idx)].geom,
            in_service=bool(line_on[i]),
            loading_percent=_f(result.loading_percent[i]),
            i_ka=_f(result.i_ka[i]),
            p_from_mw=_f(result.p_from_mw[i]),
            pl_mw=_f(result.pl_mw[i]),
        )
        for i, idx in enumerate(result.line_index)
    ]
    LineResult.objects.bulk_create(rows, batch_size=5000)
    ServiceResult.objects.bulk_create(
        [
            ServiceResult(
                run=run,
                building_id=p["building_id"],
                bus_id=p["bus_id"],
                geom=p["building__footprint"],
                served=bool(s),
                people=float(p["building__residents"] or 0) + float(p["building__workers"] or 0),
                demand_kw=p["demand_kw"],
            )
            for p, s in zip(points, served)
        ],
        batch_size=5000,
    )


def _f(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
