"""Private datastreams stay private on every SensorThings path: lists, by id, navigation,
$expand, $filter across relations, $ref, batch; writes need the owner."""

from __future__ import annotations

import pytest

from tests.sensors.conformance.conftest import BASE, Api


@pytest.fixture
def private(sta):
    return sta.datastreams[2]


def ids(r) -> set[int]:
    assert r.status_code == 200, r.content
    return {e["@iot.id"] for e in r.json()["value"]}


def test_private_datastream_hidden_from_others(anon, bob, private, sta):
    t2 = sta.things[1].pk
    secret_obs = set(private.observations.values_list("pk", flat=True))
    assert len(secret_obs) == 3
    for api in (anon, bob):
        assert private.pk not in ids(api.get("Datastreams"))
        assert api.get(f"Datastreams({private.pk})").status_code == 404
        assert api.get(f"Datastreams({private.pk})/Observations").status_code == 404
        assert api.get(f"Datastreams({private.pk})/name/$value").status_code == 404
        assert private.pk not in ids(api.get(f"Things({t2})/Datastreams"))
        assert private.pk not in ids(api.get(f"Sensors({sta.sensors[1].pk})/Datastreams"))
        assert not secret_obs & ids(api.get("Observations", **{"$top": "1000"}))
        assert not secret_obs & ids(api.get(f"FeaturesOfInterest({sta.fois[1].pk})/Observations"))
        for obs in secret_obs:
            assert api.get(f"Observations({obs})").status_code == 404
        thing = api.get(f"Things({t2})", **{"$expand": "Datastreams($expand=Observations)"}).json()
        assert [d["name"] for d in thing["Datastreams"]] == ["counts"]
        refs = api.get(f"Things({t2})/Datastreams/$ref").json()["value"]
        assert [r["@iot.selfLink"].rsplit("(")[1] for r in refs] == [f"{sta.datastreams[1].pk})"]
        # a filter across relations does not reveal the private values or names
        assert (
            ids(api.get("Things", **{"$filter": "Datastreams/Observations/result eq 999"})) == set()
        )
        assert ids(api.get("Things", **{"$filter": "Datastreams/name eq 'secret counts'"})) == set()
        assert (
            ids(api.get("Sensors", **{"$filter": "Datastreams/name eq 'secret counts'"})) == set()
        )
        batch = api.post(f"{BASE}/$batch", {"requests": [
            {"id": "1", "method": "get", "url": f"Datastreams({private.pk})"}]})  # fmt: skip
        assert batch.json()["responses"][0]["status"] == 404
        # nor may they write to it
        r = api.post(f"Datastreams({private.pk})/Observations", {"result": 1})
        assert r.status_code in (401, 404)
        r = api.post("Observations", {"result": 1, "Datastream": {"@iot.id": private.pk}})
        assert r.status_code in (400, 401)


def test_owner_and_staff_see_the_private_datastream(alice, private, sta, django_user_model):
    assert private.pk in ids(alice.get("Datastreams"))
    assert alice.get(f"Datastreams({private.pk})/Observations").json()["value"][0]["result"] == 999
    t2 = sta.things[1].pk
    assert ids(alice.get("Things", **{"$filter": "Datastreams/Observations/result eq 999"})) == {t2}
    staff = django_user_model.objects.create_user("sta-staff", is_staff=True)
    from rest_framework.authtoken.models import Token

    Token.objects.create(user=staff)
    assert private.pk in ids(Api(staff).get("Datastreams"))


def test_others_may_not_add_to_a_public_datastream(bob, sta):
    ds1 = sta.datastreams[0]
    r = bob.post(f"Datastreams({ds1.pk})/Observations", {"result": 1})
    assert r.status_code == 403
    # nor delete a Thing that carries someone else's datastreams
    assert bob.delete(f"Things({sta.things[0].pk})").status_code == 403


def test_visibility_extension(alice, anon, sta):
    body = {
        "name": "meter", "description": "private meter", "unitOfMeasurement": {},
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
        "Thing": {"@iot.id": sta.things[0].pk}, "Sensor": {"@iot.id": sta.sensors[0].pk},
        "ObservedProperty": {"@iot.id": sta.properties[0].pk}, "visibility": "private",
        "retentionDays": 30,
    }  # fmt: skip
    r = alice.post("Datastreams", body)
    assert r.status_code == 201, r.content
    assert anon.get(r["Location"]).status_code == 404
    assert alice.get(r["Location"]).status_code == 200
    r = alice.post("Datastreams", {**body, "visibility": "secret"})
    assert r.status_code == 400 and r.json()["field"] == "visibility"


def test_others_may_not_attach_to_a_thing(bob, sta):
    t1 = sta.things[0].pk
    r = bob.post("HistoricalLocations", {"time": "2026-01-01T00:00:00Z", "Thing": {"@iot.id": t1}})
    assert r.status_code == 403
    r = bob.post(f"Things({t1})/Locations", {
        "name": "x", "description": "x", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [0, 0]}})  # fmt: skip
    assert r.status_code == 403
    r = bob.post("Locations", {
        "name": "x", "description": "x", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [0, 0]}, "Things": [{"@iot.id": t1}]})  # fmt: skip
    assert r.status_code == 403
    # their own Thing is theirs to furnish
    r = bob.post("Things", {"name": "bob's", "description": "b", "Locations": [{
        "name": "x", "description": "x", "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [0, 0]}}]})  # fmt: skip
    assert r.status_code == 201


def test_page_session_writes_need_the_csrf_token(sta, db):
    from django.test import Client

    page = Client(enforce_csrf_checks=True)
    page.force_login(sta.alice)
    r = page.post(
        f"{BASE}/Things", {"name": "n", "description": "d"}, content_type="application/json"
    )
    assert r.status_code == 403 and r.json()["field"] == "X-CSRFToken"
    assert page.get(f"{BASE}/Datastreams({sta.datastreams[2].pk})").status_code == 200  # reads
