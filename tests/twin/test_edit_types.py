"""The edit-type registry: served schemas, physical bounds, the cap per scenario, labels in
words, and one set of rules for road and building edits in every engine."""

from __future__ import annotations

import numpy as np
import pytest
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from citytwin.scenarios import inputs
from layers.models import Building, City, RoadEdge
from simulators.common.occupancy import FLOOR_AREA_PER_WORKER_M2
from simulators.traffic.osm import network_from_graph
from simulators.traffic.scenarios import set_lanes

from .test_scenarios import _scenario, _square


@pytest.mark.django_db
def test_edit_types_are_served_and_are_the_openapi_request_schema():
    client = APIClient()
    body = client.get("/api/edit-types/").json()
    types = {t["type"]: t for t in body["edit_types"]}
    assert set(types) == {
        "close_road", "change_road", "add_road", "add_building", "remove_building",
        "heighten_building", "add_shelter", "hazard_zone", "demand_change", "departure_profile",
        "water_pipe_break", "water_valve_closure", "water_pump_out", "water_tank_out",
        "water_demand_change",
        "line_outage", "transformer_outage", "substation_outage", "power_demand_change",
        "add_transit_line", "change_transit_line", "remove_transit_line", "transit_lane",
    }  # fmt: skip
    lanes = types["change_road"]["schema"]["properties"]["lanes"]
    assert (lanes["type"], lanes["minimum"], lanes["maximum"]) == ("integer", 1, 8)
    speed = types["add_road"]["schema"]["properties"]["speed_kph"]
    assert speed["x-unit"] == "km/h" and speed["default"] == 50 and speed["maximum"] == 200
    assert types["close_road"]["label"] == "Close a road"
    for t in types.values():
        assert t["schema"]["properties"]["type"]["const"] == t["type"]
        assert t["schema"]["additionalProperties"] is False
    schema = client.get("/api/schema/", {"format": "json"}).json()
    edits_path = next(p for p in schema["paths"] if p.endswith("/edits/"))
    post = schema["paths"][edits_path]["post"]["requestBody"]["content"]["application/json"]
    assert post["schema"]["discriminator"] == {"propertyName": "type"}
    assert len(post["schema"]["oneOf"]) == len(types)
    put = schema["paths"][edits_path]["put"]["requestBody"]["content"]["application/json"]
    assert put["schema"]["items"]["oneOf"] == post["schema"]["oneOf"]
    # the whole document is valid OpenAPI (3.1: the edit schemas use const and type lists)
    validate_schema(schema)


@pytest.mark.django_db
def test_physical_bounds_and_the_edit_cap_name_the_field(api):
    city = City.objects.get(name="Helsinki")
    edge = RoadEdge.objects.filter(city=city).first()
    building = Building.objects.filter(city=city).first()
    centre = building.footprint.centroid
    scenario = _scenario(api, city)
    url = f"/api/scenarios/{scenario['id']}/edits/"
    for edit, field in [
        ({"type": "change_road", "edge_ids": [edge.id], "lanes": 40}, "lanes"),
        ({"type": "change_road", "edge_ids": [edge.id], "speed_kph": 900}, "speed_kph"),
        ({"type": "heighten_building", "building_ids": [building.id], "height_m": 5e3}, "height_m"),
        ({"type": "demand_change", "factor": 50}, "factor"),
        (
            {
                "type": "add_shelter",
                "point": {"type": "Point", "coordinates": [centre.x, centre.y]},
                "capacity": 10**7,
            },
            "capacity",
        ),  # fmt: skip
        ({"type": "departure_profile", "distribution": "rayleigh", "scale_min": 1e5}, "scale_min"),
        (
            {
                "type": "add_building",
                "footprint": _square(centre.x + 90, centre.y, 10),
                "height_m": 10,
            },
            "footprint",
        ),  # fmt: skip
    ]:
        response = api.post(url, edit, format="json")
        assert response.status_code == 400, (edit, response.content)
        assert response.json()["field"] == f"edits[0].{field}", response.json()
    too_many = [{"type": "demand_change", "factor": 1.0}] * 501
    response = api.put(url, too_many, format="json")
    assert response.status_code == 400 and response.json()["field"] == "edits"
    assert "500" in response.json()["error"]
    assert api.get(url.replace("edits/", "")).json()["edits"] == []


@pytest.mark.django_db
def test_labels_name_the_street_and_the_building(api):
    city = City.objects.get(name="Helsinki")
    street = RoadEdge.objects.filter(city=city).exclude(name="").order_by("id").first()
    same = list(
        RoadEdge.objects.filter(city=city, name=street.name).values_list("id", flat=True)[:3]
    )
    scenario = _scenario(
        api,
        city,
        [
            {"type": "close_road", "edge_ids": same},
            {"type": "change_road", "edge_ids": same[:1], "speed_kph": 30},
            {"type": "demand_change", "factor": 1.5},
        ],
    )
    features = api.get(f"/api/scenarios/{scenario['id']}/edits.geojson").json()["features"]
    labels = [f["properties"]["label"] for f in features]
    segments = f"{len(same)} segment{'s' if len(same) > 1 else ''}"
    assert labels[0] == f"Close {street.name} ({segments})"
    assert labels[1] == f"Change {street.name} (1 segment): 30 km/h"
    assert labels[2] == "Trips x 1.5"
    assert features[0]["properties"]["edge_ids"] == same


@pytest.mark.django_db
def test_a_lane_change_follows_the_engines_rule_on_the_graph():
    city = City.objects.get(name="Helsinki")
    edge = RoadEdge.objects.filter(city=city, lanes=1).order_by("id").first()
    base = inputs.base_road_graph(city)
    network, keys = network_from_graph(base)
    index = next(i for i, (u, v, k) in enumerate(keys) if k == edge.id)
    edited = inputs.apply_road_edits(
        base.copy(), city, [{"type": "change_road", "edge_ids": [edge.id], "lanes": 3}]
    )
    from_graph, _ = network_from_graph(edited)
    from_engine = set_lanes(network, [index], 3)
    assert from_graph.capacity[index] == pytest.approx(3 * network.capacity[index])
    np.testing.assert_allclose(from_graph.capacity, from_engine.capacity)
    np.testing.assert_allclose(from_graph.lanes, from_engine.lanes)


@pytest.mark.django_db
def test_an_added_building_has_the_same_people_in_every_engine():
    city = City.objects.get(name="Helsinki")
    building = Building.objects.filter(city=city).first()
    centre = building.footprint.centroid
    edits = [
        {"type": "add_building", "footprint": _square(centre.x, centre.y, 10), "height_m": 9.0,
         "use": "industrial"},
    ]  # fmt: skip
    frame = inputs.buildings_frame(city, edits)
    added = frame[frame["added"]].iloc[0]
    # 20 m x 20 m, three storeys
    assert added["floor_area_m2"] == pytest.approx(1200.0, rel=0.01)
    assert added["workers"] == pytest.approx(
        1200.0 / FLOOR_AREA_PER_WORKER_M2["industrial"], rel=0.01
    )
    assert added["residents"] == 0.0
    # the importer's rule gives the same building the same people
    from simulators.common.occupancy import residents_and_workers

    assert residents_and_workers("industrial", added["floor_area_m2"]) == (0.0, added["workers"])
