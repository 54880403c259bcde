"""The web map's utility edit tools end to end (frontend/src/networks.js, edits.js): each tool
picks its element on the drawn network (or draws its zone), the edit is saved on a scenario of
its own, the simulator runs through the page on a real Celery worker, and the key figures the
page shows (buildings and people without service, with their units) are the server's run, which
is itself hand-checked against the network.

Debian's headless Chromium (Playwright) against a live server, as in test_webmap.py; one city
made here (no OSM import), one browser context for every tool. The pipe break is in
test_webmap.py.
"""

from __future__ import annotations

import pandapower as pp
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from citytwin.scenarios.models import Run
from layers.importers.files import run_import
from layers.models import City
from tests.twin.test_webmap import (  # noqa: F401  (fixtures)
    browser,
    click_lnglat,
    create_scenario,
    open_map,
    person,
    sign_in,
    wait_for_result,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# A water network in lon/lat with three sources, each feeding its own junctions:
#   RA (head 40 m) - P1 (75 mm) - A1 - V1 (a throttle valve) - A2: closing V1 cuts off A2;
#     A1's demand through the narrow P1 drops its pressure when every demand is x10;
#   RB (head 0 m) - PU1 (pump) - B1: the pump out cuts off B1;
#   T1 (tank, head 40 m) - PC - C1: the tank out cuts off C1.
UTILITY_INP = """[TITLE]
three sources, hand-checked outages
[JUNCTIONS]
A1 0 5
A2 0 0.2
B1 0 0.1
C1 0 0.2
[RESERVOIRS]
RA 40
RB 0
[TANKS]
T1 30 10 0 20 20 0
[PIPES]
P1 RA A1 200 75 120 0 Open
PC T1 C1 200 150 120 0 Open
[PUMPS]
PU1 RB B1 HEAD PC1
[VALVES]
V1 A1 A2 150 TCV 0 0
[CURVES]
PC1 10 45
[OPTIONS]
UNITS LPS
HEADLOSS H-W
[TIMES]
DURATION 2:00
HYDRAULIC TIMESTEP 1:00
[COORDINATES]
RA 24.9400 60.1700
A1 24.9430 60.1700
A2 24.9460 60.1700
RB 24.9400 60.1720
B1 24.9430 60.1720
T1 24.9400 60.1740
C1 24.9430 60.1740
[END]
"""
RUN_WATER = {"duration_h": "2"}


def utility_town() -> City:
    """A city around the water network above and test_power_runs' Feeder Town grid (3 km
    apart); no OSM data."""
    box = Polygon.from_bbox((24.930, 60.150, 25.010, 60.190))
    return City.objects.create(name="Utility Town", local_epsg=32635, boundary=MultiPolygon(box))


def _mid(line):
    return line.interpolate_normalized(0.5)


#: the map layers each tool picks from (frontend/src/networks.js NETWORK_LAYERS)
TOOL_LAYER = {
    "water_valve_closure": "net-water-valves",
    "water_pump_out": "net-water-pumps",
    "water_tank_out": "net-water-tanks",
    "line_outage": "net-grid-lines",
    "transformer_outage": "net-grid-transformers",
    "substation_outage": "net-grid-buses",
}


def jump(page, lon: float, lat: float, zoom: float = 17, layer: str | None = None) -> None:
    """Centre the map on (lon, lat); with ``layer``, until that layer is drawn there (the
    networks are GeoJSON sources: no need to wait for the base map's tiles)."""
    page.evaluate(
        "([lon, lat, zoom]) => window.citytwinMap.jumpTo({center: [lon, lat], zoom})",
        [lon, lat, zoom],
    )
    if layer is not None:
        page.wait_for_function(
            "([lon, lat, layer]) => { const m = window.citytwinMap; const p = m.project([lon, lat]);"
            " return m.queryRenderedFeatures([[p.x - 3, p.y - 3], [p.x + 3, p.y + 3]],"
            " {layers: [layer]}).length > 0; }",
            arg=[lon, lat, layer],
        )


def pick(page, tool: str, lon: float, lat: float) -> None:
    """Start a tool of the scenario tab and click the element at (lon, lat) on the map."""
    page.click("nav.tabs button[data-tab=scenario]")
    page.click(f"#edit-tools button[data-tool={tool}]")
    jump(page, lon, lat, layer=TOOL_LAYER[tool])
    click_lnglat(page, lon, lat)


def run_in_page(page, scenario, simulator: str, params: dict[str, str]) -> Run:
    """Run ``simulator`` on the page's scenario from the Results tab; the server's run."""
    page.click("nav.tabs button[data-tab=results]")
    page.select_option("#run-simulator", simulator)
    for name, value in params.items():
        page.fill(f"#run-params input[name={name}]", value)
    page.evaluate("delete document.body.dataset.result")
    page.click("#run-start")
    wait_for_result(page, simulator, timeout_s=240)
    page.wait_for_selector("#kpi-panel tr[data-kpi]")
    run = Run.objects.select_related("job").get(scenario=scenario, simulator=simulator)
    assert run.job.status == "succeeded", run.job.error
    assert f"run={run.pk}" in page.url
    return run


def shown(page, kpi: str) -> str:
    """The value the page shows for a key figure (with its unit)."""
    return page.inner_text(f"#kpi-panel tr[data-kpi={kpi}] td").strip()


def assert_shown(page, run, people: str, buildings: str) -> None:
    """The page shows the run's people and buildings without service, in whole units."""
    assert shown(page, people) == f"{round(run.kpis[people]):,} people", shown(page, people)
    assert shown(page, buildings) == f"{round(run.kpis[buildings]):,} buildings"


def test_every_utility_tool_picks_its_element_and_the_page_shows_the_servers_run(
    live_server,
    browser,  # noqa: F811
    person,  # noqa: F811
    celery_worker_process,
    tmp_path,
):
    from utilities.power.models import Bus, Grid, Line, Transformer
    from utilities.water.models import BuildingService, WaterNetwork
    from utilities.water.service_points import link_buildings

    from .test_power_runs import PEOPLE, _buildings, feeder_town_net
    from .test_water import _buildings_at_junctions

    city = utility_town()
    path = tmp_path / "utility_town.inp"
    path.write_text(UTILITY_INP)
    network = WaterNetwork.objects.get(
        pk=run_import(path, {"target": "water", "city": city.name})["network_id"]
    )
    houses = _buildings_at_junctions(city, network)  # junction name -> building id
    assert link_buildings(network, 50)["linked"] == 4
    net, where = feeder_town_net()
    _buildings(city, where)
    grid_path = tmp_path / "feeder_town.json"
    grid_path.write_text(pp.to_json(net))
    params = {"target": "power_grid", "city": city.name, "tolerance_m": 200}
    grid = Grid.objects.get(pk=run_import(grid_path, params)["grid"])

    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    a1 = network.nodes.get(name="A1").geom
    open_map(page, f"{live_server.url}/#city={city.id}&view={a1.x},{a1.y},16,0,0&d=2")
    sign_in(page, person)
    page.wait_for_function(f"document.body.dataset.networksLoaded === '{city.id}'")

    def water_edit(name: str, tool: str, element) -> Run:
        scenario = create_scenario(page, name)
        where = element if element.geom_type == "Point" else _mid(element)
        pick(page, tool, where.x, where.y)
        page.wait_for_selector("#edit-form button[type=submit]")
        page.click("#edit-form button[type=submit]")
        page.wait_for_selector(f"#edit-list li[data-type={tool}]")
        page.click("#edit-tools button[data-tool=stop]")
        run = run_in_page(page, scenario, "water", RUN_WATER)
        assert_shown(page, run, "people_not_served", "buildings_not_served")
        return run

    def cut_off(run) -> set[str]:
        status = dict(BuildingService.objects.filter(run=run).values_list("building_id", "status"))
        return {j for j, b in houses.items() if status[b] == "not_served"}

    # water: valve closure, pump and tank out of service: exactly the junction behind each
    v1 = network.links.get(name="V1")
    run = water_edit("Valve V1 shut", "water_valve_closure", v1.geom)
    assert [e["links"] for e in run.scenario.edits] == [[v1.id]]
    assert cut_off(run) == {"A2"} and run.kpis["people_not_served"] == 10
    pu1 = network.links.get(name="PU1")
    run = water_edit("Pump PU1 stops", "water_pump_out", pu1.geom)
    assert [e["pumps"] for e in run.scenario.edits] == [[pu1.id]]
    assert cut_off(run) == {"B1"} and run.kpis["people_not_served"] == 10
    t1 = network.nodes.get(name="T1")
    run = water_edit("Tank T1 out", "water_tank_out", t1.geom)
    assert [e["tanks"] for e in run.scenario.edits] == [[t1.id]]
    assert cut_off(run) == {"C1"} and run.kpis["people_not_served"] == 10

    # water demand x10 at every junction (a form, no drawing): A1 and A2 behind the narrow P1
    # lose pressure, the pumped and the tank-fed junctions keep theirs
    scenario = create_scenario(page, "Water demand x10")
    page.click("#edit-tools button[data-tool=water_demand_change]")
    page.fill("#edit-form input[name=factor]", "10")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-list li[data-type=water_demand_change]")
    run = run_in_page(page, scenario, "water", RUN_WATER)
    assert_shown(page, run, "people_not_served", "buildings_not_served")
    partly = round(run.kpis["people_partly_served"])
    assert shown(page, "people_partly_served") == f"{partly} people"
    status = dict(BuildingService.objects.filter(run=run).values_list("building_id", "status"))
    assert {j for j, b in houses.items() if status[b] != "served"} == {"A1", "A2"}
    assert run.kpis["people_served"] == 20

    # power: a line, a transformer, a substation out; the buildings on what they feed
    def power_edit(name: str, tool: str, lon: float, lat: float) -> Run:
        scenario = create_scenario(page, name)
        pick(page, tool, lon, lat)
        page.wait_for_selector(f"#edit-list li[data-type={tool}]")
        page.click("#edit-tools button[data-tool=stop]")
        run = run_in_page(page, scenario, "power_flow", {})
        assert_shown(page, run, "people_without_service", "buildings_without_service")
        return run

    line = Line.objects.get(grid=grid, name="line 2-3")
    mid = _mid(line.geom)
    run = power_edit("Line 2-3 down", "line_outage", mid.x, mid.y)
    assert [e["lines"] for e in run.scenario.edits] == [[line.id]]
    assert run.kpis["people_without_service"] == PEOPLE[3]
    trafo = Transformer.objects.get(grid=grid, name="trafo 6-7")
    run = power_edit("Transformer 6-7 down", "transformer_outage", trafo.geom.x, trafo.geom.y)
    assert [e["transformers"] for e in run.scenario.edits] == [[trafo.id]]
    assert run.kpis["people_without_service"] == PEOPLE[8]
    bus = Bus.objects.get(grid=grid, pp_index=1)
    run = power_edit("Substation A down", "substation_outage", bus.geom.x, bus.geom.y)
    assert [e["buses"] for e in run.scenario.edits] == [[bus.id]]
    assert run.kpis["people_without_service"] == sum(PEOPLE[b] for b in (2, 3, 4, 5))

    # electricity demand x2 in a zone drawn around the east feeder's loads (buses 2 and 3,
    # 0.5 MW each): 1 MW more served, nobody cut off
    scenario = create_scenario(page, "East feeder x2")
    page.click("#edit-tools button[data-tool=power_demand_change]")
    b2, b3 = (Bus.objects.get(grid=grid, pp_index=i).geom for i in (2, 3))
    jump(page, (b2.x + b3.x) / 2, b2.y, 13.5)
    dx, dy = (b3.x - b2.x) / 2, 0.004
    for lon, lat in ((b2.x - dx, b2.y - dy), (b3.x + dx, b2.y - dy), (b3.x + dx, b2.y + dy)):
        click_lnglat(page, lon, lat)
    click_lnglat(page, b2.x - dx, b2.y + dy)
    page.keyboard.press("Enter")
    page.fill("#edit-form input[name=factor]", "2")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#edit-list li[data-type=power_demand_change]")
    run = run_in_page(page, scenario, "power_flow", {})
    assert_shown(page, run, "people_without_service", "buildings_without_service")
    assert run.kpis["people_without_service"] == 0
    assert run.kpis["load_served_mw"] == pytest.approx(0.5 * len(PEOPLE) + 1.0)
    served_mw = f"{run.kpis['load_served_mw']:.2f}".rstrip("0").rstrip(".")
    assert shown(page, "load_served_mw") == f"{served_mw} MW"

    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
