"""Runs on credible inputs: traffic across the extract's edge, presence by hour, warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from django.core.management import call_command

from citytwin.scenarios.models import EdgeResult, Run
from layers.models import Building

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "progress"]),
    pytest.mark.slow,
]


def _square(lon: float, lat: float, half_m: float) -> dict:
    dlat = half_m / 111_320.0
    dlon = half_m / (111_320.0 * np.cos(np.radians(lat)))
    box = shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    return shapely.geometry.mapping(box)


def _inline(ref: str, simulator: str, *params: str, capsys) -> dict:
    call_command("run_scenario", ref, simulator, *params, "--inline", "--json", "--no-reuse")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "succeeded", out
    return out


def _scenario(api, city, edits) -> int:
    response = api.post(
        "/api/scenarios/", {"city": city.id, "name": "zone", "edits": edits}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_central_helsinki_peak_hour_arterials_carry_over_1000_veh_h(committed_city, capsys):
    city = committed_city("Helsinki")
    out = _inline("baseline:Helsinki", "traffic", "gap=1e-4", capsys=capsys)
    kpis = out["kpis"]
    assert kpis["gateways"] >= 4 and kpis["through_trips"] > 0 and kpis["inbound_trips"] > 0
    run = Run.objects.get(pk=out["id"])
    assert run.warnings == []
    main = EdgeResult.objects.filter(
        run=run, highway__in=["motorway", "trunk", "primary", "secondary"]
    )
    # per direction: every directed edge is one direction of its road
    largest = max(main.values_list("volume_veh_h", flat=True))
    assert largest >= 1000.0, largest
    assert kpis["trips"] > 10 * 283  # the figure without external traffic
    internal = _inline(
        "baseline:Helsinki", "traffic", "gap=1e-4", "external_traffic=false", capsys=capsys
    )
    assert internal["kpis"]["gateways"] == 0
    assert internal["kpis"]["trips"] < kpis["trips"] - kpis["inbound_trips"]
    assert city.id == run.scenario.city_id


def test_evacuation_at_14h_moves_more_people_than_at_3h(api, committed_city, capsys):
    city = committed_city("Helsinki")
    centre = city.boundary.centroid
    scenario = _scenario(
        api, city, [{"type": "hazard_zone", "polygon": _square(centre.x, centre.y, 250)}]
    )  # a 500 m square zone
    # most leave the city centre on foot (30,000 persons by car would take hours to simulate)
    walk = "share_walking=0.9"
    day = _inline(str(scenario), "evacuation", "time_of_day_h=14", walk, capsys=capsys)["kpis"]
    night = _inline(str(scenario), "evacuation", "time_of_day_h=3", walk, capsys=capsys)["kpis"]
    assert night["evacuees"] > 0
    assert day["evacuees"] > 1.5 * night["evacuees"], (day["evacuees"], night["evacuees"])


def test_an_empty_zone_succeeds_with_a_warning(api, client, committed_city, capsys):
    city = committed_city("Helsinki")
    # a point of the city 65-130 m from any building (0.0012 degrees)
    x0, y0, x1, y1 = city.boundary.extent
    footprints = shapely.from_wkb(
        [
            bytes(b.wkb)
            for b in Building.objects.filter(city=city).values_list("footprint", flat=True)
        ]
    )
    tree = shapely.STRtree(footprints)
    empty = None
    for lon in np.linspace(x0, x1, 40):
        for lat in np.linspace(y0, y1, 40):
            p = shapely.Point(lon, lat)
            far = len(tree.query(p, predicate="dwithin", distance=0.0012)) == 0
            if far and city.boundary.contains(Point(lon, lat, srid=4326)):
                empty = (lon, lat)
                break
        if empty:
            break
    assert empty is not None
    scenario = _scenario(
        api, city, [{"type": "hazard_zone", "polygon": _square(*empty, 30)}]
    )  # fmt: skip
    out = _inline(str(scenario), "evacuation", "time_of_day_h=3", capsys=capsys)
    assert out["kpis"]["evacuees"] == 0
    run = api.get(f"/api/runs/{out['id']}/").json()
    assert [w["code"] for w in run["warnings"]] == ["no_evacuees"]
    assert "0 persons" in run["warnings"][0]["message"]
