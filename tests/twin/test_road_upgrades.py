"""The road_upgrades recommendation in the twin: closures to avoid and roads to strengthen from
a scenario's base traffic run, with known answers (the bridge between two halves; a choked
link whose upgrade saves what two plain traffic runs differ), its tables as JSON/CSV/GeoJSON,
a finished closure sweep read instead of re-running, and bad input naming the field."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from citytwin.scenarios.models import Run, Scenario
from citytwin.scenarios.services import start_run
from citytwin.scenarios.tasks import run_simulation
from layers.models import RoadEdge

from .cities import tiny_city
from .conftest import wait_for_job
from .test_webmap import browser, open_map, page  # noqa: F401 (the headless browser fixtures)

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "progress"])]


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username=f"roads-{uuid.uuid4().hex[:6]}")


def _client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _scenario(api, city, edits=()) -> Scenario:
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": "roads", "edits": list(edits)}, format="json"
    )
    assert response.status_code == 201, response.content
    return Scenario.objects.get(pk=response.json()["id"])


def _run(scenario, simulator, owner, **params) -> Run:
    """A run in this process as ``owner`` (the run_scenario --inline path, with an owner)."""
    run, _ = start_run(scenario, simulator, params, owner, reuse=False, enqueue=False)
    run_simulation(str(run.pk))
    return Run.objects.select_related("job").get(pk=run.pk)


def test_the_bridge_is_the_first_closure_to_avoid_and_the_tables_download(owner, tmp_path):
    city = tiny_city("RoadsBridge", links=40, seed=2, bridge=True)
    api = _client(owner)
    scenario = _scenario(api, city)
    base = _run(scenario, "traffic", owner)
    assert base.job.status == "succeeded", base.job.error
    ru = _run(scenario, "road_upgrades", owner, closures=40, candidates=4)
    assert ru.job.status == "succeeded", ru.job.error
    tables = ru.meta["tables"]
    closures = tables["closures"]["rows"]
    # closing the bridge (both directions) strands every trip between the halves: first
    assert closures[0]["edge_ids"] == city.bridge_ids
    assert closures[0]["trips_without_route_veh_h"] > 0
    assert closures[0]["vehicle_hours_added_h"] > closures[1]["vehicle_hours_added_h"]
    assert [c["rank"] for c in closures] == list(range(1, len(closures) + 1))
    names = set(RoadEdge.objects.filter(pk__in=city.bridge_ids).values_list("name", flat=True))
    assert closures[0]["street"] in names or closures[0]["street"].startswith("an unnamed")
    assert closures[0]["edits"] == [{"type": "close_road", "edge_ids": city.bridge_ids}]
    kpis = ru.kpis
    assert kpis["closures_from_sweep"] is False and kpis["closures_ranked"] == len(closures)
    assert kpis["worst_closure_vehicle_hours"] == closures[0]["vehicle_hours_added_h"]
    # the base re-solved with its bushes is the base run's equilibrium
    assert kpis["base_vehicle_hours"] == pytest.approx(kpis["base_run_vehicle_hours"], rel=1e-3)
    assert ru.meta["rests_on"]["base_run"] == str(base.pk)
    text = ru.meta["recommendation"]
    assert closures[0]["street"] in text and str(base.pk) in text and str(ru.pk) in text
    assert f"+{closures[0]['vehicle_hours_added_h']:,.1f} vehicle-hours" in text

    # the tables: JSON, CSV (units in the column names), GeoJSON (the closed street's lines)
    listing = api.get(f"/api/runs/{ru.pk}/tables/").json()
    assert [t["name"] for t in listing["tables"]] == ["closures", "upgrades"]
    doc = api.get(f"/api/runs/{ru.pk}/tables/closures/?limit=3").json()
    assert len(doc["rows"]) == 3 and doc["rows"][0]["edge_ids"] == city.bridge_ids
    assert {"key": "vehicle_hours_added_h", "label": "Vehicle-hours added", "unit": "h"} in doc[
        "columns"
    ]
    text = api.get(f"/api/runs/{ru.pk}/tables/closures/?format=csv").content.decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == len(closures)
    assert table[0]["edge_ids"] == " ".join(map(str, city.bridge_ids))
    assert float(table[0]["vehicle_hours_added_h"]) == pytest.approx(
        closures[0]["vehicle_hours_added_h"]
    )
    geo = api.get(f"/api/runs/{ru.pk}/tables/closures/?format=geojson").json()
    assert geo["features"][0]["geometry"]["type"] == "MultiLineString"
    assert len(geo["features"][0]["geometry"]["coordinates"]) == 2
    gpkg = api.get(f"/api/runs/{ru.pk}/tables/closures/?format=gpkg")
    path = tmp_path / "closures.gpkg"
    path.write_bytes(gpkg.content)
    import geopandas as gpd

    frame = gpd.read_file(path)
    assert len(frame) == len(closures) and frame.crs.to_epsg() == 4326
    assert frame["vehicle_hours_added_h"].iloc[0] == pytest.approx(
        closures[0]["vehicle_hours_added_h"]
    )
    bad = api.get(f"/api/runs/{ru.pk}/tables/closures/?format=xls")
    assert bad.status_code == 400 and bad.json()["field"] == "format"
    bad = api.get(f"/api/runs/{ru.pk}/tables/closures/?limit=0")
    assert bad.status_code == 400 and bad.json()["field"] == "limit"
    missing = api.get(f"/api/runs/{ru.pk}/tables/nope/")
    assert missing.status_code == 404 and missing.json()["field"] == "table"
    # a private scenario's run stays private on this path too
    from rest_framework.test import APIClient

    hidden = APIClient().get(f"/api/runs/{ru.pk}/tables/closures/?format=csv")
    assert hidden.status_code == 404 and hidden.json()["field"] == "run"


def test_bad_parameters_name_the_field(owner):
    city = tiny_city("RoadsBad", links=40, seed=3)
    api = _client(owner)
    scenario = _scenario(api, city)
    url = f"/api/scenarios/{scenario.pk}/runs/"
    for params, field in (
        ({"closures": 0}, "params.closures"),
        ({"candidates": 101}, "params.candidates"),
        ({"lanes_added": 1.5}, "params.lanes_added"),
        ({"lanes_added": 0, "capacity_increase_pct": 0}, "params.lanes_added"),
        ({"capacity_increase_pct": -5}, "params.capacity_increase_pct"),
        ({"gap": 0.5}, "params.gap"),
        ({"base_run": "nope"}, "params.base_run"),
        ({"base_run": str(uuid.uuid4())}, "params.base_run"),
        ({"speed": 3}, "params.speed"),
    ):
        response = api.post(url, {"simulator": "road_upgrades", "params": params}, format="json")
        assert response.status_code == 400, (params, response.content)
        assert response.json()["field"] == field, (params, response.json())
    # no traffic run on the scenario yet: the run fails naming base_run, nothing stored
    run = _run(scenario, "road_upgrades", owner)
    assert run.job.status == "failed"
    assert run.job.error["field"] == "params.base_run", run.job.error
    assert "run traffic first" in run.job.error["message"] and run.meta == {}


def test_the_choked_link_is_strengthened_first_saving_what_two_traffic_runs_differ(owner):
    city = tiny_city("RoadsNeck", links=60, seed=5)
    api = _client(owner)
    plain = _scenario(api, city)
    first = _run(plain, "traffic", owner)
    from citytwin.scenarios.models import EdgeResult

    busiest = EdgeResult.objects.filter(run=first).order_by("-volume_veh_h", "edge_id").first()
    # a quarter of its traffic's capacity: the one bottleneck of an otherwise free city
    choke = {"type": "change_road", "edge_ids": [busiest.edge_id],
             "capacity_veh_h": busiest.volume_veh_h / 4}  # fmt: skip
    scenario = _scenario(api, city, [choke])
    base = _run(scenario, "traffic", owner, gap=1e-7)
    assert base.job.status == "succeeded", base.job.error
    ru = _run(scenario, "road_upgrades", owner, closures=3, candidates=6, lanes_added=1,
              capacity_increase_pct=50.0)  # fmt: skip
    assert ru.job.status == "succeeded", ru.job.error
    rows = ru.meta["tables"]["upgrades"]["rows"]
    top = rows[0]
    assert top["edge_id"] == busiest.edge_id
    assert top["saving_veh_h_per_h"] > 0
    assert top["saving_veh_h_per_h_per_lane_km"] == pytest.approx(
        top["saving_veh_h_per_h"] / top["lane_km_added"]
    )
    values = [r["saving_veh_h_per_h_per_lane_km"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert len(values) > 1 and values[1] < 0.01 * values[0]  # the obvious one, by far
    assert ru.kpis["best_saving_veh_h_per_h"] == top["saving_veh_h_per_h"]
    assert ru.kpis["upgrades_ranked"] == len(rows)
    # the known answer: a plain traffic run with the recommended edit added
    upgraded = _scenario(api, city, [choke, *top["edits"]])
    after = _run(upgraded, "traffic", owner, gap=1e-7)
    difference = base.kpis["vehicle_hours"] - after.kpis["vehicle_hours"]
    assert top["saving_veh_h_per_h"] == pytest.approx(difference, rel=1e-2, abs=1e-3)
    assert f"edge {busiest.edge_id}) {top['option']}" in ru.meta["recommendation"]
    upgrades_csv = api.get(f"/api/runs/{ru.pk}/tables/upgrades/?format=csv").content.decode()
    header = next(csv.reader(io.StringIO(upgrades_csv)))
    assert {"saving_veh_h_per_h", "lane_km_added", "saving_veh_h_per_h_per_lane_km"} <= set(header)


def test_a_finished_closure_sweep_of_the_base_is_read_not_run_again(owner, celery_worker_process):
    from citytwin.sweeps.models import Sweep

    city = tiny_city("RoadsSweep", links=40, seed=2, bridge=True)
    api = _client(owner)
    scenario = _scenario(api, city)
    base = _run(scenario, "traffic", owner)
    created = api.post(
        "/api/sweeps/",
        {"scenario": scenario.pk, "simulator": "traffic",
         "generator": {"kind": "close_busiest_links", "n": 6}},
        format="json",
    ).json()  # fmt: skip
    sweep = Sweep.objects.get(pk=created["id"])
    job = wait_for_job(sweep.job_id, timeout_s=180)
    assert job.status == "succeeded", job.error
    sweep.refresh_from_db()
    assert sweep.base_run_id == base.pk  # the same base: the sweep reused the run
    ru = _run(scenario, "road_upgrades", owner, closures=5, candidates=2)
    assert ru.job.status == "succeeded", ru.job.error
    assert ru.kpis["closures_from_sweep"] is True
    assert ru.meta["rests_on"]["sweep"] == sweep.pk
    ranking = api.get(f"/api/sweeps/{sweep.pk}/ranking/").json()["rows"]
    closures = ru.meta["tables"]["closures"]["rows"]
    assert len(closures) == 5
    for row, swept in zip(closures, ranking, strict=False):
        assert row["vehicle_hours_added_h"] == swept["delta"]
        assert row["source"] == f"sweep {sweep.pk}, variant {swept['variant']}"
    # the busiest links include both directions of the bridge; one of them strands most
    assert closures[0]["edge_ids"][0] in city.bridge_ids
    assert f"sweep {sweep.pk}" in ru.meta["recommendation"]


def test_the_web_map_draws_both_rankings_and_offers_the_downloads(live_server, page, owner):  # noqa: F811
    """The run on the page (headless Chromium): the closures to avoid and the roads to
    strengthen as map layers, both tables ranked with their units, the recommendation."""
    city = tiny_city("RoadsMap", links=40, seed=2, bridge=True)
    api = _client(owner)
    scenario = _scenario(api, city)
    Scenario.objects.filter(pk=scenario.pk).update(public=True)  # seen without signing in
    _run(scenario, "traffic", owner)
    ru = _run(scenario, "road_upgrades", owner, closures=10, candidates=3)
    assert ru.job.status == "succeeded", ru.job.error
    lon, lat = city.boundary.centroid.x, city.boundary.centroid.y
    open_map(
        page,
        f"{live_server.url}/#city={city.id}&scenario={scenario.pk}&run={ru.pk}"
        f"&view={lon},{lat},14,0,0&d=2",
    )
    page.wait_for_function("document.body.dataset.result === 'road_upgrades'", timeout=60_000)
    page.wait_for_selector("#kpi-panel .ru-table[data-table=closures] tbody tr")
    closures = page.inner_text("#kpi-panel .ru-table[data-table=closures]")
    first = ru.meta["tables"]["closures"]["rows"][0]
    assert "Vehicle-hours added (h)" in closures and first["street"] in closures
    upgrades = page.inner_text("#kpi-panel .ru-table[data-table=upgrades]")
    assert "Saved per lane-km (veh·h/h per lane-km)" in upgrades
    assert ru.meta["recommendation"][:40] in page.inner_text("#kpi-panel")
    href = page.get_attribute("#kpi-panel .ru-table[data-table=closures] a", "href")
    assert href.endswith(f"/api/runs/{ru.pk}/tables/closures/?format=csv")
    page.wait_for_function(
        "window.citytwinMap.queryRenderedFeatures({layers: ['result:ru-closures']}).length > 0"
    )
    drawn = page.evaluate(
        "window.citytwinMap.queryRenderedFeatures({layers: ['result:ru-closures']})"
        ".map(f => f.properties.rank)"
    )
    assert 1 in drawn
