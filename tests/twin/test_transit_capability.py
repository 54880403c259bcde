"""The transit capability on a real city (Kotka): a tram line drawn in a scenario takes car
trips off the roads it follows; edits are checked against the city with the field named.

The city has no imported transit data here (the GTFS/OSM glue ``transit.engine_input`` is the
transit app's), so the lines are the scenario's own: a city without GTFS where a planner
draws the line.
"""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
import shapely
from django.core.management import call_command

from citytwin.scenarios import inputs
from citytwin.scenarios.edits import EditRejected, validate_edits
from citytwin.scenarios.models import BuildingResult, EdgeResult, Run, Scenario

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "progress"]),
    pytest.mark.slow,
]

PARAMS = ("gap=1e-3", "max_iter=12", "share_tolerance=0.01")


def _inline(ref: str, capsys) -> dict:
    call_command("run_scenario", ref, "transit", *PARAMS, "--inline", "--json", "--no-reuse")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "succeeded", out
    return out


def _main_road_route(city) -> tuple[dict, list[int]]:
    """A 2-4 km route (lon/lat) along the city's main roads, and the edge ids it follows."""
    G = inputs.base_road_graph(city)
    main = nx.MultiDiGraph(
        (u, v, k, d) for u, v, k, d in G.edges(keys=True, data=True)
        if str(d["highway"]).removesuffix("_link") in ("primary", "secondary", "trunk")
    )  # fmt: skip
    H = nx.DiGraph()
    for u, v, d in main.edges(data=True):
        H.add_edge(u, v, length=d["length"])
    source = max(H.nodes, key=lambda n: H.out_degree(n) + H.in_degree(n))
    dist, paths = nx.single_source_dijkstra(H, source, weight="length")
    target = min((n for n in dist if 2000 <= dist[n] <= 4000), key=lambda n: abs(dist[n] - 3000))
    nodes = paths[target]
    coords = [(G.nodes[n]["lon"], G.nodes[n]["lat"]) for n in nodes]
    edge_ids = [min(G[u][v]) for u, v in zip(nodes[:-1], nodes[1:], strict=True)]
    return shapely.geometry.mapping(shapely.LineString(coords)), edge_ids


def test_a_tram_line_takes_cars_off_the_roads_it_follows(api, committed_city, capsys):
    city = committed_city("Kotka")
    route, edge_ids = _main_road_route(city)
    base = _inline("baseline:Kotka", capsys)
    assert base["kpis"]["lines"] == 0 and base["kpis"]["transit_share"] == 0.0
    assert {w["code"] for w in Run.objects.get(pk=base["id"]).warnings} >= {"no_transit_lines"}
    edit = {"type": "add_transit_line", "route": route, "name": "Tram 1", "headway_min": 4,
            "speed_kph": 25, "vehicle_capacity": 250, "stop_spacing_m": 400}  # fmt: skip
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": "tram", "edits": [edit]}, format="json"
    )
    assert response.status_code == 201, response.content
    scenario = Scenario.objects.get(pk=response.json()["id"])
    out = _inline(f"{scenario.pk}", capsys)
    kpis = out["kpis"]
    assert kpis["lines"] == 2 and kpis["stops"] >= 6
    assert kpis["transit_share"] > 0.005 and kpis["transit_trips"] > 10
    assert kpis["car_trips"] < base["kpis"]["car_trips"]
    assert kpis["person_trips"] == pytest.approx(base["kpis"]["person_trips"], rel=1e-6)
    run = Run.objects.get(pk=out["id"])
    lines = run.meta["transit"]["lines"]
    assert max(max(ln["segment_load_per_h"]) for ln in lines) > 10
    assert sum(s["boardings"] for s in run.meta["transit"]["stops"]) > 10

    def along(run_id):
        rows = EdgeResult.objects.filter(run_id=run_id, edge_id__in=edge_ids)
        return sum(rows.values_list("volume_veh_h", flat=True))

    assert along(run.pk) < along(base["id"])  # the corridor's car volumes fall
    reach = np.array(
        BuildingResult.objects.filter(run=run).values_list("transit_jobs_reachable", flat=True)
    )
    base_reach = np.array(
        BuildingResult.objects.filter(run_id=base["id"]).values_list(
            "transit_jobs_reachable", flat=True
        )
    )
    assert len(reach) == len(base_reach) > 100
    assert reach.sum() > base_reach.sum()


def test_transit_edits_are_checked_with_the_field_named(committed_city):
    city = committed_city("Kotka")
    route, _ = _main_road_route(city)
    with pytest.raises(EditRejected) as err:
        validate_edits(city, [{"type": "add_transit_line", "route": route, "headway_min": 0.2}])
    assert err.value.field == "headway_min"
    with pytest.raises(EditRejected) as err:
        validate_edits(city, [{"type": "remove_transit_line", "line_id": "no-such-line"}])
    assert err.value.field == "line_id"
    far = {"type": "MultiPoint", "coordinates": [[0.0, 0.0], [0.1, 0.1]]}
    with pytest.raises(EditRejected) as err:
        validate_edits(city, [{"type": "add_transit_line", "route": route, "stops": far}])
    assert err.value.field == "stops"
    ok = validate_edits(
        city,
        [
            {"type": "add_transit_line", "route": route},
            {"type": "change_transit_line", "line_id": "add-0", "headway_min": 15},
            {"type": "transit_lane", "line": route},
        ],
    )
    assert ok[0]["headway_min"] == 10 and ok[0]["two_way"] is True
    assert ok[2]["resolved_edge_ids"]
    supply = inputs.transit_supply(city, ok, 7, 9, "tuesday")
    assert [ln.headway_s for ln in supply.lines] == [900.0, 900.0]


def test_imported_osm_lines_carry_riders_and_removing_the_busiest_puts_cars_back(
    api, committed_city, capsys
):
    city = committed_city("Helsinki")
    call_command("import_osm_transit", "Helsinki")  # the demo extract's trams, buses, metro
    capsys.readouterr()
    base = _inline("baseline:Helsinki", capsys)
    assert base["kpis"]["lines"] > 20 and base["kpis"]["transit_trips"] > 10
    run = Run.objects.get(pk=base["id"])
    busiest = max(run.meta["transit"]["lines"], key=lambda ln: ln["boardings"])
    assert busiest["boardings"] > 0
    edit = {"type": "remove_transit_line", "line_id": busiest["line_id"]}
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": "cut", "edits": [edit]}, format="json"
    )
    assert response.status_code == 201, response.content
    out = _inline(str(response.json()["id"]), capsys)
    assert out["kpis"]["lines"] == base["kpis"]["lines"] - 1
    assert out["kpis"]["transit_trips"] < base["kpis"]["transit_trips"]
    assert out["kpis"]["car_trips"] > base["kpis"]["car_trips"]
