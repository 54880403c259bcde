"""A.1 Sensing Core: the data model (properties and relations of every entity type), the
control information of every entity and the resource paths."""

from __future__ import annotations

from .conftest import BASE

ENTITY_SETS = [
    "Things", "Locations", "HistoricalLocations", "Datastreams", "Sensors",
    "ObservedProperties", "Observations", "FeaturesOfInterest",
]  # fmt: skip


def one(api, entity_set: str, ident: int | None = None) -> dict:
    if ident is None:
        r = api.get(entity_set, **{"$top": "1"})
        assert r.status_code == 200, r.content
        return r.json()["value"][0]
    r = api.get(f"{entity_set}({ident})")
    assert r.status_code == 200, r.content
    return r.json()


def check_properties(entity: dict, mandatory: set[str], optional: set[str] = frozenset()):
    missing = mandatory - set(entity)
    assert not missing, f"missing {missing} in {entity}"
    allowed = mandatory | set(optional) | {"@iot.id", "@iot.selfLink"}
    extra = {k for k in entity if not k.endswith("@iot.navigationLink")} - allowed
    assert not extra, f"unexpected {extra}"


def check_relations(api, entity_set: str, entity: dict, relations: set[str]):
    links = {k.split("@")[0] for k in entity if k.endswith("@iot.navigationLink")}
    assert links == relations
    for rel in relations:
        link = entity[f"{rel}@iot.navigationLink"]
        assert link == f"{entity['@iot.selfLink']}/{rel}"
        r = api.get(link)
        assert r.status_code == 200, (link, r.content)


def test_common_control_information(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/entity-control-information/common-control-information

    Every entity carries @iot.id and an @iot.selfLink that answers the same entity."""
    for entity_set in ENTITY_SETS:
        entity = one(anon, entity_set)
        assert isinstance(entity["@iot.id"], int)
        link = entity["@iot.selfLink"]
        assert link.endswith(f"{BASE}/{entity_set}({entity['@iot.id']})")
        assert anon.get(link).json()["@iot.id"] == entity["@iot.id"]


def test_thing_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/thing/properties"""
    thing = one(anon, "Things", sta.things[0].pk)
    check_properties(thing, {"name", "description"}, {"properties"})
    assert thing["name"] == "weather station"
    assert thing["properties"] == {"city": "Helsinki", "floors": 3}


def test_thing_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/thing/relations"""
    thing = one(anon, "Things", sta.things[0].pk)
    check_relations(anon, "Things", thing, {"Locations", "HistoricalLocations", "Datastreams"})
    names = [d["name"] for d in anon.get(f"Things({sta.things[0].pk})/Datastreams").json()["value"]]
    assert names == ["temperature"]


def test_location_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/location/properties"""
    loc = one(anon, "Locations", sta.locations[0].pk)
    check_properties(loc, {"name", "description", "encodingType", "location"}, {"properties"})
    assert loc["encodingType"] == "application/geo+json"
    assert loc["location"] == {"type": "Point", "coordinates": [24.952, 60.168]}


def test_location_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/location/relations"""
    loc = one(anon, "Locations", sta.locations[0].pk)
    check_relations(anon, "Locations", loc, {"Things", "HistoricalLocations"})
    things = anon.get(f"Locations({sta.locations[0].pk})/Things").json()["value"]
    assert [t["@iot.id"] for t in things] == [sta.things[0].pk]


def test_historical_location_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/historical-location/properties"""
    hl = one(anon, "HistoricalLocations")
    check_properties(hl, {"time"})
    assert hl["time"] == "2026-05-01T00:00:00Z"


def test_historical_location_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/historical-location/relations"""
    hl = one(anon, "HistoricalLocations")
    check_relations(anon, "HistoricalLocations", hl, {"Thing", "Locations"})
    thing = anon.get(hl["Thing@iot.navigationLink"]).json()
    assert thing["@iot.id"] == sta.things[0].pk


def test_datastream_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/datastream/properties"""
    ds = one(anon, "Datastreams", sta.datastreams[0].pk)
    check_properties(
        ds,
        {"name", "description", "unitOfMeasurement", "observationType"},
        {"observedArea", "phenomenonTime", "resultTime", "properties"},
    )
    assert ds["unitOfMeasurement"]["symbol"] == "degC"
    assert ds["observationType"].endswith("OM_Measurement")
    # the envelope of its observations' times, kept as observations arrive
    assert ds["phenomenonTime"] == "2026-05-01T00:00:00Z/2026-05-01T11:00:00Z"
    assert ds["resultTime"] == "2026-05-01T00:01:00Z/2026-05-01T11:01:00Z"
    # the extent of its features of interest (here the one made from the Thing's Location)
    assert ds["observedArea"] == {"type": "Point", "coordinates": [24.952, 60.168]}


def test_datastream_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/datastream/relations"""
    ds = one(anon, "Datastreams", sta.datastreams[0].pk)
    check_relations(
        anon, "Datastreams", ds, {"Thing", "Sensor", "ObservedProperty", "Observations"}
    )
    assert anon.get(ds["Sensor@iot.navigationLink"]).json()["name"] == "thermometer"
    assert len(anon.get(ds["Observations@iot.navigationLink"]).json()["value"]) == 12


def test_sensor_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/sensor/properties"""
    sensor = one(anon, "Sensors", sta.sensors[0].pk)
    check_properties(sensor, {"name", "description", "encodingType", "metadata"}, {"properties"})
    assert sensor["metadata"] == "http://example.org/pt100"


def test_sensor_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/sensor/relations"""
    sensor = one(anon, "Sensors", sta.sensors[0].pk)
    check_relations(anon, "Sensors", sensor, {"Datastreams"})


def test_observed_property_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/observed-property/properties"""
    op = one(anon, "ObservedProperties", sta.properties[0].pk)
    check_properties(op, {"name", "definition", "description"}, {"properties"})
    assert op["definition"] == "http://example.org/air_temperature"


def test_observed_property_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/observed-property/relations"""
    op = one(anon, "ObservedProperties", sta.properties[0].pk)
    check_relations(anon, "ObservedProperties", op, {"Datastreams"})


def test_observation_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/observation/properties"""
    obs = anon.get(
        f"Datastreams({sta.datastreams[0].pk})/Observations", **{"$orderby": "phenomenonTime"}
    ).json()["value"][0]
    check_properties(
        obs,
        {"phenomenonTime", "resultTime", "result"},
        {"resultQuality", "validTime", "parameters"},
    )
    assert obs["phenomenonTime"] == "2026-05-01T00:00:00Z"
    assert obs["result"] == 10.0


def test_observation_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/observation/relations"""
    obs = one(anon, f"Datastreams({sta.datastreams[0].pk})/Observations")
    check_relations(anon, "Observations", obs, {"Datastream", "FeatureOfInterest"})
    foi = anon.get(obs["FeatureOfInterest@iot.navigationLink"]).json()
    # no feature given: the Thing's Location became the feature of interest
    assert foi["feature"] == {"type": "Point", "coordinates": [24.952, 60.168]}


def test_feature_of_interest_properties(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/feature-of-interest/properties"""
    foi = one(anon, "FeaturesOfInterest")
    check_properties(foi, {"name", "description", "encodingType", "feature"}, {"properties"})


def test_feature_of_interest_relations(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel/feature-of-interest/relations"""
    foi = one(anon, "FeaturesOfInterest")
    check_relations(anon, "FeaturesOfInterest", foi, {"Observations"})


def test_resource_path_to_entities(anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities

    Service root, collections, entity by id, navigation, property, $value, $ref; unknown
    paths are 404."""
    root = anon.get(f"{BASE}/").json()
    assert sorted(v["name"] for v in root["value"]) == sorted(ENTITY_SETS)
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel"
        in root["serverSettings"]["conformance"]
    )
    for entity_set in ENTITY_SETS:
        r = anon.get(entity_set)
        assert r.status_code == 200 and r.json()["value"], entity_set
    t1, ds1 = sta.things[0].pk, sta.datastreams[0].pk
    assert anon.get(f"Things({t1})").json()["name"] == "weather station"
    assert anon.get(f"Datastreams({ds1})/Thing").json()["@iot.id"] == t1
    assert anon.get(f"Things({t1})/Datastreams({ds1})").json()["name"] == "temperature"
    assert anon.get(f"Datastreams({ds1})/Thing/Locations").json()["value"][0]["name"] == "city hall"
    assert anon.get(f"Things({t1})/name").json() == {"name": "weather station"}
    value = anon.get(f"Things({t1})/name/$value")
    assert value.content == b"weather station"
    assert value["Content-Type"].startswith("text/plain")
    refs = anon.get(f"Things({t1})/Datastreams/$ref").json()["value"]
    assert refs == [{"@iot.selfLink": f"http://testserver{BASE}/Datastreams({ds1})"}]
    assert anon.get(f"Things({t1})/$ref").json()["@iot.selfLink"].endswith(f"Things({t1})")
    # a Datastream of another Thing is not under this Thing; unknown sets and ids are 404
    assert anon.get(f"Things({t1})/Datastreams({sta.datastreams[1].pk})").status_code == 404
    assert anon.get("Thingies").status_code == 404
    assert anon.get("Things(999999)").status_code == 404
    assert anon.get(f"Things({t1})/nosuch").status_code == 404
