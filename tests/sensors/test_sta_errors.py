"""Bad SensorThings input is a 4xx JSON naming the field, never a 500, nothing half-written."""

from __future__ import annotations

import pytest

from sensors import models as m

POINT_LOCATION = {"name": "a", "description": "b", "encodingType": "application/geo+json"}


@pytest.mark.parametrize(
    "path, field",
    [
        ("Things(abc)", "@iot.id"),
        ("Observations?$filter=phenomenonTime eq 'abc'", "$filter"),
        ("Things?$filter=length(1) eq 1", "$filter"),
        ("Things?$filter=name eq geography'POINT(1 2'", "$filter"),
        ("Things?$filter=name in ('a','b')", "$filter"),
        ("Things?$filter=Datastreams/any(d:d/name eq 'x')", "$filter"),
        ("Things?$orderby=name sideways", "$orderby"),
        ("Things?$expand=Datastreams($top=x)", "$top"),
        ("Datastreams?$filter=phenomenonTime eq resultTime", "$filter"),
    ],
)
def test_bad_queries(anon, path, field):
    r = anon.get(path)
    assert r.status_code == 400, r.content
    assert r.json()["field"] == field


@pytest.mark.parametrize(
    "entity_set, body, field",
    [
        ("Locations", {**POINT_LOCATION, "location": {"type": "Point", "coordinates": "abc"}}, "location"),
        ("Locations", {**POINT_LOCATION, "location": {"type": "Blob"}}, "location"),
        ("Locations", {**POINT_LOCATION, "encodingType": "text/plain", "location": {"type": "Point", "coordinates": [1, 2]}}, "encodingType"),
        ("Things", {"name": "a", "description": "b", "Datastreams": [5]}, "Datastreams[0]"),
        ("Things", {"name": "a", "description": "b", "colour": "red"}, "colour"),
        ("Observations", {"result": 1, "Datastream": 5}, "Datastream"),
        ("Sensors", {"name": "a", "description": "b", "encodingType": "x", "metadata": "m", "properties": [1]}, "properties"),
    ],
)  # fmt: skip
def test_bad_bodies(alice, entity_set, body, field):
    before = m.Location.objects.count(), m.Thing.objects.count()
    r = alice.post(entity_set, body)
    assert r.status_code == 400, r.content
    assert r.json()["field"] == field
    assert (m.Location.objects.count(), m.Thing.objects.count()) == before


def test_duplicate_observation_is_a_conflict(alice, sta):
    ds1 = sta.datastreams[0]
    r = alice.post(
        f"Datastreams({ds1.pk})/Observations",
        {"phenomenonTime": "2026-05-01T00:00:00Z", "result": 1},
    )
    assert r.status_code == 409 and r.json()["field"] == "phenomenonTime"
    obs = ds1.observations.order_by("phenomenon_time")[1]
    r = alice.patch(f"Observations({obs.pk})", {"phenomenonTime": "2026-05-01T00:00:00Z"})
    assert r.status_code == 409 and r.json()["field"] == "phenomenonTime"


def test_duration_arithmetic(anon, sta):
    ds1 = sta.datastreams[0]
    r = anon.get(
        f"Datastreams({ds1.pk})/Observations",
        **{"$filter": "phenomenonTime add duration'PT1H' le 2026-05-01T02:00:00Z"},
    )
    assert sorted(o["result"] for o in r.json()["value"]) == [10.0, 11.0]
