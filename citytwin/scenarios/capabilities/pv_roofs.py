"""Best roofs for PV: every building's annual yield, the kWp its roof holds and the yield per
kWp with the shading of its neighbours (the solar engine's DSM), ranked best first.

Per building (building results): ``pv_kwh_year`` and ``sun_hours`` (mean over the roof, annual
daylight hours in sun). The ranking (``run.meta["ranking"]``: rank, building, kWp, kWh/year,
kWh/kWp) and a recommendation in words with the numbers behind it (``run.meta
["recommendation"]``, naming the run).
"""

from __future__ import annotations

import numpy as np
import shapely

from simulators.solar import rank_roofs, roof_pv
from simulators.solar.params import PvRoofParams

from .. import inputs
from ..models import BuildingResult, Run
from ..warnings import warning
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .storage import finite, multipolygon

#: the most buildings one run ranks (an annual shading run per tile; choose a bbox beyond)
MAX_PV_BUILDINGS = 20_000


def run_pv_roofs(run: Run, progress: Progress) -> dict:
    """Annual roof PV of the buildings in the area, ranked by yield per kWp."""
    city, edits = run.scenario.city, run.edits
    p: PvRoofParams = SPEC.engine_params(run.params)
    progress(0.01, "reading the buildings")
    buildings = inputs.buildings_frame(city, edits)
    if p.bbox is not None:
        area = inputs.local_geometry(city, shapely.geometry.mapping(shapely.box(*p.bbox)))
        buildings = buildings[buildings.intersects(area)].reset_index(drop=True)
    if buildings.empty:
        raise ParamsRejected("bbox", "no building in the area")
    if len(buildings) > MAX_PV_BUILDINGS:
        raise ParamsRejected(
            "bbox", f"{len(buildings):,} buildings (max {MAX_PV_BUILDINGS:,}): choose a bbox"
        )
    frame = buildings[["height_m", "geometry"]].copy()
    frame["id"] = np.arange(len(frame))
    pv = roof_pv(
        frame, year=p.year, resolution_m=p.cell_m, step=f"{p.step_min:g}min",
        progress=lambda f, s: progress(0.05 + 0.85 * f, s),
    )  # fmt: skip
    ranked = rank_roofs(pv, p.min_kwp)
    progress(0.92, "storing the building results")
    by_row = pv.set_index("id")
    BuildingResult.objects.bulk_create(
        [
            BuildingResult(
                run=run, building_id=b.building_id if not b.added else None, added=bool(b.added),
                geom=multipolygon(b.geometry_wgs84), height_m=float(b.height_m),
                sun_hours=finite(by_row.at[i, "sun_hours"]),
                pv_kwh_year=finite(by_row.at[i, "kwh_per_year"]),
            )
            for i, b in enumerate(buildings.itertuples())
        ],
        batch_size=5000,
    )  # fmt: skip
    ids = buildings["id"].to_numpy()
    top = ranked[ranked["rank"] > 0]
    run.meta = {
        "ranking": [
            {
                "rank": int(r.rank), "building": _id(ids[int(r.id)]), "kwp": float(r.kwp),
                "kwh_per_year": float(r.kwh_per_year), "kwh_per_kwp": float(r.kwh_per_kwp),
                "usable_area_m2": float(r.usable_area_m2),
            }
            for r in top.head(max(p.top_n, 100)).itertuples()
        ],
    }  # fmt: skip
    kpis = _kpis(top, pv, p)
    run.meta["recommendation"] = _recommendation(run, top.head(p.top_n), kpis, ids)
    run.warnings = (
        []
        if len(top)
        else [warning("no_roof", f"no roof holds {p.min_kwp:g} kWp or more of usable area")]
    )
    return kpis


def _id(value):
    return value if isinstance(value, str) else int(value)


def _kpis(top, pv, p: PvRoofParams) -> dict:
    best = top.head(p.top_n)
    return {
        "buildings": int(len(pv)),
        "roofs_ranked": int(len(top)),
        "total_kwp": float(top["kwp"].sum()),
        "total_kwh_year": float(top["kwh_per_year"].sum()),
        "best_kwh_per_kwp": float(top["kwh_per_kwp"].iloc[0]) if len(top) else None,
        "median_kwh_per_kwp": float(top["kwh_per_kwp"].median()) if len(top) else None,
        "top_kwp": float(best["kwp"].sum()),
        "top_kwh_year": float(best["kwh_per_year"].sum()),
        "top_kwh_per_kwp": float(best["kwh_per_year"].sum() / best["kwp"].sum())
        if len(best)
        else None,
    }


def _recommendation(run: Run, best, kpis: dict, ids) -> str:
    if not len(best):
        return f"No roof is large enough for a system (run {run.pk})."
    names = ", ".join(
        f"building {_id(ids[int(r.id)])} ({r.kwh_per_kwp:.0f} kWh/kWp, {r.kwp:.1f} kWp)"
        for r in best.head(5).itertuples()
    )
    return (
        f"Fit these {len(best)} roofs first (run {run.pk}): together {kpis['top_kwp']:.0f} kWp "
        f"giving {kpis['top_kwh_year']:,.0f} kWh/year, {kpis['top_kwh_per_kwp']:.0f} kWh per kWp "
        f"against a median of {kpis['median_kwh_per_kwp']:.0f} over the "
        f"{kpis['roofs_ranked']} roofs ranked. Best: {names}."
    )


SPEC = register(
    Simulator(
        name="pv_roofs",
        label="Best roofs for PV",
        description="Each roof's annual PV yield, the kWp it holds and its yield per kWp with "
        "the shading of its neighbours, ranked best first",
        params_class=PvRoofParams,
        params=same_names("bbox", "year", "cell_m", "step_min", "min_kwp", "top_n"),
        run=run_pv_roofs,
        kpis=(
            Kpi("buildings", "Buildings", "1"),
            Kpi("roofs_ranked", "Roofs ranked", "1"),
            Kpi("total_kwp", "PV the ranked roofs hold", "kWp"),
            Kpi("total_kwh_year", "Their yield", "kWh/year"),
            Kpi("best_kwh_per_kwp", "Best yield per kWp", "kWh/kWp"),
            Kpi("median_kwh_per_kwp", "Median yield per kWp", "kWh/kWp"),
            Kpi("top_kwp", "PV on the recommended roofs", "kWp"),
            Kpi("top_kwh_year", "Yield of the recommended roofs", "kWh/year"),
            Kpi("top_kwh_per_kwp", "Yield per kWp of the recommended roofs", "kWh/kWp"),
        ),
        results=("buildings",),
        engine_packages=("solar", "common"),
        report_map=("buildings", "pv_kwh_year", "Rooftop PV yield", "kWh/year"),
    )
)
