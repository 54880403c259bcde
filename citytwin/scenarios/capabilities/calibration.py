"""Calibration: the traffic demand estimated from the city's traffic counters (ODME).

Counters are datastreams linked to road edges (``sensors``); their average weekday volume at
the modelled local hour (:mod:`sensors.analysis.counts`) is matched by adjusting the model's
OD matrix, external (gateway) trips included, with Spiess's bilevel gradient method
(:mod:`simulators.calibration`). The estimated matrix is stored for the city
(``sensors_analysis.CalibratedDemand``); traffic runs with ``demand: "calibrated"`` use it.
The fit (share of counted links with GEH < 5, RMSE) before and after, and the observed vs
modelled volume per counter are the run's results.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from simulators.calibration import estimate_demand
from simulators.calibration.params import CalibrationParams
from simulators.traffic import assign
from simulators.traffic.demand import HOURLY_TRIP_SHARE

from ..models import Run, RunSeries
from ..warnings import warning
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from .traffic import _store_edges, apply_demand_edits, traffic_model

#: local hour of the model's design peak (the busiest hour of the weekday profile)
DESIGN_HOUR = int(np.argmax(HOURLY_TRIP_SHARE))


def _hour(params: CalibrationParams) -> int:
    return DESIGN_HOUR if params.time_of_day_h is None else int(params.time_of_day_h)


def _pin_counts(city, params: dict) -> None:
    """Pre-flight: the counts read are those up to the newest observation now (its time joins
    the run's parameters, so new data makes a new run instead of reusing an old one)."""
    from sensors.analysis.counts import counters

    newest = (
        counters(city, None).exclude(latest_phenomenon_time=None)
        .order_by("-latest_phenomenon_time").values_list("latest_phenomenon_time", flat=True)
        .first()
    )  # fmt: skip
    if newest is None:
        raise ParamsRejected(
            "", "no traffic counter with observations is linked to this city's roads"
        )
    params["counts_until"] = newest.isoformat()


def run_calibration(run: Run, progress: Progress) -> dict:
    """Estimate the city's demand from its counters; store it and the fit."""
    from sensors.analysis.counts import weekday_hour_counts
    from sensors.analysis.localtime import city_time_zone
    from sensors.analysis.models import CalibratedDemand

    city, edits = run.scenario.city, run.edits
    params: CalibrationParams = SPEC.engine_params(run.params)
    hour = _hour(params)
    tz = city_time_zone(city)
    until = datetime.fromisoformat(run.params["counts_until"]) + timedelta(seconds=1)
    counts = weekday_hour_counts(city, hour, tz, params.history_days, run.scenario.owner, until)
    model = traffic_model(
        city, edits, None if params.time_of_day_h is None else float(hour),
        params.external_traffic, 1.0,  # hourly volumes, as counted (no peak hour factor)
        lambda f, s: progress(0.2 * f, s),
    )  # fmt: skip
    prior = apply_demand_edits(model, city, edits)
    link_of_edge = {key[2]: i for i, key in enumerate(model.edge_keys)}
    per_link: dict[int, list[float]] = {}
    for c in counts:
        link = link_of_edge.get(c.road_edge_id)
        if link is not None and model.network.open[link]:
            per_link.setdefault(link, []).append(c.volume_veh_h)
    if not per_link:
        raise ParamsRejected(
            "time_of_day_h",
            f"no counter has weekday observations at {hour:02d}:00-{hour + 1:02d}:00 local time "
            f"({tz}) in the last {params.history_days} days on an open road",
        )
    links = np.array(sorted(per_link), dtype=np.int64)
    observed = np.array([np.mean(per_link[k]) for k in links])
    result = estimate_demand(
        model.network, prior, links, observed, params.odme(),
        progress=lambda f, s: progress(0.2 + 0.65 * f, f"estimation: {s}"),
    )  # fmt: skip
    progress(0.87, "storing the calibrated demand")
    node_ids = np.asarray(model.network.node_ids)
    demand = result.demand
    CalibratedDemand.objects.create(
        city=city, run=run, hour_local=float(hour),
        origin_nodes=[int(n) for n in node_ids[demand.origin]],
        destination_nodes=[int(n) for n in node_ids[demand.destination]],
        flow_veh_h=demand.flow.tolist(), prior_total_veh_h=prior.total,
        total_veh_h=demand.total, counted_links=len(links), fit=result.summary(),
    )  # fmt: skip
    # the map's volumes: the calibrated demand's equilibrium (full results: speeds, delays)
    loaded = assign(model.network, demand, algorithm="bfw", gap=1e-5, max_iter=500)
    _store_edges(run, model.graph, model.edge_keys, loaded)
    _store_scatter(run, result)
    before, after = result.before, result.after
    kpis = {
        "counted_links": len(links),
        "counters": len(counts),
        "hour_local": float(hour),
        "share_geh_below_5": after.share_geh_below_5,
        "share_geh_below_5_prior": before.share_geh_below_5,
        "mean_geh": after.mean_geh,
        "rmse_veh_h": after.rmse_veh_h,
        "rmse_prior_veh_h": before.rmse_veh_h,
        "percent_rmse": after.percent_rmse,
        "prior_trips": prior.total,
        "calibrated_trips": demand.total,
        "assignments": len(result.history),
    }
    run.meta = {**(run.meta or {}), "time_zone": tz, "fit_pairs": after.pairs()}
    if not after.passes:
        run.warnings = [warning(
            "geh_target_missed",
            f"GEH < 5 on {100 * after.share_geh_below_5:.0f} % of the {len(links)} counted "
            "links, under the 85 % acceptance target: check the counters' links and units",
        )]  # fmt: skip
    return kpis


def _store_scatter(run: Run, result) -> None:
    """Observed vs modelled volumes per counted link: series indexed by counted link."""
    index = [float(i) for i in range(result.after.n_links)]
    rows = [
        ("observed_veh_h", result.after.observed_veh_h),
        ("modelled_veh_h", result.after.modelled_veh_h),
        ("prior_modelled_veh_h", result.before.modelled_veh_h),
    ]
    RunSeries.objects.bulk_create([
        RunSeries(run=run, name=name, unit="veh/h", t_s=index, values=[float(v) for v in values])
        for name, values in rows
    ])  # fmt: skip


SPEC = register(
    Simulator(
        name="calibration",
        label="Calibration to counts",
        description="Traffic demand estimated from the traffic counters (OD matrix estimation, "
        "external zones included); later traffic runs can use it",
        params_class=CalibrationParams,
        params=same_names(
            "time_of_day_h",
            "history_days",
            "external_traffic",
            "outer_iterations",
            "max_factor",
            "weighting",
            "gap",
        ),  # fmt: skip
        run=run_calibration,
        preflight=_pin_counts,
        kpis=(
            Kpi("counted_links", "Counted links", "1"),
            Kpi("counters", "Counters read", "1"),
            Kpi("hour_local", "Hour counted (local time)", "h"),
            Kpi("share_geh_below_5", "Counted links with GEH < 5, calibrated", "share"),
            Kpi("share_geh_below_5_prior", "Counted links with GEH < 5, before", "share"),
            Kpi("mean_geh", "Mean GEH, calibrated", "1"),
            Kpi("rmse_veh_h", "RMSE of link volumes, calibrated", "veh/h"),
            Kpi("rmse_prior_veh_h", "RMSE of link volumes, before", "veh/h"),
            Kpi("percent_rmse", "RMSE / mean count, calibrated", "%"),
            Kpi("prior_trips", "Car trips of the model", "veh/h"),
            Kpi("calibrated_trips", "Car trips calibrated", "veh/h"),
            Kpi("assignments", "Equilibrium assignments", "1"),
        ),
        results=("edges", "series"),
        engine_packages=("calibration", "traffic", "common"),
        report_map=("edges", "vc_ratio", "Volume/capacity, calibrated demand", "1"),
    )
)
