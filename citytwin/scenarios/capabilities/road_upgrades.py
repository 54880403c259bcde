"""Road upgrades: the closures to avoid and the roads to strengthen first, with the numbers
behind them and the runs they rest on.

For a scenario and its base traffic run (``base_run``, else the newest finished traffic run of
the scenario on its current edits), the base equilibrium is solved again with its bushes kept
(same demand, same parameters) and every what-if is re-assigned from it
(:mod:`simulators.road_upgrades`, :func:`simulators.traffic.warm.reassign`):

- **closures to avoid**: from the newest finished closure sweep of that base run that the
  run's owner may see (its ranking rows, :func:`citytwin.sweeps.services.ranking`), else the
  ``closures`` busiest road segments (both directions), each closed once here; ranked by the
  vehicle-hours they add (h; a trip left without a route counts 1 h, as the sweeps' metric);
- **roads to strengthen**: the ``candidates`` links with the most delay vehicle-hours, each
  with every option (+``lanes_added`` lanes, +``capacity_increase_pct`` % capacity), the
  option that saves most vehicle-hours per lane-km added kept; ranked by that.

Results (no per-link rows: the base run has them): ``run.meta["tables"]`` (``closures`` and
``upgrades``: columns with units, ranked rows with the edits that reproduce each as a plain
scenario and the line in lon/lat), served as JSON/CSV/GeoJSON by ``/api/runs/<id>/tables/``
(:mod:`..tables`); ``run.meta["recommendation"]`` in words; ``run.meta["rests_on"]`` (base run,
sweep, this run).
"""

from __future__ import annotations

import hashlib
import json
import uuid

import numpy as np

from jobs.models import Job
from layers.models import RoadEdge
from simulators.road_upgrades import (
    RoadUpgradeParams,
    busiest_segments,
    congested_links,
    evaluate_closures,
    evaluate_upgrades,
    options_from,
    vehicle_hours,
)
from simulators.traffic import assign

from ..edit_types.roads import ChangeRoad, CloseRoad
from ..models import Run
from ..warnings import warning
from . import Kpi, ParamsRejected, Progress, Simulator, register, same_names
from . import traffic as traffic_capability

#: rows kept per table (the recommendation names ``top_n`` of them)
MAX_ROWS = 200

CLOSURE_COLUMNS = [
    {"key": "rank", "label": "Rank", "unit": "1"},
    {"key": "street", "label": "Street", "unit": ""},
    {"key": "edge_ids", "label": "Road edges closed", "unit": ""},
    {"key": "vehicle_hours_added_h", "label": "Vehicle-hours added", "unit": "h"},
    {"key": "trips_without_route_veh_h", "label": "Trips left without a route", "unit": "veh/h"},
    {"key": "base_volume_veh_h", "label": "Volume in the base", "unit": "veh/h"},
    {"key": "source", "label": "Evaluated in", "unit": ""},
    {"key": "sweep", "label": "Sweep", "unit": ""},
    {"key": "variant", "label": "Sweep variant", "unit": ""},
    {"key": "run", "label": "Run reused by the sweep", "unit": ""},
]
UPGRADE_COLUMNS = [
    {"key": "rank", "label": "Rank", "unit": "1"},
    {"key": "street", "label": "Street", "unit": ""},
    {"key": "edge_id", "label": "Road edge", "unit": ""},
    {"key": "option", "label": "Best upgrade", "unit": ""},
    {"key": "saving_veh_h_per_h", "label": "Vehicle-hours saved", "unit": "veh·h/h"},
    {"key": "lane_km_added", "label": "Lane-km added", "unit": "lane-km"},
    {"key": "saving_veh_h_per_h_per_lane_km", "label": "Saved per lane-km",
     "unit": "veh·h/h per lane-km"},
    {"key": "lanes_before", "label": "Lanes before", "unit": "lanes"},
    {"key": "lanes_after", "label": "Lanes after", "unit": "lanes"},
    {"key": "capacity_before_veh_h", "label": "Capacity before", "unit": "veh/h"},
    {"key": "capacity_after_veh_h", "label": "Capacity after", "unit": "veh/h"},
    {"key": "length_km", "label": "Length", "unit": "km"},
    {"key": "base_vc_ratio", "label": "Volume/capacity in the base", "unit": "1"},
    {"key": "base_delay_veh_h", "label": "Delay on it in the base", "unit": "veh·h/h"},
    {"key": "options_evaluated", "label": "Options evaluated", "unit": ""},
]  # fmt: skip


def run_road_upgrades(run: Run, progress: Progress) -> dict:
    """Rank closures and upgrades from the base traffic run; store tables and words."""
    p: RoadUpgradeParams = SPEC.engine_params(run.params)
    base_run = _base_run(run, p.base_run)
    tparams = traffic_capability.SPEC.engine_params(base_run.params)
    if tparams.demand != "model":
        raise ParamsRejected(
            "base_run", "the base run uses calibrated demand: run traffic with the model demand"
        )
    gap = p.gap if p.gap is not None else tparams.gap
    max_iter = int(tparams.max_iter)
    unrouted = traffic_capability.UNROUTED_TRIP_H
    model, demand, _dropped = traffic_capability.scenario_demand(
        base_run, tparams, lambda f, s: progress(0.1 * f, f"base traffic model: {s}")
    )
    algorithm, fallback = traffic_capability.solver_for("bush", model.network.n_links, demand)
    base = assign(
        model.network, demand, algorithm=algorithm, gap=gap, max_iter=max_iter,
        keep_bushes=algorithm == "bush",
        progress=lambda f, s: progress(0.1 + 0.1 * f, f"base equilibrium: {s}"),
    )  # fmt: skip
    edge_ids = np.array([model.graph.edges[k].get("edge_id") or -1 for k in model.edge_keys])
    eligible = edge_ids >= 0  # an added road has no id an edit could name
    run.warnings = list(fallback)
    if algorithm != "bush":
        run.warnings.append(
            warning("no_warm_start", "each what-if was re-assigned from scratch (no bushes)")
        )

    sweep = _closure_sweep(base_run, run.job.owner)
    progress(0.2, "closures")
    if sweep is not None:
        closures, failed = _closures_from_sweep(sweep, run.job.owner, p.closures)
        link_of = {int(e): i for i, e in enumerate(edge_ids) if e >= 0}
        for row in closures:  # their traffic in the base, as for the closures run here
            on = [link_of[e] for e in row["edge_ids"] if e in link_of]
            row["base_volume_veh_h"] = float(base.volume[on].sum())
        if failed:
            run.warnings.append(
                warning("sweep_failures", f"{failed} variants of sweep {sweep.pk} failed")
            )
        n_closure_runs = 0
    else:
        segments = busiest_segments(base, eligible, p.closures)
        evaluated = evaluate_closures(
            base, segments, gap, max_iter, unrouted,
            progress=lambda f, s: progress(0.2 + 0.3 * f, s),
        )  # fmt: skip
        closures = _closures_evaluated(run, evaluated, edge_ids)
        n_closure_runs = len(segments)
    progress(0.5, "upgrades")
    links = congested_links(base, eligible, p.candidates)
    upgrades = evaluate_upgrades(
        base, links, options_from(p.lanes_added, p.capacity_increase_pct), gap, max_iter,
        unrouted, progress=lambda f, s: progress(0.5 + 0.45 * f, s),
    )  # fmt: skip
    upgrade_rows = _upgrade_rows(run, upgrades, base.network, edge_ids)
    _add_streets(closures, upgrade_rows)
    n_upgrade_runs = sum(len(r["evaluated"]) for r in upgrade_rows)
    kpis = {
        "base_vehicle_hours": vehicle_hours(base, unrouted),
        "base_run_vehicle_hours": traffic_capability.vehicle_hours_with_unrouted(base_run.kpis),
        "closures_ranked": len(closures),
        "closures_from_sweep": sweep is not None,
        "worst_closure_vehicle_hours": closures[0]["vehicle_hours_added_h"] if closures else None,
        "upgrades_ranked": len(upgrade_rows),
        "best_saving_veh_h_per_h": upgrade_rows[0]["saving_veh_h_per_h"] if upgrade_rows else None,
        "best_saving_per_lane_km": upgrade_rows[0]["saving_veh_h_per_h_per_lane_km"]
        if upgrade_rows
        else None,
        "best_lane_km_added": upgrade_rows[0]["lane_km_added"] if upgrade_rows else None,
        "reassignments": n_closure_runs + n_upgrade_runs,
        "relative_gap": gap,
    }
    if not len(links):
        run.warnings.append(
            warning("no_congestion", "no link has delay in the base: strengthening saves nothing")
        )
    if not closures:
        run.warnings.append(warning("no_closure", "no road segment carries traffic in the base"))
    rests_on = {
        "base_run": str(base_run.pk),
        "base_run_url": f"/api/runs/{base_run.pk}/",
        "sweep": sweep.pk if sweep is not None else None,
        "sweep_ranking_url": f"/api/sweeps/{sweep.pk}/ranking/" if sweep is not None else None,
        "run": str(run.pk),
    }
    run.meta = {
        "tables": {
            "closures": {
                "title": "Closures to avoid (most harmful first)",
                "order": "vehicle_hours_added_h, highest first",
                "columns": CLOSURE_COLUMNS,
                "rows": closures,
            },
            "upgrades": {
                "title": "Roads to strengthen first (most saved per lane-km first)",
                "order": "saving_veh_h_per_h_per_lane_km, highest first",
                "columns": UPGRADE_COLUMNS,
                "rows": upgrade_rows,
            },
        },
        "rests_on": rests_on,
    }
    run.meta["recommendation"] = _recommendation(run, closures, upgrade_rows, rests_on, p.top_n)
    progress(1.0, "done")
    return kpis


def _base_run(run: Run, wanted: str | None) -> Run:
    """The base traffic run: the one named (visible, succeeded, this scenario's edits), else
    the newest succeeded traffic run of the scenario on the run's edits."""
    name = traffic_capability.SPEC.name
    runs = Run.objects.filter(
        scenario=run.scenario, simulator=name, job__status=Job.Status.SUCCEEDED
    ).select_related("job")
    if wanted is not None:
        base = runs.filter(pk=wanted).first()
        if base is None:
            raise ParamsRejected(
                "base_run", f"no finished traffic run {wanted} of scenario {run.scenario_id}"
            )
        if base.edits != run.edits:
            raise ParamsRejected(
                "base_run", "was run on other edits than the scenario has now: run traffic again"
            )
        return base
    for base in runs.order_by("-job__finished_at")[:200]:
        if base.edits == run.edits:
            return base
    raise ParamsRejected(
        "base_run",
        "the scenario has no finished traffic run on its current edits: run traffic first",
    )


def _preflight(city, params: dict) -> None:
    """400 before queueing: the options together (at least one) and a named base run (a
    finished traffic run of the city)."""
    SPEC.engine_params(params)  # the class's own checks across fields
    wanted = params.get("base_run")
    if wanted is None:
        return
    try:
        uuid.UUID(str(wanted))
    except ValueError:
        raise ParamsRejected("base_run", f"must be a run id, got {wanted!r}") from None
    base = Run.objects.filter(pk=wanted).select_related("job", "scenario").first()
    if base is None or base.scenario.city_id != city.pk:
        raise ParamsRejected("base_run", f"no run {wanted} in {city.name}")
    if base.simulator != traffic_capability.SPEC.name:
        raise ParamsRejected("base_run", f"run {wanted} is a {base.simulator} run, not traffic")
    if base.job.status != Job.Status.SUCCEEDED:
        raise ParamsRejected("base_run", f"run {wanted} has not succeeded ({base.job.status})")


def _closure_sweep(base_run: Run, owner):
    """The newest finished sweep of ``base_run`` that closes links (factor 0) and that the
    owner may see, or None."""
    from citytwin.sweeps.services import sweeps_visible_to

    sweeps = sweeps_visible_to(owner).filter(
        base_run=base_run,
        simulator=traffic_capability.SPEC.name,
        job__status=Job.Status.SUCCEEDED,
    )
    for sweep in sweeps.order_by("-created_at")[:20]:
        if sweep.generator.get("factor") == 0:
            return sweep
    return None


def _closures_from_sweep(sweep, owner, limit: int) -> tuple[list[dict], int]:
    """The sweep's ranking rows that close roads, as closure rows; and how many failed."""
    from citytwin.sweeps.services import ranking

    data = ranking(sweep, None, owner)
    rows, failed = [], 0
    for r in data["rows"]:
        if r["delta"] is None:
            failed += 1
            continue
        if not r["edits"] or any(e.get("type") != CloseRoad.type for e in r["edits"]):
            continue
        ids = [i for e in r["edits"] for i in e.get("edge_ids") or e.get("resolved_edge_ids") or []]
        rows.append(
            {
                "rank": len(rows) + 1,
                "street": None,
                "edge_ids": ids,
                "vehicle_hours_added_h": float(r["delta"]),
                "trips_without_route_veh_h": float(r["kpis"].get("unassignable_trips", 0.0)),
                "base_volume_veh_h": None,
                "source": f"sweep {sweep.pk}, variant {r['variant']}",
                "sweep": sweep.pk,
                "variant": r["variant"],
                "run": r["run"],
                "label": r["label"],
                "edits": r["edits"],
                "geometry": json.loads(r["geometry"]) if r["geometry"] else None,
            }
        )
        if len(rows) >= min(limit, MAX_ROWS):
            break
    return rows, failed


def _closures_evaluated(run: Run, evaluated, edge_ids: np.ndarray) -> list[dict]:
    rows = []
    for k, c in enumerate(evaluated[:MAX_ROWS], start=1):
        ids = sorted(int(edge_ids[i]) for i in c.links)
        rows.append(
            {
                "rank": k,
                "street": None,
                "edge_ids": ids,
                "vehicle_hours_added_h": c.added_h,
                "trips_without_route_veh_h": c.unassignable_trips_veh_h,
                "base_volume_veh_h": c.base_volume_veh_h,
                "source": f"run {run.pk} (warm-started re-assignment)"
                if c.warm_started
                else f"run {run.pk} (re-assignment)",
                "sweep": None,
                "variant": None,
                "run": None,
                "edits": [{"type": CloseRoad.type, "edge_ids": ids}],
                "geometry": None,
            }
        )
    return rows


def _upgrade_rows(run: Run, upgrades, network, edge_ids: np.ndarray) -> list[dict]:
    rows = []
    for k, u in enumerate(upgrades[:MAX_ROWS], start=1):
        eid = int(edge_ids[u.link])
        if u.option.kind == "lanes":
            edit = {"type": ChangeRoad.type, "edge_ids": [eid], "lanes": int(round(u.new_lanes))}
        else:
            edit = {
                "type": ChangeRoad.type,
                "edge_ids": [eid],
                "capacity_veh_h": u.new_capacity_veh_h,
            }
        rows.append(
            {
                "rank": k,
                "street": None,
                "edge_id": eid,
                "option": u.option.label,
                "saving_veh_h_per_h": u.saving_veh_h_per_h,
                "lane_km_added": u.lane_km_added,
                "saving_veh_h_per_h_per_lane_km": u.saving_per_lane_km,
                "lanes_before": u.lanes,
                "lanes_after": u.new_lanes,
                "capacity_before_veh_h": u.capacity_veh_h,
                "capacity_after_veh_h": u.new_capacity_veh_h,
                "length_km": float(network.length[u.link]) * network.length_unit_km,
                "base_vc_ratio": u.base_vc_ratio,
                "base_delay_veh_h": u.base_delay_vehicle_hours,
                "options_evaluated": "; ".join(
                    f"{e['option']}: {e['saving_veh_h_per_h']:.3f} veh·h/h over "
                    f"{e['lane_km_added']:.3f} lane-km"
                    for e in u.evaluated
                ),
                "evaluated": u.evaluated,
                "source": f"run {run.pk} (warm-started re-assignment)"
                if u.warm_started
                else f"run {run.pk} (re-assignment)",
                "edits": [edit],
                "geometry": None,
            }
        )
    return rows


def _add_streets(closures: list[dict], upgrades: list[dict]) -> None:
    """Street names in words and lines (lon/lat GeoJSON) of the rows, in one query."""
    ids = {i for r in closures for i in r["edge_ids"]} | {r["edge_id"] for r in upgrades}
    edges = RoadEdge.objects.filter(pk__in=ids).only("id", "name", "highway", "geom").in_bulk()
    for row in closures:
        found = [edges[i] for i in row["edge_ids"] if i in edges]
        row["street"] = _words(found)
        if row["geometry"] is None and found:
            lines = [json.loads(e.geom.json)["coordinates"] for e in found]
            row["geometry"] = (
                {"type": "LineString", "coordinates": lines[0]}
                if len(lines) == 1
                else {"type": "MultiLineString", "coordinates": lines}
            )
    for row in upgrades:
        edge = edges.get(row["edge_id"])
        row["street"] = _words([edge] if edge else [])
        if edge is not None:
            row["geometry"] = json.loads(edge.geom.json)


def _words(edges: list[RoadEdge]) -> str:
    """'Mannerheimintie', 'Mannerheimintie / Runeberginkatu', or 'an unnamed residential road'."""
    names = list(dict.fromkeys(e.name for e in edges if e.name))
    if names:
        return " / ".join(names[:3])
    kinds = list(dict.fromkeys((e.highway or "road").replace("_", " ") for e in edges))
    kind = kinds[0] if kinds else "road"
    return f"an unnamed {kind}" if kind.endswith("road") else f"an unnamed {kind} road"


def _recommendation(run: Run, closures, upgrades, rests_on: dict, top_n: int) -> str:
    """Words with the numbers behind them, naming the runs they rest on."""
    parts = []
    if closures:
        where = (
            f"sweep {rests_on['sweep']}"
            if rests_on["sweep"] is not None
            else f"{len(closures)} closures re-assigned in run {run.pk}"
        )
        named = "; ".join(
            f"{c['street']} (edges {', '.join(map(str, c['edge_ids']))}): "
            f"+{c['vehicle_hours_added_h']:,.1f} vehicle-hours"
            + (
                f", {c['trips_without_route_veh_h']:,.0f} trips/h left without a route"
                if c["trips_without_route_veh_h"] > 0
                else ""
            )
            for c in closures[:top_n]
        )
        parts.append(f"Avoid closing first: {named} (from {where}).")
    useful = [u for u in upgrades if u["saving_veh_h_per_h"] > 0]
    if useful:
        named = "; ".join(
            f"{u['street']} (edge {u['edge_id']}) {u['option']}: saves "
            f"{u['saving_veh_h_per_h']:,.2f} veh·h per hour over {u['lane_km_added']:.3f} lane-km "
            f"({u['saving_veh_h_per_h_per_lane_km']:,.1f} veh·h/h per lane-km)"
            for u in useful[:top_n]
        )
        parts.append(f"Strengthen first: {named} (re-assigned in run {run.pk}).")
    elif upgrades:
        parts.append("No capacity increase evaluated saves vehicle-hours.")
    else:
        parts.append("No congested link to strengthen.")
    parts.append(f"Base traffic run {rests_on['base_run']}.")
    return " ".join(parts)


def _data_version(city) -> str:
    """What a run with the same edits and parameters may rest on differently: the city's
    finished traffic runs (a newer one may be the base) and traffic sweeps (a finished one
    may hold the closures), as one digest."""
    from citytwin.sweeps.models import Sweep

    name = traffic_capability.SPEC.name
    runs = Run.objects.filter(
        scenario__city=city, simulator=name, job__status=Job.Status.SUCCEEDED
    ).values_list("pk", flat=True)
    sweeps = Sweep.objects.filter(
        scenario__city=city, simulator=name, job__status=Job.Status.SUCCEEDED
    ).values_list("pk", flat=True)
    text = json.dumps([sorted(map(str, runs)), sorted(sweeps)])
    return hashlib.sha256(text.encode()).hexdigest()


SPEC = register(
    Simulator(
        name="road_upgrades",
        label="Road upgrades",
        description="The closures to avoid and the roads to strengthen first (+lanes or "
        "+capacity that saves most vehicle-hours per lane-km), each re-assigned from the base "
        "traffic run's equilibrium",
        params_class=RoadUpgradeParams,
        params=same_names(
            "base_run",
            "closures",
            "candidates",
            "lanes_added",
            "capacity_increase_pct",
            "gap",
            "top_n",
        ),  # fmt: skip
        run=run_road_upgrades,
        preflight=_preflight,
        data_version=_data_version,
        kpis=(
            Kpi("base_vehicle_hours", "Vehicle-hours in the base (as re-solved)", "h"),
            Kpi("base_run_vehicle_hours", "Vehicle-hours in the base traffic run", "h"),
            Kpi("closures_ranked", "Closures ranked", "1"),
            Kpi("closures_from_sweep", "Closures read from a finished sweep", "1"),
            Kpi("worst_closure_vehicle_hours", "Vehicle-hours added by the worst closure", "h"),
            Kpi("upgrades_ranked", "Roads to strengthen ranked", "1"),
            Kpi("best_saving_veh_h_per_h", "Vehicle-hours saved by the best upgrade", "veh·h/h"),
            Kpi(
                "best_saving_per_lane_km",
                "Saved per lane-km by the best upgrade",
                "veh·h/h per lane-km",
            ),
            Kpi("best_lane_km_added", "Lane-km the best upgrade adds", "lane-km"),
            Kpi("reassignments", "Re-assignments run", "1"),
            Kpi("relative_gap", "Relative gap of each re-assignment", "1"),
        ),  # fmt: skip
        results=(),
        engine_packages=("road_upgrades", "traffic", "common"),
    )
)
