"""Power runs end to end (upload API, Celery worker, scenario edits, results, compare, OGC):
a hand-checked grid where a substation outage cuts off exactly the buildings on its feeders,
and the N-1 criticality ranking of its lines."""

from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest
import shapely
from django.core.files.uploadedfile import SimpleUploadedFile

from citytwin.scenarios.models import Run
from layers.geo import to_geos, to_multipolygon
from layers.models import Building, City
from simulators.power.build import create_ext_grids
from utilities.power.models import Bus, Grid, Line, LineCriticality, Load, ServicePoint

from .conftest import wait_for_job

LON0, LAT0 = 25.0, 60.2
M_PER_DEG_LAT = 111_320.0
M_PER_DEG_LON = M_PER_DEG_LAT * np.cos(np.radians(LAT0))
LINE = "NA2XS2Y 1x185 RM/25 12/20 kV"
TRAFO = "25 MVA 110/20 kV"
#: load bus -> residents of the building beside it
PEOPLE = {2: 10.0, 3: 20.0, 4: 30.0, 5: 40.0, 8: 50.0}


def _lonlat(east_m: float, north_m: float) -> tuple[float, float]:
    return LON0 + east_m / M_PER_DEG_LON, LAT0 + north_m / M_PER_DEG_LAT


def feeder_town_net():
    """Substation A (bus 0 110 kV -> bus 1 20 kV) feeds two feeders: 1-2-3 east and 1-4-5
    north; substation B (6 -> 7) feeds 7-8 south. Loads at 2, 3, 4, 5, 8."""
    net = pp.create_empty_network(name="Feeder Town")
    where = {
        0: (0, 0), 1: (15, 0), 2: (1000, 0), 3: (2000, 0), 4: (15, 1000), 5: (15, 2000),
        6: (0, -3000), 7: (15, -3000), 8: (15, -4000),
    }  # fmt: skip
    # the plural creators: pandapower's single-element ones fail on pandas 3 (build.py)
    pp.create_buses(
        net,
        len(where),
        vn_kv=[110 if b in (0, 6) else 20 for b in where],
        name=[f"bus {b}" for b in where],
        index=list(where),
        geodata=[_lonlat(*where[b]) for b in where],
    )
    create_ext_grids(net, [0, 6])
    pp.create_transformers(net, [0, 6], [1, 7], std_type=TRAFO, name=["trafo 0-1", "trafo 6-7"])
    pairs = ((1, 2), (2, 3), (1, 4), (4, 5), (7, 8))
    pp.create_lines(
        net,
        [a for a, _ in pairs],
        [b for _, b in pairs],
        [1.0] * len(pairs),
        std_type=LINE,
        name=[f"line {a}-{b}" for a, b in pairs],
    )
    pp.create_loads(
        net, list(PEOPLE), p_mw=[0.5] * len(PEOPLE), q_mvar=[0.1] * len(PEOPLE),
        name=[f"load {b}" for b in PEOPLE],
    )  # fmt: skip
    return net, where


def _buildings(city: City, where: dict) -> dict[int, Building]:
    out = {}
    for b, residents in PEOPLE.items():
        e, n = where[b]
        square = shapely.box(e + 20, n + 20, e + 40, n + 40)
        lonlat = shapely.transform(square, lambda xy: np.column_stack(_lonlat(xy[:, 0], xy[:, 1])))
        out[b] = Building.objects.create(
            city=city,
            footprint=to_multipolygon(to_geos(lonlat)),
            height_m=9.0,
            height_source="osm_height",
            use="residential",
            footprint_area_m2=400.0,
            floor_area_m2=1200.0,
            residents=residents,
            workers=0.0,
            name=f"house at bus {b}",
        )
    return out


def _run(api, scenario_id: int, simulator: str, params=None) -> Run:
    response = api.post(
        f"/api/scenarios/{scenario_id}/runs",
        {"simulator": simulator, "params": params or {}},
        format="json",
    )
    assert response.status_code in (200, 202), response.content
    wait_for_job(response.json()["id"], 180)
    run = Run.objects.select_related("job").get(pk=response.json()["id"])
    assert run.job.status == "succeeded", run.job.error
    return run


@pytest.mark.slow
def test_substation_outage_cuts_off_exactly_the_buildings_on_its_feeders(
    api, transactional_db, celery_worker_process, tmp_path
):
    city = City.objects.create(name="Feeder Town", local_epsg=32635)
    net, where = feeder_town_net()
    houses = _buildings(city, where)
    text = pp.to_json(net)
    upload = SimpleUploadedFile("feeder_town.json", text.encode())
    response = api.post(
        "/api/imports/",
        {"file": upload, "target": "power_grid", "city": city.name, "tolerance_m": 200},
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"], 120)
    assert job.status == "succeeded", job.error
    links = job.report["service_points"]
    assert links["linked"] == 5 and links["beyond_tolerance"] == 0
    assert "20 kV buses with a load" in links["service_bus_rule"]
    grid = Grid.objects.get(pk=job.report["grid"])
    served_by = dict(
        ServicePoint.objects.filter(grid=grid).values_list("building_id", "bus__pp_index")
    )
    assert served_by == {houses[b].id: b for b in PEOPLE}
    # the transformers as an OGC collection (the web map's transformer outage tool picks them)
    trafos = api.get(
        "/ogc/collections/power-transformers/items", {"grid": str(grid.pk), "f": "json"}
    ).json()
    assert trafos["numberReturned"] == len(net.trafo) > 0
    assert {f["properties"]["pp_index"] for f in trafos["features"]} == set(net.trafo.index)
    # the export is the net that was imported
    exported = api.get(f"/api/power/grids/{grid.pk}/export/")
    assert exported.status_code == 200
    # against the file as uploaded: pandapower's own JSON turns the str columns of a net built
    # in memory (trafo.vector_group) into object columns
    assert pp.toolbox.nets_equal(
        pp.from_json_string(text),
        pp.from_json_string(exported.content.decode()),
        check_without_results=True,
    )

    baseline = api.get(f"/api/cities/{city.id}/baseline/").json()
    base_run = _run(api, baseline["id"], "power_flow")
    assert base_run.kpis["buildings_without_service"] == 0 and base_run.kpis["converged"]
    assert base_run.kpis["load_served_mw"] == pytest.approx(2.5)
    substation = Bus.objects.get(grid=grid, pp_index=1)
    response = api.post(
        "/api/scenarios/",
        {
            "city": city.id,
            "name": "substation A out",
            "edits": [{"type": "substation_outage", "buses": [substation.id]}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    run = _run(api, response.json()["id"], "power_flow")
    # by hand: bus 1 out takes trafo 0-1 and lines 1-2, 1-4 with it; feeders 1-2-3 and
    # 1-4-5 lose supply; substation B's feeder 7-8 keeps it
    assert run.kpis["buildings_without_service"] == 4
    assert run.kpis["people_without_service"] == pytest.approx(10 + 20 + 30 + 40)
    assert run.kpis["load_not_served_mw"] == pytest.approx(2.0)
    assert run.kpis["unsupplied_buses"] == 5  # 1 (out) and 2..5; 0 keeps its external grid
    layer = api.get(f"/api/power/runs/{run.pk}/buildings/", {"base": str(base_run.pk)}).json()
    by_building = {f["properties"]["building_id"]: f["properties"] for f in layer["features"]}
    assert {b for b, p in by_building.items() if not p["served"]} == {
        houses[b].id for b in (2, 3, 4, 5)
    }
    assert by_building[houses[8].id]["served"] and not by_building[houses[8].id]["changed"]
    assert by_building[houses[2].id]["changed"] and by_building[houses[2].id]["base_served"]
    buses = api.get(f"/api/power/runs/{run.pk}/buses/").json()["features"]
    supplied = {f["properties"]["bus_id"]: f["properties"]["supplied"] for f in buses}
    assert supplied[Bus.objects.get(grid=grid, pp_index=8).id] is True
    compare = api.get(f"/api/runs/{run.pk}/compare/{base_run.pk}/").json()
    assert compare["kpis"]["people_without_service"]["delta"] == pytest.approx(100.0)
    items = api.get(
        "/ogc/collections/power-service-results/items",
        {"run": str(run.pk), "served": "false", "f": "json"},
    ).json()
    assert items["numberReturned"] == 4

    # criticality: each line out once, ranked by people without service
    crit = _run(api, baseline["id"], "power_criticality")
    assert crit.kpis["lines_tested"] == 5 and crit.kpis["lines_cutting_service"] == 5
    ranked = list(LineCriticality.objects.filter(run=crit).order_by("rank"))
    names = [Line.objects.get(pk=r.line_id).name for r in ranked]
    assert names == ["line 1-4", "line 7-8", "line 4-5", "line 1-2", "line 2-3"]
    assert [r.people_without_service for r in ranked] == [70.0, 50.0, 40.0, 30.0, 20.0]
    assert crit.kpis["max_people_without_service"] == 70.0

    # the input checksum covers the grid's rows: the same run again is reused; a grid edited
    # in place, or a changed grid imported again, is a new input
    again = api.post(
        f"/api/scenarios/{baseline['id']}/runs", {"simulator": "power_flow"}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == str(base_run.pk)
    assert Load.objects.filter(grid=grid, bus__pp_index=8).update(p_mw=1.0) == 1
    edited = _run(api, baseline["id"], "power_flow")
    assert edited.pk != base_run.pk
    assert edited.kpis["load_served_mw"] == pytest.approx(3.0)
    net.load.loc[net.load.bus == 8, "p_mw"] = 2.0
    upload = SimpleUploadedFile("feeder_town.json", pp.to_json(net).encode())
    response = api.post(
        "/api/imports/",
        {"file": upload, "target": "power_grid", "city": city.name, "tolerance_m": 200},
    )
    assert wait_for_job(response.json()["id"], 120).status == "succeeded"
    reimported = _run(api, baseline["id"], "power_flow")
    assert reimported.pk not in (base_run.pk, edited.pk)
    assert reimported.meta["grid_id"] != grid.pk
    assert reimported.kpis["load_served_mw"] == pytest.approx(4.0)
