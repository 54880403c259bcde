"""A.4 Batch Requests: several requests in one (v1.1 JSON batch), with atomicity groups and
references to entities created earlier in the batch."""

from __future__ import annotations

from sensors import models as m

from .conftest import BASE


def test_batch_request(alice, anon, sta):
    """http://www.opengis.net/spec/iot_sensing/1.1/req/batch-request/batch-request

    Requests answered in order with their own status; $<id> names what an earlier request
    created; a failing atomicity group stores nothing of the group; a request depending on a
    failed one is not run."""
    ds1 = sta.datastreams[0].pk
    r = alice.post(
        f"{BASE}/$batch",
        {
            "requests": [
                {"id": "s", "method": "post", "url": "Sensors",
                 "body": {"name": "batch sensor", "description": "d", "encodingType": "text/html", "metadata": "m"}},
                {"id": "d", "method": "post", "url": "Datastreams", "body": {
                    "name": "batch ds", "description": "d", "unitOfMeasurement": {},
                    "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
                    "Thing": {"@iot.id": sta.things[0].pk}, "Sensor": {"@iot.id": "$s"},
                    "ObservedProperty": {"@iot.id": sta.properties[0].pk}}},
                {"id": "o", "method": "post", "url": "$d/Observations",
                 "body": {"phenomenonTime": "2026-07-01T00:00:00Z", "result": "ok"}},
                {"id": "g", "method": "get", "url": f"Datastreams({ds1})?$select=name"},
                {"id": "p", "method": "patch", "url": f"v1.1/Things({sta.things[0].pk})", "body": {"description": "batched"}},
                # an atomicity group whose second request fails: the first is rolled back
                {"id": "a1", "atomicityGroup": "g1", "method": "post", "url": "Sensors",
                 "body": {"name": "never", "description": "d", "encodingType": "text/html", "metadata": "m"}},
                {"id": "a2", "atomicityGroup": "g1", "method": "post", "url": "Sensors", "body": {"name": "bad"}},
                {"id": "after", "dependsOn": ["a1"], "method": "get", "url": "Things"},
            ]
        },
    )  # fmt: skip
    assert r.status_code == 200, r.content
    responses = {x["id"]: x for x in r.json()["responses"]}
    assert [x["id"] for x in r.json()["responses"]] == [
        "s",
        "d",
        "o",
        "g",
        "p",
        "a1",
        "a2",
        "after",
    ]
    assert responses["s"]["status"] == 201
    assert responses["d"]["status"] == 201, responses["d"]
    ds_id = responses["d"]["body"]["@iot.id"]
    assert anon.get(f"Datastreams({ds_id})/Sensor").json()["name"] == "batch sensor"
    assert responses["o"]["status"] == 201
    assert anon.get(f"Datastreams({ds_id})/Observations").json()["value"][0]["result"] == "ok"
    assert responses["g"] == {"id": "g", "status": 200, "body": {"name": "temperature"}}
    assert responses["p"]["status"] == 200
    assert anon.get(f"Things({sta.things[0].pk})").json()["description"] == "batched"
    assert responses["a1"]["status"] == 424
    assert responses["a2"]["status"] == 400 and responses["a2"]["body"]["field"] == "description"
    assert not m.Sensor.objects.filter(name="never").exists()
    assert responses["after"]["status"] == 424
    # a malformed batch is a 400 naming the field
    bad = alice.post(f"{BASE}/$batch", {"reqs": []})
    assert bad.status_code == 400 and bad.json()["field"] == "requests"
