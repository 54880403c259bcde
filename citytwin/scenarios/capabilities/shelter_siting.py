"""Shelter siting: which ``p`` candidate sites serve the people of the hazard zones best.

A capacitated p-median (:mod:`simulators.siting`, HiGHS) on travel times over the scenario's
roads (closed roads closed): demand = residents of the buildings inside the scenario's hazard
zones, candidates = the scenario's shelters and/or buildings named in the parameters (their
floor area / area per person). Results: per demand building its people served and travel time
(building results), the candidate sites with their load in ``run.meta["sites"]``, and a
recommendation in words with the numbers behind it in ``run.meta["recommendation"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from simulators.siting import (
    ShelterSitingParams,
    network_for,
    snap_to_nodes,
    solve_p_median,
    travel_times_s,
)

from .. import inputs
from ..models import BuildingResult, Run
from ..warnings import warning
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .storage import finite, multipolygon


def run_shelter_siting(run: Run, progress: Progress) -> dict:
    """Choose the shelters; store per-building results, the sites and the recommendation."""
    city, edits = run.scenario.city, run.edits
    params = SPEC.engine_params(run.params)
    progress(0.02, "reading the roads, buildings, shelters and hazard zones")
    G = inputs.road_graph(city, edits)
    buildings = inputs.buildings_frame(city, edits)
    zones = [h.geometry for h in inputs.hazards(city, edits)]
    demand = _demand(buildings, zones)
    sites = _candidates(city, edits, buildings, params, zones)
    run.warnings = []
    if sites.empty:
        raise ParamsRejected("candidates", "there is no candidate site outside the hazard zones")
    if params.p > len(sites):
        raise ParamsRejected("p", f"cannot open {params.p} of {len(sites)} candidate sites")
    if demand.empty or demand["people"].sum() <= 0:
        run.warnings.append(
            warning("no_evacuees", "nobody lives in the hazard zones: no shelter is needed")
        )
        run.meta = {"sites": _sites_geojson(city, sites, np.zeros(len(sites)), set()),
                    "recommendation": "Nobody lives in the hazard zones: no shelter is needed."}  # fmt: skip
        return _empty_kpis(sites)
    progress(0.1, f"travel times from {len(demand)} buildings to {len(sites)} sites")
    net = network_for(G, params.mode, params.walk_speed_mps)
    origins = snap_to_nodes(net, demand["x"].to_numpy(), demand["y"].to_numpy())
    targets = snap_to_nodes(net, sites["x"].to_numpy(), sites["y"].to_numpy(), into=True)
    cost = travel_times_s(net, origins, targets)
    progress(0.4, f"choosing {params.p} of {len(sites)} sites (HiGHS)")
    result = solve_p_median(
        demand["people"].to_numpy(float), cost, capacities=sites["capacity"].to_numpy(float),
        params=params,
    )  # fmt: skip
    progress(0.9, "storing the results")
    _store_buildings(run, demand, result)
    chosen = set(result.sites.tolist())
    kpis = _kpis(result, sites)
    run.meta = {
        "sites": _sites_geojson(city, sites, result.site_load, chosen),
        "recommendation": _recommendation(run, sites, result, kpis, params),
    }
    run.warnings += _warnings(result, sites, kpis)
    return kpis


def _demand(buildings, zones: list) -> pd.DataFrame:
    """Buildings with residents whose footprint's inner point lies in a hazard zone."""
    cols = ["id", "building_id", "added", "people", "x", "y", "geometry_wgs84", "height_m"]
    if not zones or buildings.empty:
        return pd.DataFrame(columns=cols)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    inside = np.any([shapely.contains_xy(z, x, y) for z in zones], axis=0)
    people = buildings["residents"].fillna(0).to_numpy(float)
    keep = inside & (people > 0)
    out = buildings.loc[keep, ["id", "building_id", "added", "geometry_wgs84", "height_m"]].copy()
    out["people"], out["x"], out["y"] = people[keep], x[keep], y[keep]
    return out.reset_index(drop=True)


def _candidates(city, edits, buildings, params: ShelterSitingParams, zones) -> pd.DataFrame:
    """Candidate sites: id, name, capacity (people), x, y (m, local CRS), kind; none in a zone."""
    rows = []
    if params.candidates in ("shelters", "both"):
        shelters = inputs.shelters_frame(city, edits)
        for s in shelters.itertuples():
            rows.append({"id": str(s.id), "name": s.name, "capacity": float(s.capacity),
                         "x": s.geometry.x, "y": s.geometry.y, "kind": "shelter"})  # fmt: skip
    if params.candidates in ("buildings", "both"):
        by_id = buildings.set_index(buildings["id"].astype(str))
        missing = [b for b in params.candidate_buildings if str(b) not in by_id.index]
        if missing:
            raise ParamsRejected(
                "candidate_buildings", f"no building {missing[0]!r} in this scenario's city"
            )
        if not params.candidate_buildings:
            raise ParamsRejected("candidate_buildings", "name at least one building id")
        for b in dict.fromkeys(str(b) for b in params.candidate_buildings):
            row = by_id.loc[b]
            point = shapely.point_on_surface(row.geometry)
            rows.append({"id": f"building-{b}", "name": f"building {b}",
                         "capacity": float(row.floor_area_m2 or 0) / params.area_per_person_m2,
                         "x": point.x, "y": point.y, "kind": "building"})  # fmt: skip
    sites = pd.DataFrame(rows, columns=["id", "name", "capacity", "x", "y", "kind"])
    if zones and len(sites):
        inside = np.any([shapely.contains_xy(z, sites["x"], sites["y"]) for z in zones], axis=0)
        sites = sites[~inside]
    return sites.reset_index(drop=True)


def _kpis(result, sites: pd.DataFrame) -> dict:
    s = result.summary()
    open_capacity = float(sites["capacity"].to_numpy()[result.sites].sum())
    return {
        "sites_open": s["sites_open"],
        "candidate_sites": int(len(sites)),
        "people_in_zone": float(s["people_served"] + s["people_unserved"]),
        "people_served": s["people_served"],
        "people_unserved": s["people_unserved"],
        "mean_travel_time_min": s["mean_travel_time_min"],
        "max_travel_time_min": s["max_travel_time_min"],
        "capacity_open": open_capacity,
        "capacity_used_share": s["people_served"] / open_capacity if open_capacity > 0 else None,
        "total_travel_person_h": s["objective_person_s"] / 3600.0,
        "optimality_gap": s["mip_gap"],
    }


def _empty_kpis(sites) -> dict:
    return {
        "sites_open": 0, "candidate_sites": int(len(sites)), "people_in_zone": 0.0,
        "people_served": 0.0, "people_unserved": 0.0, "mean_travel_time_min": None,
        "max_travel_time_min": None, "capacity_open": 0.0, "capacity_used_share": None,
        "total_travel_person_h": 0.0, "optimality_gap": 0.0,
    }  # fmt: skip


def _store_buildings(run: Run, demand: pd.DataFrame, result) -> None:
    """Each demand building: residents, people served (``evacuees``) and the travel time of
    its farthest assignment (``evacuation_time_s``; null when nobody of it is served)."""
    a = result.assignment
    served = np.bincount(a["demand"], weights=a["people"], minlength=len(demand))
    longest = np.full(len(demand), np.nan)
    if len(a):
        worst = a.groupby("demand")["travel_time_s"].max()
        longest[worst.index.to_numpy()] = worst.to_numpy()
    rows = [
        BuildingResult(
            run=run,
            building_id=b.building_id if not b.added else None,
            added=bool(b.added),
            geom=multipolygon(b.geometry_wgs84),
            height_m=float(b.height_m),
            residents=float(b.people),
            evacuees=float(served[i]),
            evacuation_time_s=finite(longest[i]),
        )
        for i, b in enumerate(demand.itertuples())
    ]
    BuildingResult.objects.bulk_create(rows, batch_size=5000)


def _sites_geojson(city, sites: pd.DataFrame, load, chosen: set) -> dict:
    """Every candidate as a lon/lat point: chosen or not, capacity and load (people)."""
    to_local = inputs.to_local(city)
    features = []
    for i, s in enumerate(sites.itertuples()):
        lon, lat = to_local.transform(s.x, s.y, direction="INVERSE")
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "id": s.id, "name": s.name, "kind": s.kind, "chosen": i in chosen,
                "capacity_people": float(s.capacity), "load_people": float(load[i]),
                "load_share": float(load[i] / s.capacity) if s.capacity > 0 else None,
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _recommendation(run: Run, sites, result, kpis: dict, params) -> str:
    """Words with the numbers behind them, naming the run they rest on."""
    names = [
        f"{sites['name'].iloc[j]} ({result.site_load[j]:.0f} of {sites['capacity'].iloc[j]:.0f} "
        "places)"
        for j in result.sites
    ]
    how = "by car" if params.mode == "car" else "on foot"
    text = (
        f"Open {', '.join(names)} (run {run.pk}, {kpis['sites_open']} of "
        f"{kpis['candidate_sites']} candidate sites): the {kpis['people_served']:.0f} people "
        f"served reach them {how} in {kpis['mean_travel_time_min']:.1f} min on average and "
        f"{kpis['max_travel_time_min']:.1f} min at most; they fill "
        f"{100 * (kpis['capacity_used_share'] or 0):.0f}% of the {kpis['capacity_open']:.0f} "
        "places."
    )
    if kpis["people_unserved"] > 0:
        text += f" {kpis['people_unserved']:.0f} people find no place: add capacity."
    if not result.optimal:
        text += f" The siting is {result.gap_words}."
    return text


def _warnings(result, sites, kpis) -> list[dict]:
    out = []
    if kpis["people_unserved"] > 0:
        total = float(sites["capacity"].sum())
        out.append(
            warning(
                "capacity_short",
                f"{kpis['people_unserved']:.0f} of {kpis['people_in_zone']:.0f} people in the "
                f"hazard zones find no place: the {kpis['sites_open']} open sites hold "
                f"{kpis['capacity_open']:.0f} people (all {len(sites)} candidates: {total:.0f}), "
                "or no road leads to one",
            )
        )
    if not result.optimal:
        out.append(
            warning(
                "not_optimal",
                f"the siting is {result.gap_words}",
            )
        )
    return out


SPEC = register(
    Simulator(
        name="shelter_siting",
        label="Shelter siting",
        description="Which shelters to open so that the people of the hazard zones reach one "
        "soonest, within the shelters' capacity (capacitated p-median)",
        params_class=ShelterSitingParams,
        params={
            **same_names("p", "candidates", "candidate_buildings", "area_per_person_m2", "mode"),
            **same_names("walk_speed_mps", "single_assignment", "allow_unserved", "mip_rel_gap"),
            "time_limit_s": ("time_limit_s", 1.0, None),
        },
        run=run_shelter_siting,
        kpis=(
            Kpi("sites_open", "Sites opened", "1"),
            Kpi("candidate_sites", "Candidate sites", "1"),
            Kpi("people_in_zone", "People in the hazard zones", "persons"),
            Kpi("people_served", "People with a place", "persons"),
            Kpi("people_unserved", "People without a place", "persons"),
            Kpi("mean_travel_time_min", "Mean travel time to the shelter", "min"),
            Kpi("max_travel_time_min", "Longest travel time to a shelter", "min"),
            Kpi("capacity_open", "Places in the opened sites", "persons"),
            Kpi("capacity_used_share", "Share of the places used", "1"),
            Kpi("total_travel_person_h", "Total travel time", "person-h"),
            Kpi("optimality_gap", "Distance from the proven optimum", "1"),
        ),
        results=("buildings",),
        engine_packages=("siting", "dynamics", "traffic", "evacuation", "common"),
        requires_edits=("hazard_zone",),
    )
)
