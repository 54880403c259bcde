"""A.3 Create-Update-Delete: create, link by @iot.id, deep insert, PATCH, PUT, DELETE and the
HistoricalLocations the service records."""

from __future__ import annotations

from sensors import models as m

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
POINT = {"type": "Point", "coordinates": [24.94, 60.17]}


def sensor_body(name="anemometer"):
    return {
        "name": name,
        "description": "cups",
        "encodingType": "text/html",
        "metadata": "http://x",
    }


def datastream_body(sta, **extra):
    return {
        "name": "wind", "description": "wind speed",
        "unitOfMeasurement": {"name": "metre per second", "symbol": "m/s", "definition": "http://x/ms"},
        "observationType": OM,
        "Thing": {"@iot.id": sta.things[0].pk},
        "Sensor": {"@iot.id": sta.sensors[0].pk},
        "ObservedProperty": {"@iot.id": sta.properties[0].pk},
        **extra,
    }  # fmt: skip


def test_create_entity(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/create-entity

    POST to a collection creates the entity: 201, Location header, the entity in the body;
    a missing mandatory property is a 400 naming it and nothing is created."""
    bodies = {
        "Things": {"name": "buoy", "description": "in the bay", "properties": {"depth_m": 4}},
        "Locations": {"name": "bay", "description": "b", "encodingType": "application/geo+json", "location": POINT},
        "Sensors": sensor_body(),
        "ObservedProperties": {"name": "wind speed", "definition": "http://x/wind", "description": "w"},
        "FeaturesOfInterest": {"name": "bay", "description": "b", "encodingType": "application/geo+json", "feature": POINT},
        "Datastreams": datastream_body(sta),
        "Observations": {"phenomenonTime": "2026-06-01T00:00:00Z", "result": 7.5, "Datastream": {"@iot.id": sta.datastreams[0].pk}},
        "HistoricalLocations": {"time": "2026-06-01T00:00:00Z", "Thing": {"@iot.id": sta.things[0].pk}},
    }  # fmt: skip
    for entity_set, body in bodies.items():
        r = alice.post(entity_set, body)
        assert r.status_code == 201, (entity_set, r.content)
        created = r.json()
        assert r["Location"] == created["@iot.selfLink"]
        again = anon.get(r["Location"]).json()
        for key, value in body.items():
            if not isinstance(value, dict) or "@iot.id" not in value:
                assert again[key] == value, (entity_set, key)
    before = m.Thing.objects.count()
    r = alice.post("Things", {"description": "no name"})
    assert r.status_code == 400 and r.json()["field"] == "name"
    r = alice.post("Datastreams", {**datastream_body(sta), "unitOfMeasurement": None})
    assert r.status_code == 400 and r.json()["field"] == "unitOfMeasurement"
    r = alice.post("Observations", {"result": 1})
    assert r.status_code == 400 and r.json()["field"] == "Datastream"
    assert m.Thing.objects.count() == before
    # anonymous writes are refused
    assert anon.post("Things", bodies["Things"]).status_code == 401


def test_link_to_existing_entities(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/link-to-existing-entities

    A new entity links to existing ones by @iot.id, in the body or by posting to a
    navigation collection; an unknown id is a 400 naming the relation."""
    r = alice.post("Datastreams", datastream_body(sta))
    ds = r.json()
    assert anon.get(f"Datastreams({ds['@iot.id']})/Thing").json()["@iot.id"] == sta.things[0].pk
    assert anon.get(f"Datastreams({ds['@iot.id']})/Sensor").json()["@iot.id"] == sta.sensors[0].pk
    # posting into a navigation collection links to the parent
    r = alice.post(
        f"Datastreams({ds['@iot.id']})/Observations",
        {"phenomenonTime": "2026-06-02T00:00:00Z", "result": 3},
    )
    assert r.status_code == 201, r.content
    assert anon.get(r["Location"] + "/Datastream").json()["@iot.id"] == ds["@iot.id"]
    r = alice.post(
        "Things", {"name": "n", "description": "d", "Locations": [{"@iot.id": sta.locations[1].pk}]}
    )
    assert r.status_code == 201
    locs = anon.get(r["Location"] + "/Locations").json()["value"]
    assert [loc["@iot.id"] for loc in locs] == [sta.locations[1].pk]
    r = alice.post("Datastreams", {**datastream_body(sta), "Sensor": {"@iot.id": 987654}})
    assert r.status_code == 400 and r.json()["field"] == "Sensor"


def test_deep_insert(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/deep-insert

    A Thing with its Location, Datastream, Sensor, ObservedProperty and Observations (one
    with its own FeatureOfInterest) in one request."""
    body = {
        "name": "air quality box", "description": "on a lamp post",
        "Locations": [{"name": "lamp post", "description": "l", "encodingType": "application/geo+json", "location": POINT}],
        "Datastreams": [{
            "name": "pm2.5", "description": "fine particles",
            "unitOfMeasurement": {"name": "microgram per cubic metre", "symbol": "ug/m3", "definition": "http://x/ugm3"},
            "observationType": OM,
            "Sensor": sensor_body("optical counter"),
            "ObservedProperty": {"name": "PM2.5", "definition": "http://x/pm25", "description": "p"},
            "Observations": [
                {"phenomenonTime": "2026-06-01T00:00:00Z", "result": 8.0},
                {"phenomenonTime": "2026-06-01T01:00:00Z", "result": 9.5,
                 "FeatureOfInterest": {"name": "street", "description": "s", "encodingType": "application/geo+json", "feature": POINT}},
            ],
        }],
    }  # fmt: skip
    r = alice.post("Things", body)
    assert r.status_code == 201, r.content
    thing = anon.get(
        r["Location"],
        **{
            "$expand": "Locations,Datastreams($expand=Sensor,ObservedProperty,Observations($orderby=phenomenonTime;$expand=FeatureOfInterest))"
        },
    ).json()
    ds = thing["Datastreams"][0]
    assert thing["Locations"][0]["name"] == "lamp post"
    assert ds["Sensor"]["name"] == "optical counter"
    assert ds["ObservedProperty"]["name"] == "PM2.5"
    assert [o["result"] for o in ds["Observations"]] == [8.0, 9.5]
    assert ds["Observations"][0]["FeatureOfInterest"]["name"] == "lamp post"  # from the Location
    assert ds["Observations"][1]["FeatureOfInterest"]["name"] == "street"
    assert m.Datastream.objects.get(pk=ds["@iot.id"]).latest_value == 9.5


def test_deep_insert_status_code(alice, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/deep-insert-status-code

    201 when all is created; when one nested entity is bad, a 400 naming it and nothing of
    the request is stored."""
    counts = lambda: [mm.objects.count() for mm in (m.Thing, m.Datastream, m.Sensor, m.Location)]  # noqa: E731
    before = counts()
    body = {
        "name": "x", "description": "y",
        "Locations": [{"name": "l", "description": "l", "encodingType": "application/geo+json", "location": POINT}],
        "Datastreams": [{
            "name": "d", "description": "d", "unitOfMeasurement": {}, "observationType": OM,
            "Sensor": sensor_body(),
            "ObservedProperty": {"name": "p", "description": "no definition"},
        }],
    }  # fmt: skip
    r = alice.post("Things", body)
    assert r.status_code == 400
    assert r.json()["field"] == "definition"
    assert "Datastreams[0]/ObservedProperty/" in r.json()["error"]
    assert counts() == before
    body["Datastreams"][0]["ObservedProperty"]["definition"] = "http://x/p"
    assert alice.post("Things", body).status_code == 201


def test_update_entity(alice, bob, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/update-entity

    PATCH changes the given properties and relations, leaves the others; only the owner may."""
    t1 = sta.things[0].pk
    r = alice.patch(
        f"Things({t1})", {"description": "moved to the tower", "properties": {"floors": 9}}
    )
    assert r.status_code == 200, r.content
    thing = anon.get(f"Things({t1})").json()
    assert thing["description"] == "moved to the tower"
    assert thing["name"] == "weather station"
    assert thing["properties"] == {"floors": 9}
    ds1 = sta.datastreams[0].pk
    r = alice.patch(f"Datastreams({ds1})", {"Sensor": {"@iot.id": sta.sensors[1].pk}})
    assert r.status_code == 200
    assert anon.get(f"Datastreams({ds1})/Sensor").json()["name"] == "loop"
    r = alice.patch(f"Things({t1})", {"name": 5})
    assert r.status_code == 400 and r.json()["field"] == "name"
    assert bob.patch(f"Things({t1})", {"name": "mine"}).status_code == 403
    assert anon.get(f"Things({t1})").json()["name"] == "weather station"


def test_update_entity_put(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/update-entity-put

    PUT replaces the entity: properties left out are reset, mandatory ones are required."""
    s1 = sta.sensors[0].pk
    r = alice.put(f"Sensors({s1})", {**sensor_body("replaced"), "properties": None})
    assert r.status_code == 200, r.content
    sensor = anon.get(f"Sensors({s1})").json()
    assert sensor["name"] == "replaced" and sensor["properties"] is None
    r = alice.put(f"Sensors({s1})", {"name": "only a name"})
    assert r.status_code == 400 and r.json()["field"] == "description"


def test_delete_entity(alice, bob, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/delete-entity

    DELETE removes the entity and what depends on it (a Datastream's Observations); others
    may not delete it."""
    ds1 = sta.datastreams[0].pk
    obs = anon.get(f"Datastreams({ds1})/Observations", **{"$top": "1"}).json()["value"][0]
    assert bob.delete(f"Observations({obs['@iot.id']})").status_code == 403
    assert alice.delete(f"Observations({obs['@iot.id']})").status_code == 200
    assert anon.get(f"Observations({obs['@iot.id']})").status_code == 404
    assert bob.delete(f"Datastreams({ds1})").status_code == 403
    assert alice.delete(f"Datastreams({ds1})").status_code == 200
    assert anon.get(f"Datastreams({ds1})").status_code == 404
    assert not m.Observation.objects.filter(datastream_id=ds1).exists()
    assert alice.delete("Things(777777)").status_code == 404


def test_historical_location_auto_creation(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/historical-location-auto-creation

    Creating a Thing with a Location, or changing a Thing's Location, records a
    HistoricalLocation with the Thing and its new Location."""
    r = alice.post("Things", {"name": "bus", "description": "b", "Locations": [
        {"name": "depot", "description": "d", "encodingType": "application/geo+json", "location": POINT}]})  # fmt: skip
    link = r["Location"]
    hls = anon.get(link + "/HistoricalLocations", **{"$expand": "Locations"}).json()["value"]
    assert [[loc["name"] for loc in h["Locations"]] for h in hls] == [["depot"]]
    thing_id = r.json()["@iot.id"]
    r = alice.patch(f"Things({thing_id})", {"Locations": [{"@iot.id": sta.locations[1].pk}]})
    assert r.status_code == 200
    hls = anon.get(
        link + "/HistoricalLocations", **{"$expand": "Locations", "$orderby": "time desc"}
    ).json()["value"]
    assert len(hls) == 2
    assert hls[0]["Locations"][0]["name"] == "harbour road"
    assert [loc["name"] for loc in anon.get(link + "/Locations").json()["value"]] == [
        "harbour road"
    ]
    # a Location posted to a Thing's Locations records one too
    r = alice.post(
        f"Things({thing_id})/Locations",
        {
            "name": "garage",
            "description": "g",
            "encodingType": "application/geo+json",
            "location": POINT,
        },
    )
    assert r.status_code == 201
    assert anon.get(link + "/HistoricalLocations", **{"$count": "true"}).json()["@iot.count"] == 3


def test_historical_location_manual_creation(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/historical-location-manual-creation

    A HistoricalLocation can be created for a past time, with its Thing and Locations."""
    t2 = sta.things[1].pk
    r = alice.post("HistoricalLocations", {
        "time": "2025-01-01T12:00:00Z", "Thing": {"@iot.id": t2},
        "Locations": [{"@iot.id": sta.locations[0].pk}]})  # fmt: skip
    assert r.status_code == 201, r.content
    hl = anon.get(r["Location"], **{"$expand": "Thing,Locations"}).json()
    assert hl["time"] == "2025-01-01T12:00:00Z"
    assert hl["Thing"]["@iot.id"] == t2
    assert [loc["name"] for loc in hl["Locations"]] == ["city hall"]
