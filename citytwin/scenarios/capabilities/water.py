"""Water: pressure-driven EPANET runs (WNTR) of a city's water network with the scenario's
outages; service per building (served / partly served / not served, for how long), people
affected, pressures and flows per node and link."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulators.water import network as water_net
from simulators.water.demand import normalised_pattern
from simulators.water.outages import Outage
from simulators.water.params import WaterParams
from simulators.water.service import NOT_SERVED, PARTLY, SERVED, classify

from ..edits import edit_type
from ..models import Run, RunSeries
from . import Kpi, ParamsRejected, Progress, Simulator, kpi_metric, register, same_names

BUILDING_PATTERN = "twin_buildings"
BUILDING_CATEGORY = "buildings"


@dataclass
class WaterContext:
    """What water edits need besides the model: twin id -> element name, the valve layer."""

    link_names: dict[int, str]
    node_names: dict[int, str]
    valve_layer: pd.DataFrame
    outage: Outage = field(default_factory=Outage)
    valves_closed: list = field(default_factory=list)


def _network(run: Run):
    """The network to run: the one the edits name, else the city's newest visible one."""
    from utilities.water.models import WaterLink, WaterNetwork, WaterNode

    city = run.scenario.city
    for edit in run.edits:
        for key in ("pipe", "links", "pumps"):
            if key in edit:
                return WaterLink.objects.get(pk=edit[key][0]).network
        for key in ("tanks", "junctions"):
            if key in edit:
                return WaterNode.objects.get(pk=edit[key][0]).network
    owner = run.scenario.owner_id
    networks = WaterNetwork.objects.filter(city=city).order_by("-created_at")
    network = (
        networks.filter(visibility="public").first() or networks.filter(owner_id=owner).first()
    )
    if network is None:
        raise ParamsRejected("", f"{city.name} has no water network: import an EPANET file first")
    return network


def preflight(city, params: dict) -> None:
    from utilities.water.models import WaterNetwork

    if not WaterNetwork.objects.filter(city=city).exists():
        raise ParamsRejected("", f"{city.name} has no water network: import an EPANET file first")


def data_version(city) -> list:
    """The city's water networks, every element, valve and service point, as row digests for
    the input checksum (a re-imported or edited network is a new input)."""
    from ..digest import rows_digest

    in_city = "t.network_id IN (SELECT id FROM water_waternetwork WHERE city_id = %(city)s)"
    tables = [("water_waternetwork", "t.city_id = %(city)s")] + [
        (table, in_city)
        for table in (
            "water_waterpattern",
            "water_watercurve",
            "water_waternode",
            "water_waterlink",
            "water_isolationvalve",
            "water_servicepoint",
        )
    ]
    return rows_digest(tables, {"city": city.pk})


def _add_building_demand(wn, network) -> tuple[dict[str, float], int]:
    """Each service point's demand as an extra demand (own pattern) at its junction."""
    from utilities.water.models import ServicePoint

    points = ServicePoint.objects.filter(network=network).values_list(
        "node__name", "demand_m3s", "people"
    )
    people: dict[str, float] = {}
    count = 0
    for node, demand, persons in points:
        if BUILDING_PATTERN not in wn.pattern_name_list:
            wn.add_pattern(BUILDING_PATTERN, normalised_pattern())
        wn.get_node(node).add_demand(demand, BUILDING_PATTERN, BUILDING_CATEGORY)
        people[node] = people.get(node, 0.0) + persons
        count += 1
    return people, count


def run_water(run: Run, progress: Progress) -> dict:
    """Build the model from the twin, apply the outages, run EPANET (PDD), store results."""
    from utilities.water.export import water_model
    from utilities.water.models import IsolationValve

    params: WaterParams = SPEC.engine_params(run.params)
    progress(0.02, "reading the water network")
    network = _network(run)
    wn = water_model(network)
    people_at, service_points = _add_building_demand(wn, network)
    water_net.apply_params(wn, params)
    valve_layer = pd.DataFrame(
        list(
            IsolationValve.objects.filter(network=network).values_list("link__name", "node__name")
        ),
        columns=["link", "node"],
    )
    ctx = WaterContext(
        link_names=dict(network.links.values_list("id", "name")),
        node_names=dict(network.nodes.values_list("id", "name")),
        valve_layer=valve_layer,
    )
    for index, edit in enumerate(run.edits):
        hook = getattr(edit_type(edit["type"]), "apply_to_water", None)
        if hook is not None:
            hook(wn, ctx, index, edit)
    progress(0.1, "EPANET: pressure-driven hydraulics")
    hyd = water_net.simulate(wn)
    progress(0.7, "service per building")
    times = hyd.pressure_m.index.to_numpy(dtype=float)
    nodes = list(hyd.pressure_m.columns)
    cut = np.zeros((len(times), len(nodes)), dtype=bool)
    column = {n: i for i, n in enumerate(nodes)}
    cache: dict[frozenset, set] = {}
    for k, t in enumerate(times):
        closed = frozenset(ctx.outage.closed_at(t))
        if closed not in cache:
            cache[closed] = water_net.disconnected_nodes(wn, set(closed)) if closed else set()
        for name in cache[closed]:
            cut[k, column[name]] = True
    hyd_params = wn.options.hydraulic
    # each report stands for the step after it; the one at the end of the period for none
    step_h = np.where(times < times[-1], hyd.timestep_s / 3600.0, 0.0) if len(times) > 1 else 1.0
    service = classify(
        hyd.pressure_m.to_numpy(),
        cut,
        step_h,
        hyd_params.required_pressure,
        hyd_params.minimum_pressure,
        nodes,
    )
    kpis = _store(run, network, wn, hyd, service, ctx, people_at)
    kpis["service_points"] = service_points
    kpis["leak_volume_m3"] = float(
        sum(hyd.demand_m3s[n].clip(lower=0).sum() * hyd.timestep_s for n in ctx.outage.leak_nodes)
        if len(times) > 1
        else sum(float(hyd.demand_m3s[n].iloc[0]) * 3600 for n in ctx.outage.leak_nodes)
    )
    kpis["valves_closed"] = len(ctx.valves_closed)
    kpis["links_closed"] = len(ctx.outage.closed)
    run.meta = {
        "network": network.slug,
        "network_id": network.pk,
        "timestep_s": hyd.timestep_s,
        "steps": len(times),
        "valves_closed": [list(v) for v in ctx.valves_closed],
        "required_pressure_m": hyd_params.required_pressure,
    }
    run.warnings = [{"code": "water_model", "message": note} for note in ctx.outage.notes]
    if service_points == 0:
        run.warnings.append(
            {
                "code": "no_service_points",
                "message": "no building is linked to the network (POST .../service-points/): "
                "people affected are 0 and the file's own demands were run",
            }
        )
    return kpis


def _store(run, network, wn, hyd, service, ctx, people_at) -> dict:
    from utilities.water.models import BuildingService, LinkResult, NodeResult, ServicePoint

    nodes = {n.name: n for n in network.nodes.all()}
    links = {link.name: link for link in network.links.all()}
    status_of = dict(zip(service.nodes, service.status, strict=True))
    pressure = hyd.pressure_m
    expected = hyd.demand_m3s  # delivered; the expected demand follows from the model
    import wntr

    wanted = wntr.metrics.expected_demand(wn).reindex(index=expected.index, method="nearest")
    rows = []
    for i, name in enumerate(service.nodes):
        node = nodes.get(name)
        geom = node.geom if node is not None else _leak_point(name, links)
        exp = float(wanted[name].sum()) if name in wanted else 0.0
        got = float(expected[name].clip(lower=0).sum())
        rows.append(
            NodeResult(
                run=run,
                node=node,
                name=name,
                geom=geom,
                min_pressure_m=water_net.finite_or_none(service.min_pressure_m[i]),
                mean_pressure_m=water_net.finite_or_none(pressure[name].mean()),
                hours_below_required_h=float(service.hours_below_required_h[i]),
                hours_without_water_h=float(service.hours_without_water_h[i]),
                status=str(service.status[i]),
                demand_delivered_share=(got / exp) if exp > 0 else None,
                pressure_m=[water_net.finite_or_none(v) for v in pressure[name].to_numpy()],
            )
        )
    NodeResult.objects.bulk_create(rows, batch_size=5000)
    link_rows = []
    for name in hyd.flow_m3s.columns:
        base = name.removesuffix("__B")
        link = links.get(name) or links.get(base)
        if link is None:
            continue
        flow = hyd.flow_m3s[name]
        link_rows.append(
            LinkResult(
                run=run,
                link=link if name in links else None,
                name=name,
                kind=link.kind,
                geom=link.geom,
                closed=name in ctx.outage.closed,
                max_abs_flow_m3s=water_net.finite_or_none(flow.abs().max()),
                mean_flow_m3s=water_net.finite_or_none(flow.mean()),
                max_velocity_ms=water_net.finite_or_none(hyd.velocity_ms[name].abs().max()),
            )
        )
    LinkResult.objects.bulk_create(link_rows, batch_size=5000)
    index = {n: i for i, n in enumerate(service.nodes)}
    people_status = {SERVED: 0.0, PARTLY: 0.0, NOT_SERVED: 0.0}
    buildings_status = {SERVED: 0, PARTLY: 0, NOT_SERVED: 0}
    person_hours = 0.0
    building_rows = []
    for sp in ServicePoint.objects.filter(network=network).select_related("building", "node"):
        i = index[sp.node.name]
        status = str(service.status[i])
        people_status[status] += sp.people
        buildings_status[status] += 1
        person_hours += sp.people * float(service.hours_without_water_h[i])
        building_rows.append(
            BuildingService(
                run=run,
                building=sp.building,
                node=sp.node,
                geom=sp.building.footprint,
                status=status,
                hours_below_required_h=float(service.hours_below_required_h[i]),
                hours_without_water_h=float(service.hours_without_water_h[i]),
                min_pressure_m=water_net.finite_or_none(service.min_pressure_m[i]),
                people=sp.people,
            )
        )
    BuildingService.objects.bulk_create(building_rows, batch_size=5000)
    _series(run, hyd, service, people_at, index)
    junctions = [n for n in service.nodes if n in nodes and nodes[n].kind == "junction"]
    jstatus = np.array([status_of[n] for n in junctions])
    jmin = np.array([service.min_pressure_m[index[n]] for n in junctions], dtype=float)
    return {
        "people_not_served": people_status[NOT_SERVED],
        "people_partly_served": people_status[PARTLY],
        "people_served": people_status[SERVED],
        "buildings_not_served": buildings_status[NOT_SERVED],
        "buildings_partly_served": buildings_status[PARTLY],
        "buildings_served": buildings_status[SERVED],
        "person_hours_without_water": person_hours,
        "junctions_not_served": int((jstatus == NOT_SERVED).sum()),
        "junctions_below_required": int((jstatus != SERVED).sum()),
        "min_pressure_m": float(np.nanmin(jmin)) if len(jmin) else 0.0,
        "max_hours_without_water_h": float(
            max((service.hours_without_water_h[index[n]] for n in junctions), default=0.0)
        ),
    }


def _leak_point(name: str, links):
    """A break's added junction sits halfway along its pipe."""
    return links[name.removesuffix("__break")].geom.interpolate_normalized(0.5)


def _series(run, hyd, service, people_at, index) -> None:
    """People without water and under the required pressure, step by step."""
    t = [float(v) for v in hyd.pressure_m.index]
    names = [n for n in people_at if n in index]
    if not names:
        return
    people = np.array([people_at[n] for n in names])
    cols = [index[n] for n in names]
    without, below = service.without[:, cols], service.below[:, cols]
    RunSeries.objects.bulk_create(
        [
            RunSeries(
                run=run,
                name="people below the required pressure",
                unit="people",
                t_s=t,
                values=[float(people[row].sum()) for row in below],
            ),
            RunSeries(
                run=run,
                name="people without water",
                unit="people",
                t_s=t,
                values=[float(people[row].sum()) for row in without],
            ),
        ]
    )


SPEC = register(
    Simulator(
        name="water",
        label="Water supply",
        description="Pressure-driven EPANET run (WNTR) of the city's water network: which "
        "buildings lose water, for how long, after breaks, closures and outages",
        params_class=WaterParams,
        params=same_names(
            "duration_h",
            "timestep_min",
            "demand_model",
            "required_pressure_m",
            "minimum_pressure_m",
            "pressure_exponent",
            "use_file_settings",
        ),
        run=run_water,
        kpis=(
            Kpi("people_not_served", "People without water for a while", "people"),
            Kpi("people_partly_served", "People with low pressure only", "people"),
            Kpi("people_served", "People fully served", "people"),
            Kpi("buildings_not_served", "Buildings without water for a while", "buildings"),
            Kpi("buildings_partly_served", "Buildings with low pressure only", "buildings"),
            Kpi("buildings_served", "Buildings fully served", "buildings"),
            Kpi("person_hours_without_water", "Person-hours without water", "person h"),
            Kpi("junctions_not_served", "Junctions without water for a while", "1"),
            Kpi("junctions_below_required", "Junctions below the required pressure", "1"),
            Kpi("min_pressure_m", "Lowest junction pressure", "m"),
            Kpi("max_hours_without_water_h", "Longest time without water", "h"),
            Kpi("leak_volume_m3", "Water lost through breaks", "m3"),
            Kpi("valves_closed", "Isolation valves closed", "1"),
            Kpi("links_closed", "Pipes, pumps and valves closed", "1"),
            Kpi("service_points", "Buildings linked to the network", "buildings"),
        ),
        results=("series",),
        engine_packages=("water",),
        preflight=preflight,
        data_version=data_version,
        sweep_metric=kpi_metric("people_not_served", "People without water for a while", "people"),
    )
)
