"""Scenarios and runs end to end: real PostGIS, Redis and Celery worker processes."""

from __future__ import annotations

import io
import json
import math
import os
import signal
import time
from pathlib import Path

import mapbox_vector_tile
import networkx as nx
import numpy as np
import pyogrio
import pypdf
import pytest
import rasterio
import rasterio.io
from django.conf import settings
from django.core.management import call_command
from pyproj import Transformer

from citytwin.scenarios.models import BuildingResult, EdgeResult, Run, RunRaster, Scenario
from jobs.models import Job
from layers.models import Building, RoadEdge

from .conftest import start_worker, stop_worker, wait_for_job


def _square(lon: float, lat: float, half_m: float) -> dict:
    """A square polygon (GeoJSON, lon/lat) of side 2 x half_m around a point."""
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * np.cos(np.radians(lat)))
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _scenario(api, city, edits=(), name="test scenario") -> dict:
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": name, "edits": list(edits)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def _run(api, scenario_id: int, simulator: str, params=None, timeout_s: float = 240) -> Run:
    response = api.post(
        f"/api/scenarios/{scenario_id}/runs",  # as the issue writes it: no trailing slash
        {"simulator": simulator, "params": params or {}},
        format="json",
    )
    assert response.status_code in (200, 202), response.content
    wait_for_job(response.json()["id"], timeout_s)
    run = Run.objects.select_related("job").get(pk=response.json()["id"])
    assert run.job.status == "succeeded", run.job.error
    return run


def _baseline(api, city) -> dict:
    response = api.get(f"/api/cities/{city.id}/baseline/")
    assert response.status_code == 200
    return response.json()


# -- edits: validation, atomicity, ownership ------------------------------------------------


@pytest.mark.django_db
def test_bad_edits_get_a_400_naming_the_edit_and_nothing_is_stored(api):
    from layers.models import City

    city = City.objects.get(name="Helsinki")
    edge = RoadEdge.objects.filter(city=city).first()
    good = {"type": "close_road", "edge_ids": [edge.id]}
    scenario = _scenario(api, city, [good])
    url = f"/api/scenarios/{scenario['id']}/edits/"
    centre = edge.geom.centroid
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [
                [centre.x, centre.y],
                [centre.x + 0.001, centre.y + 0.001],
                [centre.x + 0.001, centre.y],
                [centre.x, centre.y + 0.001],
                [centre.x, centre.y],
            ]
        ],
    }
    missing_edge = RoadEdge.objects.order_by("-id").first().id + 1000
    cases = [
        ({"type": "close_road", "edge_ids": [missing_edge]}, "edits[1].edge_ids", "no road edge"),
        ({"type": "hazard_zone", "polygon": bowtie}, "edits[1].polygon", "Self-intersection"),
        (
            {"type": "change_road", "edge_ids": [edge.id], "capacity_veh_h": -5},
            "edits[1].capacity_veh_h",
            "must be > 0",
        ),
        ({"type": "add_building", "footprint": _square(0, 0, 10), "height_m": 20}, None, None),
        ({"type": "teleport"}, "edits[1].type", "must be one of"),
    ]
    for edit, field, words in cases:
        response = api.post(url, edit, format="json")
        assert response.status_code == 400, (edit, response.content)
        body = response.json()
        assert body["edit"] == 1
        if field is not None:
            assert body["field"] == field, body
            assert words in body["error"], body
    huge = api.post(url, {"type": "demand_change", "factor": 10**400}, format="json")
    assert huge.status_code == 400 and huge.json()["field"] == "edits[1].factor"
    # a whole-list replacement with one bad edit stores nothing either
    response = api.put(url, [good, cases[0][0]], format="json")
    assert response.status_code == 400 and response.json()["field"] == "edits[1].edge_ids"
    stored = Scenario.objects.get(pk=scenario["id"])
    assert stored.edits == [good] and stored.version == 0
    # a good edit is appended, versioned, and undone by deleting it
    response = api.post(url, {"type": "demand_change", "factor": 1.2}, format="json")
    assert response.status_code == 201 and response.json()["version"] == 1
    assert api.delete(f"{url}1/").json()["edits"] == [good]
    # 3D coordinates are accepted and stored in 2D (heights come from the edit's fields)
    footprint = _square(centre.x, centre.y, 5)
    footprint["coordinates"][0] = [[x, y, 12.0] for x, y in footprint["coordinates"][0]]
    added = api.post(
        url, {"type": "add_building", "footprint": footprint, "height_m": 12}, format="json"
    )
    assert added.status_code == 201
    stored_ring = added.json()["edits"][-1]["footprint"]["coordinates"][0]
    assert all(len(xy) == 2 for xy in stored_ring)
    api.delete(f"{url}{len(added.json()['edits']) - 1}/")
    # a drawn line snaps to the edges it follows
    line = {"type": "LineString", "coordinates": [list(c) for c in edge.geom.coords]}
    response = api.post(url, {"type": "close_road", "line": line}, format="json")
    assert response.status_code == 201
    assert edge.id in response.json()["edits"][-1]["resolved_edge_ids"]


@pytest.mark.django_db
def test_scenarios_are_private_and_the_baseline_is_read_only(api, django_user_model):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from layers.models import City

    city = City.objects.get(name="Helsinki")
    mine = _scenario(api, city)
    other_user = django_user_model.objects.create_user(username="other", password="x")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    assert other.get(f"/api/scenarios/{mine['id']}/").status_code == 404
    assert mine["id"] not in [s["id"] for s in other.get("/api/scenarios/").json()["results"]]
    baseline = _baseline(api, city)
    assert baseline["is_baseline"] and baseline["edits"] == []
    response = api.post(
        f"/api/scenarios/{baseline['id']}/edits/", {"type": "demand_change", "factor": 2}
    )
    assert response.status_code == 409
    copy = api.post(f"/api/scenarios/{baseline['id']}/clone/", {"name": "mine"}, format="json")
    assert copy.status_code == 201 and copy.json()["cloned_from"] == baseline["id"]
    assert api.get("/api/scenarios/", {"city": city.id}).status_code == 200
    # another user's identical private scenario never reuses (or reveals) this user's run
    edits = [{"type": "demand_change", "factor": 1.1}]
    own = _scenario(api, city, edits, name="private one")
    first = api.post(f"/api/scenarios/{own['id']}/runs/", {"simulator": "traffic"}, format="json")
    Job.objects.filter(pk=first.json()["id"]).update(status="succeeded")
    theirs = other.post(
        "/api/scenarios/", {"city": city.id, "name": "theirs", "edits": edits}, format="json"
    ).json()
    second = other.post(
        f"/api/scenarios/{theirs['id']}/runs/", {"simulator": "traffic"}, format="json"
    )
    assert second.status_code == 202 and second.json()["id"] != first.json()["id"]
    again = api.post(f"/api/scenarios/{own['id']}/runs/", {"simulator": "traffic"}, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]  # own: reused
    # a baseline run is visible to all, but only the user who started it can cancel it
    started = api.post(
        f"/api/scenarios/{baseline['id']}/runs/", {"simulator": "traffic"}, format="json"
    ).json()
    assert other.get(f"/api/runs/{started['id']}/").status_code == 200
    assert other.post(f"/api/runs/{started['id']}/cancel/").status_code == 403
    assert api.post(f"/api/runs/{started['id']}/cancel/").json()["status"] == "cancelled"


@pytest.mark.django_db
def test_a_scenario_shared_for_reading_or_editing_or_made_public_is_seen_on_every_path(
    api, user, django_user_model
):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from layers.models import City

    def client_of(name):
        person = django_user_model.objects.create_user(username=name, password="x")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
        return client

    city = City.objects.get(name="Helsinki")
    mine = _scenario(api, city, [{"type": "demand_change", "factor": 1.2}], name="shared one")
    reader, editor, stranger = client_of("reader"), client_of("editor"), client_of("stranger")
    run = api.post(f"/api/scenarios/{mine['id']}/runs/", {"simulator": "traffic"}, format="json")
    run_id = run.json()["id"]
    EdgeResult.objects.create(
        run_id=run_id, edge=RoadEdge.objects.filter(city=city).first(), highway="primary",
        closed=False, volume_veh_h=10.0, capacity_veh_h=100.0, vc_ratio=0.1,
        geom=RoadEdge.objects.filter(city=city).first().geom,
    )  # fmt: skip
    ogc = f"/ogc/collections/edge-results/items?run={run_id}&f=json"
    for client in (reader, stranger):
        assert client.get(f"/api/scenarios/{mine['id']}/").status_code == 404
        assert client.get(f"/api/runs/{run_id}/").status_code == 404
        assert client.get(ogc).json()["numberReturned"] == 0
    # bad shares name the field; only the owner shares
    bad = api.post(f"/api/scenarios/{mine['id']}/shares/", {"user": "nobody"}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "user"
    bad = api.post(
        f"/api/scenarios/{mine['id']}/shares/", {"user": "reader", "access": "own"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "access"
    shares = api.post(f"/api/scenarios/{mine['id']}/shares/", {"user": "reader"}, format="json")
    assert shares.json() == [{"user": "reader", "access": "read"}]
    api.post(
        f"/api/scenarios/{mine['id']}/shares/", {"user": "editor", "access": "edit"}, format="json"
    )
    # the reader sees the scenario, its run and its results, and may not change it
    seen = reader.get(f"/api/scenarios/{mine['id']}/").json()
    assert seen["access"] == "read" and seen["shares"] == [] and seen["owner"] == user.username
    assert reader.get(f"/api/runs/{run_id}/").json()["started_by"] == user.username
    assert reader.get(ogc).json()["numberReturned"] == 1
    refused = reader.post(
        f"/api/scenarios/{mine['id']}/edits/", {"type": "demand_change", "factor": 2}
    )
    assert refused.status_code == 403 and "may read it, not change it" in refused.json()["error"]
    assert (
        reader.post(f"/api/scenarios/{mine['id']}/shares/", {"user": "stranger"}).status_code == 403
    )
    # the editor may change the edits but not share, rename or delete
    changed = editor.post(
        f"/api/scenarios/{mine['id']}/edits/", {"type": "demand_change", "factor": 2}, format="json"
    )
    assert changed.status_code == 201 and changed.json()["access"] == "edit"
    assert editor.delete(f"/api/scenarios/{mine['id']}/").status_code == 403
    # unshared: gone for the reader; public: seen by everyone, even without signing in
    assert api.delete(f"/api/scenarios/{mine['id']}/shares/reader/").status_code == 204
    assert reader.get(f"/api/scenarios/{mine['id']}/").status_code == 404
    made_public = api.patch(f"/api/scenarios/{mine['id']}/", {"public": True}, format="json")
    assert made_public.status_code == 200 and made_public.json()["public"] is True
    anonymous = APIClient()
    assert anonymous.get(f"/api/scenarios/{mine['id']}/").json()["access"] == "read"
    assert anonymous.get(f"/api/runs/{run_id}/").status_code == 200
    assert stranger.get(ogc).json()["numberReturned"] == 1
    assert (
        stranger.post(
            f"/api/scenarios/{mine['id']}/edits/", {"type": "demand_change", "factor": 3}
        ).status_code
        == 403
    )


@pytest.mark.django_db
def test_bad_run_parameters_are_rejected(api):
    from layers.models import City

    city = City.objects.get(name="Helsinki")
    scenario = _scenario(api, city)
    url = f"/api/scenarios/{scenario['id']}/runs/"
    for body, field in [
        ({"simulator": "traffic", "params": {"gap": -1}}, "params.gap"),
        ({"simulator": "traffic", "params": {"speed": 3}}, "params.speed"),
        ({"simulator": "evacuation"}, "simulator"),  # no hazard zone in the scenario
        ({"simulator": "solar", "params": {"date": "21 March"}}, "params.date"),
        ({"simulator": "weather"}, "simulator"),
        # a bbox in metres, not degrees; a cell under the engine's range; a cell size in words
        # (refused before anything is allocated; null lets the engine choose)
        (
            {"simulator": "solar", "params": {"bbox": [385500, 6671500, 386000, 6672000]}},
            "params.bbox",
        ),
        ({"simulator": "solar", "params": {"bbox": [0.0, 0.0, 0.1, 0.1]}}, "params.bbox"),
        ({"simulator": "solar", "params": {"cell_m": 0.1}}, "params.cell_m"),
        ({"simulator": "solar", "params": {"cell_m": "auto"}}, "params.cell_m"),
    ]:
        response = api.post(url, body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["field"] == field, response.json()
    assert not Run.objects.exists()


# -- runs on a real worker ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_closed_road_carries_nothing_and_its_detour_carries_more(
    api, committed_city, celery_worker_process
):
    city = committed_city("Helsinki")
    baseline = _baseline(api, city)
    base_run = _run(api, baseline["id"], "traffic", {"gap": 1e-6})
    # close the busiest edge of the baseline (both directions when two-way) among those whose
    # closure leaves the road network strongly connected, so that no trip is cut off
    graph = nx.MultiDiGraph()
    for eid, u, v in RoadEdge.objects.filter(city=city).values_list("id", "u", "v"):
        graph.add_edge(u, v, key=eid)
    for busiest in EdgeResult.objects.filter(run=base_run).order_by("-volume_veh_h")[:50]:
        edge = busiest.edge
        closed_ids = [edge.id] + [k for k in graph.get_edge_data(edge.v_id, edge.u_id, default={})]
        trial = graph.copy()
        trial.remove_edges_from([(edge.u_id, edge.v_id, edge.id)])
        trial.remove_edges_from([(edge.v_id, edge.u_id, k) for k in closed_ids[1:]])
        before = max(nx.strongly_connected_components(graph), key=len)
        after = max(nx.strongly_connected_components(trial), key=len)
        if after == before:
            break
    else:
        pytest.fail("no closable edge keeps the network connected")
    scenario = _scenario(api, city, [{"type": "close_road", "edge_ids": closed_ids}])
    run = _run(api, scenario["id"], "traffic", {"gap": 1e-6})
    rows = {r.edge_id: r for r in EdgeResult.objects.filter(run=run)}
    base_rows = {r.edge_id: r for r in EdgeResult.objects.filter(run=base_run)}
    for eid in closed_ids:
        assert rows[eid].closed and rows[eid].volume_veh_h == 0.0
    assert busiest.volume_veh_h > 1.0
    assert run.kpis["unassignable_trips"] == base_run.kpis["unassignable_trips"]
    # the vehicles that used the closed road now use other edges: the edges that gained flow
    # (the detour) gained at least about what the closed road carried
    gained = sum(
        max(0.0, rows[e].volume_veh_h - base_rows[e].volume_veh_h)
        for e in rows
        if e is not None and e not in closed_ids
    )
    assert gained > 0.9 * busiest.volume_veh_h
    assert run.kpis["vehicle_km"] > base_run.kpis["vehicle_km"]
    assert run.kpis["trips"] == pytest.approx(base_run.kpis["trips"])  # fixed demand
    # comparison: KPI deltas and a difference layer
    compare = api.get(f"/api/runs/{run.pk}/compare/{base_run.pk}/").json()
    assert compare["kpis"]["vehicle_km"]["delta"] > 0
    diff = api.get(f"/api/runs/{run.pk}/compare/{base_run.pk}/edges/").json()
    by_edge = {f["properties"]["edge_id"]: f["properties"] for f in diff["features"]}
    assert by_edge[edge.id]["delta_volume_veh_h"] == pytest.approx(-busiest.volume_veh_h)
    assert by_edge[edge.id]["closed"] is True
    # the printable report against the baseline: read back, two pages, the edit in words and
    # the key figures with their units as the page shows them
    report = api.get(f"/api/runs/{run.pk}/report.pdf", {"base": str(base_run.pk)})
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(report.content))
    text = " ".join(page.extract_text() for page in pdf.pages)
    assert len(pdf.pages) == 2, text
    label = api.get(f"/api/scenarios/{scenario['id']}/").json()["edit_labels"][0]
    assert label.startswith("Close ") and label in text
    assert "Vehicle hours travelled" in text and "Baseline" in text and "Volume/capacity" in text
    assert f"{run.kpis['vehicle_hours']:,.0f} h" in text
    unknown = api.get(f"/api/runs/{run.pk}/report.pdf", {"base": "not-a-run"})
    assert unknown.status_code == 404
    # results as GeoJSON and as vector tiles with their attributes
    layer = api.get(f"/api/runs/{run.pk}/edges/").json()
    assert len(layer["features"]) == len(rows)
    lon, lat = edge.geom.centroid.coords
    z = 15
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - np.arcsinh(np.tan(np.radians(lat))) / np.pi) / 2 * 2**z)
    tile = api.get(f"/tiles/runs/{run.pk}/edges/{z}/{x}/{y}.pbf")
    assert tile.status_code == 200
    features = mapbox_vector_tile.decode(tile.content)["edges"]["features"]
    closed_in_tile = [f for f in features if f["properties"]["edge_id"] == edge.id]
    assert closed_in_tile and closed_in_tile[0]["properties"]["volume_veh_h"] == 0
    assert any(f["properties"]["volume_veh_h"] > 0 for f in features)
    diff_tile = api.get(f"/tiles/compare/{run.pk}/{base_run.pk}/edges/{z}/{x}/{y}.pbf")
    decoded = mapbox_vector_tile.decode(diff_tile.content)["edges"]["features"]
    assert any(f["properties"].get("delta_volume_veh_h", 0) > 0 for f in decoded)
    # the same results through OGC API - Features, one run selected by its id
    items = api.get(
        "/ogc/collections/edge-results/items", {"run": str(run.pk), "limit": 10000, "f": "json"}
    ).json()
    assert items["numberReturned"] == len(rows)
    ogc_closed = [f for f in items["features"] if f["properties"]["edge"] == edge.id]
    assert ogc_closed[0]["properties"]["volume_veh_h"] == 0
    export = api.get("/ogc/collections/edge-results/export", {"run": str(run.pk), "format": "gpkg"})
    assert export.status_code == 200
    gpkg = Path(settings.MEDIA_ROOT).parent / f"export-{run.pk}.gpkg"
    gpkg.write_bytes(b"".join(export.streaming_content) if export.streaming else export.content)
    try:
        assert len(pyogrio.read_dataframe(gpkg)) == len(rows)
    finally:
        gpkg.unlink()
    # an identical request reuses the result
    again = api.post(
        f"/api/scenarios/{scenario['id']}/runs/",
        {"simulator": "traffic", "params": {"gap": 1e-6}},
        format="json",
    )
    assert again.status_code == 200 and again.json()["reused"] and again.json()["id"] == str(run.pk)


def _sun_hours(run: Run) -> tuple[np.ndarray, object]:
    raster = RunRaster.objects.get(run=run, name="sun_hours")
    with rasterio.open(Path(settings.MEDIA_ROOT) / raster.file_path) as src:
        return src.read(1), src.transform


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_tall_building_takes_sun_north_of_it_and_nowhere_else(
    api, committed_city, celery_worker_process
):
    city = committed_city("Helsinki")
    buildings = Building.objects.filter(city=city)
    centre = buildings.first().footprint.centroid
    lon, lat = centre.x, centre.y
    box = [lon - 0.004, lat - 0.009, lon + 0.004, lat + 0.004]
    params = {"bbox": box, "cell_m": 2.0, "step_min": 30, "date": "2026-03-20"}
    baseline = _baseline(api, city)
    base_run = _run(api, baseline["id"], "solar", params)
    # the tower stands 150 m south of the centre building, away from its footprint
    tower_lat = lat - 150 / 111_320.0
    tower = _square(lon, tower_lat, 10)
    scenario = _scenario(
        api,
        city,
        [{"type": "add_building", "footprint": tower, "height_m": 80, "use": "commercial"}],
    )
    run = _run(api, scenario["id"], "solar", params)
    before, transform = _sun_hours(base_run)
    after, transform_after = _sun_hours(run)
    # the run says how the engine cut the raster (the halo: 80 m tower, sun above 5 deg)
    plan = Run.objects.get(pk=run.pk).meta["solar_plan"]
    assert plan["cell_m"] == 2.0 and plan["tiles"] >= 1
    assert (
        80 / math.tan(math.radians(5.0)) <= plan["halo_m"] <= 80 / math.tan(math.radians(5.0)) + 20
    )
    assert transform == transform_after and before.shape == after.shape
    diff = after.astype(float) - before.astype(float)
    to_local = Transformer.from_crs(4326, city.local_epsg, always_xy=True)
    xs, ys = zip(*(to_local.transform(*c) for c in tower["coordinates"][0]), strict=True)
    rows, cols = np.indices(diff.shape)
    cx, cy = rasterio.transform.xy(transform, rows.ravel(), cols.ravel())
    cx, cy = np.asarray(cx).reshape(diff.shape), np.asarray(cy).reshape(diff.shape)
    footprint = (cx > min(xs)) & (cx < max(xs)) & (cy > min(ys)) & (cy < max(ys))
    outside = ~footprint
    lost = outside & (diff < -1e-3)
    assert lost.sum() > 100, "the tower casts no shadow"
    # around the March equinox the sun rises and sets within a degree or so of due east and
    # west: every shadow falls north of the tower's south edge (the cell size as tolerance)
    assert cy[lost].min() >= min(ys) - 2.0
    assert not (outside & (diff > 1e-3)).any(), "a new building cannot add sun elsewhere"
    assert diff[lost].min() >= -12.0  # no more than the day's daylight
    # per building: roofs north of the tower lose sun, none south of it
    compare = api.get(f"/api/runs/{run.pk}/compare/{base_run.pk}/buildings/").json()
    changed = [f for f in compare["features"] if (f["properties"]["delta_sun_hours"] or 0) < -1e-3]
    assert changed
    for feature in changed:
        ring = np.asarray(feature["geometry"]["coordinates"][0][0])
        assert ring[:, 1].max() > tower_lat - 10 / 111_320.0
    added = BuildingResult.objects.filter(run=run, added=True)
    assert added.count() == 1 and added.first().height_m == 80
    # a raster tile of the result renders as PNG; shadow masks are listed by time
    listing = api.get(f"/api/runs/{run.pk}/rasters/").json()
    names = [r["name"] for r in listing]
    assert "sun_hours" in names and sum(n.startswith("shadow_") for n in names) >= 20
    # the masks follow Helsinki's clock (EET, UTC+2 on 20 March): the sun rises at about 06:20
    # local time (04:20 UTC) and sets at about 18:30 (16:30 UTC)
    shadows = sorted(n for n in names if n.startswith("shadow_"))
    assert "shadow_0600" <= shadows[0] <= "shadow_0630", shadows[0]
    assert "shadow_1800" <= shadows[-1] <= "shadow_1830", shadows[-1]
    assert city.time_zone == "Europe/Helsinki"
    z = 16
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - np.arcsinh(np.tan(np.radians(tower_lat))) / np.pi) / 2 * 2**z)
    png = api.get(f"/tiles/runs/{run.pk}/rasters/sun_hours/{z}/{x}/{y}.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"

    # the difference layer per cell: coloured where sun was lost, transparent where unchanged
    def changed_pixels(tile_y: int) -> int:
        response = api.get(
            f"/tiles/compare/{run.pk}/{base_run.pk}/rasters/sun_hours/{z}/{x}/{tile_y}.png"
        )
        assert response.status_code == 200  # inside the raster
        with rasterio.io.MemoryFile(response.content) as memory, memory.open() as png:
            return int((png.read(png.count) > 0).sum())

    assert changed_pixels(y) > 0 or changed_pixels(y - 1) > 0
    assert changed_pixels(y + 2) == 0  # two tiles (about 800 m) south of the tower
    shadow_png = api.get(f"/tiles/runs/{run.pk}/rasters/shadow_1000/{z}/{x}/{y}.png")
    assert shadow_png.status_code == 200
    assert (
        shadow_png.content
        != api.get(f"/tiles/runs/{run.pk}/rasters/shadow_0700/{z}/{x}/{y}.png").content
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_evacuation_run_stores_curve_buildings_and_bottlenecks(
    api, committed_city, celery_worker_process
):
    city = committed_city("Helsinki")
    building = Building.objects.filter(city=city, workers__gt=0).first()
    centre = building.footprint.centroid
    zone = _square(centre.x, centre.y, 250)
    # a small shelter 400 m east of the zone: it fills up, and the rest go to the safe area
    shelter_lon = centre.x + 400 / (111_320.0 * np.cos(np.radians(centre.y)))
    shelter = {"type": "Point", "coordinates": [shelter_lon, centre.y]}
    edits = [
        {"type": "hazard_zone", "polygon": zone, "start_min": 0},
        {"type": "add_shelter", "point": shelter, "capacity": 50, "name": "School gym"},
        {"type": "departure_profile", "distribution": "weibull", "scale_min": 10, "shape": 1.5},
    ]
    scenario = _scenario(api, city, edits)
    # at night: residents and night-shift workers (at noon this city-centre zone holds about
    # 30,000 workers and visitors: see test_credible_runs for the day/night comparison)
    run = _run(api, scenario["id"], "evacuation", {"time_of_day_h": 3})
    kpis = run.kpis
    (placed,) = [s for s in run.meta["shelters"] if s["name"] == "School gym"]
    assert placed["capacity"] == 50
    assert placed["lon"] == pytest.approx(shelter_lon, abs=1e-6)
    assert placed["lat"] == pytest.approx(centre.y, abs=1e-6)
    assert kpis["evacuees"] > 100 and kpis["not_arrived"] == 0
    # the simulated clearance can never beat the flows-over-time lower bound
    assert kpis["t100_s"] >= kpis["lower_bound_s"] - 1e-6
    assert kpis["t50_s"] <= kpis["t90_s"] <= kpis["t100_s"]
    series = api.get(f"/api/runs/{run.pk}/series/").json()
    # half the road capacity taken by background traffic cannot clear the zone sooner
    busy = _run(api, scenario["id"], "evacuation", {"time_of_day_h": 3, "background_share": 0.5})
    assert busy.kpis["evacuees"] == kpis["evacuees"]
    assert busy.kpis["t50_s"] >= kpis["t50_s"]
    if busy.kpis["t100_s"] is None:  # not everyone out within the horizon: said, not hidden
        assert busy.kpis["not_arrived"] > 0
    else:
        assert busy.kpis["t100_s"] >= kpis["t100_s"]
    gym = series["shelter:School gym"]
    # it fills (up to the last car that still fits: cars carry about 2 persons) and never over
    assert gym["capacity"] == 50 and 47 <= max(gym["values"]) <= 50
    curve = series["evacuated_share"]
    assert curve["values"][-1] == pytest.approx(1.0)
    assert np.all(np.diff(curve["values"]) >= -1e-12)
    # the replay: cars on each edge every series_step_s, on the road while people leave
    edges = api.get(f"/api/runs/{run.pk}/edges/").json()["features"]
    samples = run.meta["samples"]
    assert edges and all(len(f["properties"]["occupancy_veh"]) == samples for f in edges)
    on_road = np.sum([f["properties"]["occupancy_veh"] for f in edges], axis=0)
    step_s = run.meta["series_step_s"]
    assert on_road.max() > 0
    assert on_road[int(kpis["t100_s"] // step_s) + 1 :].sum() == 0  # empty once all are out
    times = [
        f["properties"]["evacuation_time_s"]
        for f in api.get(f"/api/runs/{run.pk}/buildings/").json()["features"]
    ]
    assert times and max(t for t in times if t is not None) == pytest.approx(kpis["t100_s"], abs=10)


def _circle(lon: float, lat: float, radius_m: float, n: int = 64) -> dict:
    """A circle polygon (GeoJSON, lon/lat) of ``radius_m`` around a point."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    dlon = radius_m / (111_320.0 * np.cos(np.radians(lat)))
    ring = [[lon + dlon * np.cos(a), lat + radius_m / 111_320.0 * np.sin(a)] for a in ang]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_evacuation_of_central_helsinki_reports_stranded_evacuees_and_bounds_the_rest(
    api, committed_city, celery_worker_process
):
    """Issue 15: 800 m around the median building left cars with no route out (one-way
    fragments, edges of the extract); T100 was None and the bound ran out of memory."""
    city = committed_city("Helsinki")
    points = np.array([b.footprint.centroid.coords for b in Building.objects.filter(city=city)])
    median = np.median(points, axis=0)
    centre = points[np.argmin(np.hypot(*(points - median).T))]
    zone = _circle(float(centre[0]), float(centre[1]), 800.0)
    scenario = _scenario(api, city, [{"type": "hazard_zone", "polygon": zone, "start_min": 0}])
    run = _run(api, scenario["id"], "evacuation")  # succeeded: no MemoryError
    kpis = run.kpis
    # evacuees with no route are reported apart, with their reasons, never as out
    assert kpis["stranded_persons"] > 0 and kpis["stranded_vehicles"] > 0
    by_reason = {k: v for k, v in kpis.items() if k.startswith("stranded_") and
                 k.endswith("_persons") and k != "stranded_persons"}  # fmt: skip
    assert set(by_reason) == {f"stranded_{c}_persons" for c in
                              ("closed_road", "edge_of_extract", "one_way_trap", "isolated")}  # fmt: skip
    assert sum(by_reason.values()) == pytest.approx(kpis["stranded_persons"])
    assert by_reason["stranded_closed_road_persons"] == 0  # no road was closed
    (warning,) = [w for w in run.warnings if w["code"] == "stranded_evacuees"]
    assert f"{kpis['stranded_persons']:.0f} evacuees" in warning["message"]
    # where they are: points inside the hazard circle, persons adding up
    points = run.meta["stranded"]["features"]
    assert points and sum(f["properties"]["persons"] for f in points) == pytest.approx(
        kpis["stranded_persons"]
    )
    to_m = Transformer.from_crs(4326, city.local_epsg, always_xy=True)
    cx, cy = to_m.transform(*centre)
    for f in points:
        x, y = to_m.transform(*f["geometry"]["coordinates"])
        assert np.hypot(x - cx, y - cy) <= 800.0 + 1.0
        assert f["properties"]["reason"] in ("edge_of_extract", "one_way_trap", "isolated")
    # everyone with a route gets out: T100 and the bound exist, and the bound is below T100
    assert kpis["evacuees"] > kpis["stranded_persons"] and kpis["not_arrived"] == 0
    assert kpis["t100_s"] is not None and kpis["t100_reason"] is None
    assert 0 < kpis["lower_bound_s"] <= kpis["t100_s"]
    assert not kpis["horizon_capped"]
    # the bound can be switched off
    fast = _run(api, scenario["id"], "evacuation", {"lower_bound": False})
    assert fast.kpis["lower_bound_s"] is None and fast.kpis["t100_s"] == kpis["t100_s"]
    assert fast.kpis["stranded_persons"] == kpis["stranded_persons"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_run_and_leaves_no_results(
    api, committed_city, celery_worker_process
):
    city = committed_city("Helsinki")
    scenario = _scenario(api, city)
    # short steps: long enough to be cancelled mid-way
    response = api.post(
        f"/api/scenarios/{scenario['id']}/runs/",
        {"simulator": "solar", "params": {"cell_m": 2.0, "step_min": 4}},
        format="json",
    )
    run_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=run_id).progress_percent < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Job.objects.get(pk=run_id).status == "running"
    assert api.post(f"/api/runs/{run_id}/cancel/").json()["status"] == "cancelled"
    folder = Path(settings.MEDIA_ROOT) / "runs" / run_id
    assert folder.exists()  # the worker had written shadow masks
    # the worker notices at its next progress report, rolls back and removes its files
    deadline = time.monotonic() + 30
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not folder.exists()
    assert Job.objects.get(pk=run_id).status == "cancelled"
    assert not RunRaster.objects.filter(run_id=run_id).exists()
    assert not BuildingResult.objects.filter(run_id=run_id).exists()
    # the worker is free again: the next run succeeds
    assert _run(api, scenario["id"], "traffic").job.status == "succeeded"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_leaves_the_run_failed_and_a_rerun_succeeds(
    api, committed_city, celery_worker_process, beat
):
    """Celery beat sends the reaper (every second here, 3 s of silence make a suspect)."""
    city = committed_city("Helsinki")
    scenario = _scenario(api, city)
    params = {"cell_m": 2.0, "step_min": 5}
    response = api.post(
        f"/api/scenarios/{scenario['id']}/runs/",
        {"simulator": "solar", "params": params},
        format="json",
    )
    run_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while Job.objects.get(pk=run_id).progress_percent < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    job = Job.objects.get(pk=run_id)
    assert job.status == "running" and "/" in job.worker
    os.kill(int(job.worker.rsplit("/", 1)[1]), signal.SIGKILL)  # the process doing the run
    deadline = time.monotonic() + 60
    status = "running"
    while status == "running" and time.monotonic() < deadline:
        time.sleep(1.0)
        status = api.get(f"/api/runs/{run_id}/").json()["status"]
    body = api.get(f"/api/runs/{run_id}/").json()
    assert body["status"] == "failed", body
    assert "stopped" in body["error"]["message"]
    # the same run again (nothing reused from a failure) succeeds on the restarted process
    rerun = _run(api, scenario["id"], "solar", params)
    assert rerun.pk != run_id


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_run_two_runs_at_once(api, committed_city, celery_worker_process):
    city = committed_city("Helsinki")
    scenario = _scenario(api, city)
    second = start_worker("second")
    try:
        ids = []
        for step in (10, 12):  # different parameters, so no reuse
            response = api.post(
                f"/api/scenarios/{scenario['id']}/runs/",
                {"simulator": "solar", "params": {"cell_m": 2.0, "step_min": step}},
                format="json",
            )
            ids.append(response.json()["id"])
        jobs = [wait_for_job(i, 300) for i in ids]
    finally:
        stop_worker(second)
    assert all(j.status == "succeeded" for j in jobs), [j.error for j in jobs]
    hosts = {j.worker.split("/")[0] for j in jobs}
    assert len(hosts) == 2, hosts
    a, b = jobs
    assert a.started_at < b.finished_at and b.started_at < a.finished_at  # they overlapped


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_progress_stream_and_cli(api, committed_city, celery_worker_process, capsys):
    city = committed_city("Helsinki")
    call_command("run_scenario", "baseline:Helsinki", "traffic", "gap=1e-5", "--json")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "succeeded" and out["kpis"]["trips"] > 0
    run = Run.objects.get(pk=out["id"])
    assert run.scenario.city == city and run.params["gap"] == 1e-5
    # a run in progress: the stream shows its progress moving, then its end
    started = api.post(
        f"/api/scenarios/{run.scenario_id}/runs/",
        {"simulator": "solar", "params": {"step_min": 10}},
        format="json",
    ).json()
    stream = api.get(f"/api/runs/{started['id']}/events/", HTTP_ACCEPT="text/event-stream")
    assert stream.status_code == 200  # what a browser's EventSource asks for
    live = b"".join(stream.streaming_content).decode()
    states = [
        json.loads(chunk.split("data: ", 1)[1])
        for chunk in live.split("\n\n")
        if chunk.startswith("event: run")
    ]
    percents = [s["progress_percent"] for s in states]
    assert len(set(percents)) >= 3 and percents == sorted(percents)
    assert states[-1]["status"] == "succeeded" and live.rstrip().endswith("data: {}")
    # no cell size given: the engine chose 1 m for this small city and says so
    solar = Run.objects.get(pk=started["id"])
    assert solar.meta["solar_plan"]["cell_m"] == 1.0 == solar.kpis["cell_m"]
    events = api.get(f"/api/runs/{run.pk}/events/")
    assert events["Content-Type"] == "text/event-stream"
    text = b"".join(events.streaming_content).decode()
    assert "event: run" in text and text.rstrip().endswith("data: {}")
    first = json.loads(text.split("data: ", 1)[1].split("\n", 1)[0])
    assert first["status"] == "succeeded" and first["progress_percent"] == 100
    with pytest.raises(Exception, match="params: 'nonsense' is not key=value"):
        call_command("run_scenario", "baseline:Helsinki", "traffic", "nonsense")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_traffic_runs_on_kotka_as_imported(committed_city, capsys):
    """Kotka's imported graph has dead ends and parts cut off from the main network: the run
    succeeds and every trip is either assigned or reported as unassignable."""
    city = committed_city("Kotka")
    call_command("run_scenario", "baseline:Kotka", "traffic", "gap=1e-5", "--inline", "--json")
    captured = capsys.readouterr()
    assert "100.0%" in captured.err  # the progress bar of an inline run
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["status"] == "succeeded", out
    kpis = out["kpis"]
    assert kpis["trips"] > 0 and kpis["relative_gap"] <= 1e-5
    assert 0 <= kpis["unassignable_trips"] < kpis["trips"]
    run = Run.objects.get(pk=out["id"])
    assert EdgeResult.objects.filter(run=run).count() == RoadEdge.objects.filter(city=city).count()
