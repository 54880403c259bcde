"""Water networks: EPANET import/export, external truth (WNTR's EpanetSimulator on the files
shipped in the wntr wheel), a hand-checked pipe break, criticality on the workers."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import wntr
from django.contrib.gis.geos import MultiPolygon, Polygon

from layers.importers.files import run_import
from layers.models import Building, City
from simulators.water.network import read_inp, records, simulate
from utilities.water.export import export_inp
from utilities.water.models import BuildingService, NodeResult, WaterNetwork

from .conftest import wait_for_job

NETWORKS = Path(os.path.dirname(wntr.__file__)) / "library" / "networks"
#: the files' coordinates are a local grid: place them near Helsinki (a CRS the user gives)
GRID_CRS = {
    "Net3": "+proj=tmerc +lat_0=60.17 +lon_0=24.94 +k=1 +x_0=0 +y_0=0 +to_meter=100",
    "ky4": "+proj=tmerc +lat_0=60.17 +lon_0=24.94 +x_0=-4960000 +y_0=-3900000 +to_meter=0.3048",
    "ky10": "+proj=tmerc +lat_0=60.17 +lon_0=24.94 +x_0=-5760000 +y_0=-3850000 +to_meter=0.3048",
    "Net6": "+proj=tmerc +lat_0=60.17 +lon_0=24.94 +k=1 +x_0=0 +y_0=0 +to_meter=10",
}
#: Net6 (3,356 nodes, pumps, tanks, rules) over its first hours: the file's 96 hours take
#: ~15 s of EPANET alone on an idle core (~80 s on the loaded development machine), twice in
#: the test; the full 96 hours run in bench/water_criticality.py's import and sweep
NET6_HOURS = 6


def _city(name: str = "Watertown") -> City:
    return City.objects.get_or_create(name=name, defaults={"local_epsg": 32635})[0]


def _upload(api, text: str, name: str = "net.inp", **params):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"file": SimpleUploadedFile(name, text.encode()), "target": "water", **params}
    return api.post("/api/imports/", data, format="multipart")


# a hand-made network in lon/lat (detected): reservoir R feeds a chain J1-J2-J3-J4 and a
# branch J2-J5. Isolation valves: on P2 next to J1, on P4 next to J3, on P5 next to J2.
# The segment of P3 is {P2, J2, P3, J3}: a break on P3 closes those three valves and J2, J3
# (the segment) and J4, J5 (behind the closed valves) lose water; J1 keeps it.
SMALL = """[TITLE]
hand-checked chain
[JUNCTIONS]
J1 0 0.5
J2 0 0.5
J3 0 0.5
J4 0 0.5
J5 0 0.5
[RESERVOIRS]
R 60
[PIPES]
P1 R J1 200 300 120 0 Open
P2 J1 J2 200 300 120 0 Open
P3 J2 J3 200 300 120 0 Open
P4 J3 J4 200 300 120 0 Open
P5 J2 J5 200 300 120 0 Open
[OPTIONS]
UNITS LPS
HEADLOSS H-W
[TIMES]
DURATION 24:00
HYDRAULIC TIMESTEP 1:00
[COORDINATES]
R 24.9400 60.1700
J1 24.9430 60.1700
J2 24.9460 60.1700
J3 24.9490 60.1700
J4 24.9520 60.1700
J5 24.9460 60.1720
[END]
"""
SMALL_VALVES = [["P2", "J1"], ["P4", "J3"], ["P5", "J2"]]


def test_bad_inp_files_get_a_400_naming_the_problem_and_nothing_is_written(api):
    _city()
    cases = {
        "no pipes": (SMALL.replace("[PIPES]", "[PIPEZ]"), "file", "[PIPES]"),
        "unknown units": (SMALL.replace("UNITS LPS", "UNITS XYZ"), "file", "XYZ"),
        "no coordinates": (
            SMALL.replace("J5 24.9460 60.1720\n", ""),
            "file",
            "1 of 6 nodes have no coordinates",
        ),
        "projected, no crs": (
            SMALL.replace("24.9400 60.1700", "385000 6672000"),
            "crs",
            "not longitude/latitude",
        ),
    }
    for label, (text, field, words) in cases.items():
        response = _upload(api, text, city="Watertown")
        assert response.status_code == 400, (label, response.content)
        body = response.json()
        assert body["field"] == field, (label, body)
        assert words in body["error"], (label, body)
    assert _upload(api, SMALL, city="Nowhere").json()["field"] == "city"
    bad_valves = _upload(api, SMALL, city="Watertown", valve_layer="[[1]]")
    assert bad_valves.json()["field"] == "valve_layer"
    assert WaterNetwork.objects.count() == 0


@pytest.mark.django_db
def test_net3_round_trip_keeps_every_element_and_the_pressures():
    _city()
    params = {"target": "water", "city": "Watertown", "crs": GRID_CRS["Net3"]}
    report = run_import(NETWORKS / "Net3.inp", params)
    assert report["elements"]["Nodes"] == {"Junctions": 92, "Tanks": 3, "Reservoirs": 2}
    network = WaterNetwork.objects.get(pk=report["network_id"])
    assert (network.flow_units, network.headloss) == ("GPM", "H-W")
    with tempfile.TemporaryDirectory() as folder:
        out = export_inp(network, Path(folder) / "net3.inp")
        again = read_inp(out)
    source = read_inp(NETWORKS / "Net3.inp")
    a, b = records(source), records(again)
    for kind in ("nodes", "links", "patterns", "curves", "controls"):
        assert len(a[kind]) == len(b[kind]), kind
    for x, y in zip(a["nodes"], b["nodes"], strict=True):
        assert x.pop("coordinates") == pytest.approx(y.pop("coordinates"), abs=1e-6)
        assert x == y
    assert a["links"] == b["links"]
    assert a["options"] == b["options"]
    p0 = simulate(source).pressure_m
    p1 = simulate(again).pressure_m
    assert np.abs(p0.to_numpy() - p1.to_numpy()).max() < 1e-6


def _buildings_at_junctions(city: City, network: WaterNetwork, people: float = 10.0):
    """One small building 20 m north of each junction, with ``people`` residents."""
    ids = {}
    for node in network.nodes.filter(kind="junction"):
        x, y = node.geom.x, node.geom.y + 20 / 111_000
        d = 5 / 111_000
        square = Polygon(
            ((x - d, y - d), (x + d, y - d), (x + d, y + d), (x - d, y + d), (x - d, y - d))
        )
        building = Building.objects.create(
            city=city, footprint=MultiPolygon(square), height_m=6, height_source="imported",
            use="residential", footprint_area_m2=100, floor_area_m2=200, residents=people,
        )  # fmt: skip
        ids[node.name] = building.id
    return ids


def _run(api, scenario_id: int, **params):
    response = api.post(
        f"/api/scenarios/{scenario_id}/runs/",
        {"simulator": "water", "params": params},
        format="json",
    )
    assert response.status_code in (200, 201, 202), response.content
    job = wait_for_job(response.json()["id"], timeout_s=300)
    assert job.status == "succeeded", job.error
    return job.run


@pytest.mark.django_db(transaction=True)
def test_a_break_cuts_off_exactly_the_buildings_behind_the_closed_valves(
    api, celery_worker_process
):
    city = _city()
    upload = _upload(api, SMALL, city="Watertown", valve_layer=json.dumps(SMALL_VALVES))
    assert upload.status_code == 202, upload.content
    job = wait_for_job(upload.json()["id"])
    assert job.status == "succeeded", job.error
    assert job.report["crs_detected"] == "EPSG:4326"
    network = WaterNetwork.objects.get(pk=job.report["network_id"])
    buildings = _buildings_at_junctions(city, network)
    linked = api.post(f"/api/water/networks/{network.slug}/service-points/", {"tolerance_m": 50})
    assert linked.status_code == 200, linked.content
    assert linked.json()["linked"] == 5
    p3 = network.links.get(name="P3")
    scenario = api.post(
        "/api/scenarios/",
        {
            "city": city.id,
            "name": "P3 breaks",
            "edits": [
                {
                    "type": "water_pipe_break",
                    "pipe": [p3.id],
                    "leak_diameter_m": 0.05,
                    "isolate_after_h": 1,
                }
            ],
        },  # fmt: skip
        format="json",
    )
    assert scenario.status_code == 201, scenario.content
    broken = _run(api, scenario.json()["id"], duration_h=24)
    base_id = api.get(f"/api/cities/{city.id}/baseline/").json()["id"]
    base = _run(api, base_id, duration_h=24)
    status = dict(BuildingService.objects.filter(run=broken).values_list("building_id", "status"))
    hours = dict(
        BuildingService.objects.filter(run=broken).values_list(
            "building_id", "hours_without_water_h"
        )
    )
    lost = {j for j, b in buildings.items() if status[b] == "not_served"}
    assert lost == {"J2", "J3", "J4", "J5"}
    assert status[buildings["J1"]] != "not_served"
    for j in ("J2", "J3", "J4", "J5"):  # valves shut at hour 1, dry until hour 24
        assert hours[buildings[j]] == pytest.approx(23.0)
    assert sorted(map(tuple, broken.meta["valves_closed"])) == sorted(map(tuple, SMALL_VALVES))
    assert broken.kpis["people_not_served"] == pytest.approx(40.0)
    assert broken.kpis["leak_volume_m3"] > 0
    assert base.kpis["people_not_served"] == 0
    assert set(BuildingService.objects.filter(run=base).values_list("status", flat=True)) == {
        "served"
    }
    diff = api.get(f"/api/water/runs/{broken.pk}/buildings/?base={base.pk}").json()
    deltas = {
        f["properties"]["building_id"]: f["properties"]["delta_hours_without_water_h"]
        for f in diff["features"]
    }
    assert deltas[buildings["J4"]] == pytest.approx(23.0) and deltas[buildings["J1"]] == 0
    ogc = api.get(f"/ogc/collections/water-building-service/items?run={broken.pk}&f=json")
    assert ogc.status_code == 200 and len(ogc.json()["features"]) == 5
    # the input checksum covers the network's rows: the same run again is reused; a network
    # edited in place (the reservoir's head) is a new input
    again = api.post(
        f"/api/scenarios/{base_id}/runs/",
        {"simulator": "water", "params": {"duration_h": 24}},
        format="json",
    )
    assert again.status_code == 200 and again.json()["id"] == str(base.pk)
    network.nodes.filter(name="R").update(base_head_m=10.0)
    low = _run(api, base_id, duration_h=24)
    assert low.pk != base.pk
    assert low.kpis["min_pressure_m"] < 10.0 < base.kpis["min_pressure_m"]
    assert low.kpis["buildings_partly_served"] == 5


def _net6_first_hours(folder: Path) -> Path:
    """Net6.inp as shipped, but for its first NET6_HOURS hours (``[TIMES] Duration``)."""
    text = (NETWORKS / "Net6.inp").read_text()
    assert "Duration 96:00" in text
    path = folder / "Net6.inp"
    path.write_text(text.replace("Duration 96:00", f"Duration {NET6_HOURS}:00", 1))
    return path


@pytest.mark.django_db(transaction=True)
def test_pressures_of_net3_ky4_ky10_net6_equal_epanet_on_the_same_file(
    api, celery_worker_process, tmp_path
):
    city = _city()
    base_id = api.get(f"/api/cities/{city.id}/baseline/").json()["id"]
    files = {name: NETWORKS / f"{name}.inp" for name in ("Net3", "ky4", "ky10")}
    files["Net6"] = _net6_first_hours(tmp_path)
    for name, path in files.items():
        report = run_import(path, {"target": "water", "city": "Watertown", "crs": GRID_CRS[name]})
        WaterNetwork.objects.exclude(pk=report["network_id"]).delete()
        run = _run(api, base_id, use_file_settings=True)
        truth = simulate(read_inp(path)).pressure_m
        twin = {r.name: r.pressure_m for r in NodeResult.objects.filter(run=run)}
        assert set(twin) == set(truth.columns), name
        worst = max(
            np.abs(np.array(twin[n], dtype=float) - truth[n].to_numpy()).max() for n in truth
        )
        assert worst < 1e-3, (name, worst)
        assert len(truth) == run.meta["steps"]
    assert len(truth) == NET6_HOURS + 1 and len(truth.columns) == 3356


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_criticality_sweep_on_the_workers_matches_epanet_closing_each_pipe(
    api, celery_worker_process
):
    from utilities.water import tasks
    from utilities.water.models import PipeCriticality, ServicePoint

    city = _city()
    report = run_import(
        NETWORKS / "Net3.inp", {"target": "water", "city": "Watertown", "crs": GRID_CRS["Net3"]}
    )
    network = WaterNetwork.objects.get(pk=report["network_id"])
    _buildings_at_junctions(city, network, people=10.0)
    from utilities.water.service_points import link_buildings

    assert link_buildings(network, 50)["linked"] == 92
    response = api.post(
        f"/api/water/networks/{network.slug}/criticality/", {"required_pressure_m": 20}
    )
    assert response.status_code == 202, response.content
    body = response.json()
    job = wait_for_job(body["job"], timeout_s=300)
    assert job.status == "succeeded", job.error
    assert job.report == {"pipes": 117, "solver_errors": 0, "chunks": 2}
    sweep = tasks.CriticalityRun.objects.get(pk=body["id"])
    # a chunk delivered twice (acks_late after a lost worker) writes nothing new
    chunk = list(network.links.filter(kind="pipe").order_by("id").values_list("id", flat=True))[:5]
    assert tasks.sweep_chunk.apply(args=[sweep.pk, chunk]).get() == 0
    assert PipeCriticality.objects.filter(sweep=sweep).count() == 117
    ranking = api.get(f"/api/water/criticality/{sweep.pk}/?limit=3").json()["ranking"]
    assert ranking[0]["people_without_water"] >= ranking[1]["people_without_water"] > 0
    # external truth: WNTR's EpanetSimulator with the top pipe closed, one PDD steady state
    wn = read_inp(NETWORKS / "Net3.inp")
    wn.options.time.duration = 0
    hyd = wn.options.hydraulic
    hyd.demand_model, hyd.required_pressure, hyd.minimum_pressure = "PDD", 20.0, 0.0
    wn.get_link(ranking[0]["link"]).initial_status = wntr.network.LinkStatus.Closed
    pressure = simulate(wn).pressure_m.iloc[0]
    from simulators.water.network import disconnected_nodes

    cut = disconnected_nodes(wn, {ranking[0]["link"]})
    people = dict(ServicePoint.objects.filter(network=network).values_list("node__name", "people"))
    dry = sum(p for n, p in people.items() if pressure[n] <= 0 or n in cut)
    assert ranking[0]["people_without_water"] == pytest.approx(dry)


@pytest.mark.django_db
def test_water_edits_are_checked_against_the_network_and_labelled_in_words(api, tmp_path):
    city = _city()
    path = tmp_path / "small.inp"
    path.write_text(SMALL)
    report = run_import(path, {"target": "water", "city": "Watertown", "valve_layer": "none"})
    network = WaterNetwork.objects.get(pk=report["network_id"])
    p3 = network.links.get(name="P3")
    j1 = network.nodes.get(name="J1")

    def post(edit):
        return api.post(
            "/api/scenarios/", {"city": city.id, "name": "x", "edits": [edit]}, format="json"
        )

    wide = post(
        {"type": "water_pipe_break", "pipe": [p3.id], "leak_diameter_m": 0.5, "isolate": False}
    )
    assert wide.status_code == 400 and wide.json()["field"] == "edits[0].leak_diameter_m"
    assert "wider than pipe 'P3'" in wide.json()["error"]
    no_valves = post({"type": "water_pipe_break", "pipe": [p3.id], "leak_diameter_m": 0.05})
    assert no_valves.json()["field"] == "edits[0].isolate"
    not_a_pump = post({"type": "water_pump_out", "pumps": [p3.id]})
    assert "is a pipe, not a pump" in not_a_pump.json()["error"]
    not_a_tank = post({"type": "water_tank_out", "tanks": [j1.id]})
    assert not_a_tank.json()["field"] == "edits[0].tanks"
    late = post({"type": "water_valve_closure", "links": [p3.id], "start_h": 500})
    assert late.json()["field"] == "edits[0].start_h"
    ok = post(
        {"type": "water_pipe_break", "pipe": [p3.id], "leak_diameter_m": 0.05, "isolate": False}
    )
    assert ok.status_code == 201, ok.content
    from citytwin.scenarios.edits import edit_type

    edit = ok.json()["edits"][0]
    assert edit_type("water_pipe_break").describe(city, edit) == "Pipe P3 breaks (opening 5 cm)"
    kinds = {k["type"]: k for k in api.get("/api/edit-types/").json()["edit_types"]}
    leak = kinds["water_pipe_break"]["schema"]["properties"]["leak_diameter_m"]
    assert (leak["x-unit"], leak["maximum"]) == ("m", 2.0)
    assert kinds["water_tank_out"]["label"] == "Tank out of service"


@pytest.mark.django_db
def test_service_points_from_a_mapping_csv_carry_the_documented_demand(api, tmp_path, user):
    city = _city()
    path = tmp_path / "small.inp"
    path.write_text(SMALL)
    report = run_import(path, {"target": "water", "city": "Watertown"}, owner_id=user.id)
    network = WaterNetwork.objects.get(pk=report["network_id"])
    ids = _buildings_at_junctions(city, network, people=4.0)
    Building.objects.filter(pk=ids["J1"]).update(external_id="way/1", workers=10, residents=0)
    url = f"/api/water/networks/{network.slug}/service-points/"
    mapping = f"building,junction\nway/1,J5\n{ids['J2']},J2\n"
    body = api.post(url, {"mapping": mapping}).json()
    assert (body["method"], body["linked"], body["buildings"]) == ("mapping", 2, 5)
    from utilities.water.models import ServicePoint

    points = {sp.building_id: sp for sp in ServicePoint.objects.filter(network=network)}
    assert points[ids["J1"]].node.name == "J5"
    # 10 office jobs x 50 L/day and 4 residents x 130 L/day (simulators/water/demand.py)
    assert points[ids["J1"]].demand_m3s * 86_400 == pytest.approx(0.5)
    assert points[ids["J2"]].demand_m3s * 86_400 == pytest.approx(0.52)
    bad = api.post(url, {"mapping": "building,junction\nway/1,J9\n"})
    assert bad.status_code == 400 and bad.json()["field"] == "mapping.row2.junction"
    assert "row 2: no junction 'J9'" in bad.json()["error"]
    assert ServicePoint.objects.filter(network=network).count() == 2  # nothing replaced
