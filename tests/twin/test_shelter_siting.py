"""The shelter_siting simulator on a small synthetic city: which shelters open, KPIs, warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db import connection

from citytwin.scenarios.models import BuildingResult, Run
from layers.models import City

pytestmark = [pytest.mark.django_db(transaction=True, databases=["default", "progress"])]


def _square(lon: float, lat: float, half_m: float) -> dict:
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * np.cos(np.radians(lat)))
    return shapely.geometry.mapping(shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat))


def _point(lon: float, lat: float, east_m: float, north_m: float = 0.0) -> dict:
    lat2 = lat + north_m / 111_320.0
    return {
        "type": "Point",
        "coordinates": [lon + east_m / (111_320.0 * np.cos(np.radians(lat))), lat2],
    }


def _inline(scenario: int, *params: str, capsys) -> dict:
    call_command(
        "run_scenario", str(scenario), "shelter_siting", *params, "--inline", "--json", "--no-reuse"
    )
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "succeeded", out
    return out


def _people_in(city: City, zone: dict) -> float:
    """Residents of the buildings whose inner point lies in ``zone`` (PostGIS, local CRS)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(residents), 0) FROM layers_building WHERE city_id = %s AND "
            "ST_Within(ST_PointOnSurface(ST_Transform(footprint, %s)), "
            "ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(%s), 4326), %s))",
            [city.id, city.local_epsg, json.dumps(zone), city.local_epsg],
        )
        return float(cursor.fetchone()[0])


@pytest.fixture
def city():
    call_command("load_synthetic_city", "Siting", "--links", "600", "--seed", "3")
    return City.objects.get(name="Siting")


def _scenario(api, city, zone, shelters) -> int:
    edits = [{"type": "hazard_zone", "polygon": zone}] + [
        {"type": "add_shelter", "point": point, "capacity": int(cap), "name": name}
        for name, point, cap in shelters
    ]
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": "siting", "edits": edits}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_the_near_shelters_open_and_short_capacity_warns(api, city, capsys):
    lon, lat = city.boundary.centroid.x, city.boundary.centroid.y
    zone = _square(lon, lat, 150)
    people = _people_in(city, zone)
    assert people > 50
    # east and west hold 60% of the zone each; the far one all of it but 2 km away
    near = int(np.ceil(0.6 * people))
    shelters = [
        ("east", _point(lon, lat, 450), near),
        ("west", _point(lon, lat, -450), near),
        ("far", _point(lon, lat, 1500, 1500), int(people) + 10),
    ]
    out = _inline(_scenario(api, city, zone, shelters), "p=2", capsys=capsys)
    kpis, run = out["kpis"], Run.objects.get(pk=out["id"])
    chosen = sorted(f["properties"]["name"] for f in run.meta["sites"]["features"]
                    if f["properties"]["chosen"])  # fmt: skip
    assert chosen == ["east", "west"]
    assert kpis["people_in_zone"] == pytest.approx(people)
    assert kpis["people_served"] == pytest.approx(people) and kpis["people_unserved"] == 0
    assert kpis["capacity_open"] == 2 * near
    assert kpis["capacity_used_share"] == pytest.approx(people / (2 * near))
    assert 0 < kpis["mean_travel_time_min"] <= kpis["max_travel_time_min"] < 10
    assert run.warnings == []
    rows = BuildingResult.objects.filter(run=run)
    assert sum(r.evacuees for r in rows) == pytest.approx(people)
    assert max(r.evacuation_time_s for r in rows) / 60 == pytest.approx(kpis["max_travel_time_min"])
    loads = [f["properties"]["load_people"] for f in run.meta["sites"]["features"]]
    assert sum(loads) == pytest.approx(people) and max(loads) <= near
    text = run.meta["recommendation"]
    assert f"run {run.pk}" in text and "east" in text and "west" in text
    assert f"{kpis['mean_travel_time_min']:.1f} min" in text

    # every shelter holds 30%: two of them leave at least 40% without a place
    small = [(n, p, int(0.3 * people)) for n, p, _ in shelters]
    out = _inline(_scenario(api, city, zone, small), "p=2", capsys=capsys)
    run = Run.objects.get(pk=out["id"])
    assert out["kpis"]["people_unserved"] >= people - 2 * int(0.3 * people) - 1e-6
    assert [w["code"] for w in run.warnings] == ["capacity_short"]
    assert "find no place" in run.meta["recommendation"]


def test_bad_siting_parameters_name_the_field(api, city, capsys):
    lon, lat = city.boundary.centroid.x, city.boundary.centroid.y
    scenario = _scenario(api, city, _square(lon, lat, 150), [("a", _point(lon, lat, 450), 100)])
    response = api.post(f"/api/scenarios/{scenario}/runs/",
                        {"simulator": "shelter_siting", "params": {"p": 0}}, format="json")  # fmt: skip
    assert response.status_code == 400 and response.json()["field"] == "params.p"
    response = api.post(
        f"/api/scenarios/{scenario}/runs/",
        {"simulator": "shelter_siting", "params": {"candidate_buildings": [True]}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "params.candidate_buildings"
    for params, field, words in (
        (["p=2"], "params.p", "cannot open 2 of 1 candidate sites"),
        (["candidates=buildings", 'candidate_buildings=["nope"]'], "params.candidate_buildings",
         "no building 'nope'"),
    ):  # fmt: skip
        with pytest.raises(CommandError, match="failed"):
            call_command("run_scenario", str(scenario), "shelter_siting", *params, "--inline")
        error = Run.objects.select_related("job").latest("job__created_at").job.error
        assert field in json.dumps(error) and words in json.dumps(error), error
