"""Power grids and power-flow results as OGC API - Features collections.

Grid elements follow their grid's visibility (public, or the owner's); run results follow the
scenario's (the owner's runs and every baseline run), like the scenarios' result collections.
"""

from __future__ import annotations

from django.db.models import Q

from ogc.registry import Collection, model_properties, register

from .models import (
    Bus,
    BusResult,
    Line,
    LineCriticality,
    LineResult,
    ServiceResult,
    Transformer,
)


def _grid_rows(model):
    def rows(user):
        queryset = model.objects.all()
        if user is not None and user.is_authenticated:
            if user.is_staff:
                return queryset
            return queryset.filter(Q(grid__visibility="public") | Q(grid__owner=user))
        return queryset.filter(grid__visibility="public")

    return rows


def _run_rows(model):
    def rows(user):
        queryset = model.objects.all()
        if user is not None and user.is_authenticated:
            if user.is_staff:
                return queryset
            return queryset.filter(
                Q(run__scenario__is_baseline=True) | Q(run__scenario__owner=user)
            )
        return queryset.filter(run__scenario__is_baseline=True)

    return rows


def _register(cid: str, title: str, description: str, rows, model, fields, geometry) -> None:
    """One collection of a power table: its geometry field is ``geom``, its properties the
    model's ``fields``; listed once it holds a row the user may see."""
    register(
        Collection(
            listed_when_empty=False,
            id=cid,
            title=title,
            description=description,
            rows=rows(model),
            geometry_field="geom",
            properties=model_properties(model, fields),
            geometry_type=geometry,
        )
    )


def register_collections() -> None:
    _register(
        "power-buses",
        "Power grid buses",
        "Buses of the imported power grids (rated voltage kV); filter with grid=<grid id>.",
        _grid_rows,
        Bus,
        ["grid", "city", "pp_index", "name", "vn_kv", "in_service"],
        "Point",
    )
    _register(
        "power-lines",
        "Power grid lines",
        "Lines of the imported power grids: length, impedances per km, thermal limit; filter "
        "with grid=<grid id>.",
        _grid_rows,
        Line,
        [
            "grid",
            "city",
            "pp_index",
            "name",
            "std_type",
            "length_km",
            "r_ohm_per_km",
            "x_ohm_per_km",
            "c_nf_per_km",
            "max_i_ka",
            "in_service",
        ],  # fmt: skip
        "LineString",
    )
    _register(
        "power-transformers",
        "Power grid transformers",
        "Transformers of the imported power grids, placed at their low-voltage bus (rated power "
        "MVA, voltages kV); filter with grid=<grid id>.",
        _grid_rows,
        Transformer,
        [
            "grid",
            "city",
            "pp_index",
            "name",
            "std_type",
            "sn_mva",
            "vn_hv_kv",
            "vn_lv_kv",
            "in_service",
        ],
        "Point",
    )
    _register(
        "power-bus-results",
        "Power flow results per bus",
        "Voltage (per unit) and supply of every bus in the power-flow runs; filter with "
        "run=<run id>.",
        _run_rows,
        BusResult,
        ["run", "bus", "vn_kv", "supplied", "in_service", "vm_pu", "va_degree"],
        "Point",
    )
    _register(
        "power-line-results",
        "Power flow results per line",
        "Loading (% of the thermal limit) and current of every line in the power-flow runs; "
        "filter with run=<run id>.",
        _run_rows,
        LineResult,
        ["run", "line", "in_service", "loading_percent", "i_ka", "pl_mw"],
        "LineString",
    )
    _register(
        "power-service-results",
        "Electricity service per building",
        "Served or not in the power-flow runs, with the people (residents plus jobs) in the "
        "building; filter with run=<run id>.",
        _run_rows,
        ServiceResult,
        ["run", "building", "bus", "served", "people", "demand_kw"],
        "MultiPolygon",
    )
    _register(
        "power-line-criticality",
        "Criticality of power lines (N-1)",
        "Each line taken out once: buildings and people without service, highest loading and "
        "lowest voltage after; rank 1 = most people; filter with run=<run id>.",
        _run_rows,
        LineCriticality,
        [
            "run",
            "line",
            "buildings_without_service",
            "people_without_service",
            "unsupplied_buses",
            "max_loading_percent",
            "min_vm_pu",
            "converged",
            "rank",
        ],  # fmt: skip
        "LineString",
    )
