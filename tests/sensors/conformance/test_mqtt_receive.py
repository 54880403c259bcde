"""MQTT Receive (OGC 18-088 §14.3, Annex A.6): entities created or changed through the REST
API arrive on their topics (entity set, entity, property, navigation property) at a reader
subscribed on the real broker; the real consumer publishes them after the commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .conftest import Api
from .mqtt_helpers import Subscriber, user_with_token

pytestmark = pytest.mark.django_db(transaction=True)

REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates"


def _thing(api: Api, name: str = "receive station") -> dict:
    r = api.post(
        "Things",
        {
            "name": name,
            "description": "kerbside",
            "Locations": [
                {
                    "name": "kerb",
                    "description": "the kerb",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [24.95, 60.17]},
                }
            ],
        },
    )
    assert r.status_code == 201, r.content
    return r.json()


def _datastream(api: Api, thing_id: int) -> dict:
    r = api.post(
        "Datastreams",
        {
            "name": "counts",
            "description": "vehicles",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
            "unitOfMeasurement": {"name": "vehicles", "symbol": "veh", "definition": "http://x"},
            "Thing": {"@iot.id": thing_id},
            "Sensor": {"name": "loop", "description": "loop", "encodingType": "text/html",
                       "metadata": "http://x"},
            "ObservedProperty": {"name": "count", "definition": "http://x/c", "description": "c"},
        },
    )  # fmt: skip
    assert r.status_code == 201, r.content
    return r.json()


@pytest.fixture
def writer(django_user_model):
    user = user_with_token(django_user_model)
    return user, Api(user)


class TestMqttReceive:
    def test_entity_set(self, mqtt_broker, mqtt_consumer, writer):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates

        Subscribed to ``v1.1/<EntitySet>``, a reader receives each new entity of that set
        (Things, Locations, Datastreams, Sensors, ObservedProperties, Observations)."""
        user, api = writer
        sets = ["Things", "Locations", "Datastreams", "Sensors", "ObservedProperties",
                "Observations"]  # fmt: skip
        sub = Subscriber(user, [f"v1.1/{s}" for s in sets], mqtt_broker.port)
        try:
            thing = _thing(api)
            ds = _datastream(api, thing["@iot.id"])
            r = api.post(
                f"Datastreams({ds['@iot.id']})/Observations",
                {"phenomenonTime": datetime.now(UTC).isoformat(), "result": 5.0},
            )
            assert r.status_code == 201, r.content
            got = sub.wait_for("v1.1/Things", lambda b: b["@iot.id"] == thing["@iot.id"])
            assert got["name"] == "receive station" and got["@iot.selfLink"].endswith(
                f"/Things({thing['@iot.id']})"
            )
            assert sub.wait_for("v1.1/Datastreams")["@iot.id"] == ds["@iot.id"]
            for s in ("Locations", "Sensors", "ObservedProperties"):
                assert sub.wait_for(f"v1.1/{s}")["@iot.id"] > 0
            obs = sub.wait_for("v1.1/Observations")
            assert obs["result"] == 5.0 and obs["@iot.id"] > 0
        finally:
            sub.close()

    def test_entity(self, mqtt_broker, mqtt_consumer, writer):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates

        Subscribed to ``v1.1/Things(<id>)``, a reader receives the whole entity after a PATCH
        and after a PUT."""
        user, api = writer
        thing = _thing(api)
        topic = f"v1.1/Things({thing['@iot.id']})"
        sub = Subscriber(user, [topic], mqtt_broker.port)
        try:
            r = api.patch(f"Things({thing['@iot.id']})", {"name": "renamed station"})
            assert r.status_code == 200, r.content
            got = sub.wait_for(topic, lambda b: b["name"] == "renamed station")
            assert got["description"] == "kerbside" and got["@iot.id"] == thing["@iot.id"]
            r = api.put(
                f"Things({thing['@iot.id']})", {"name": "put station", "description": "new"}
            )
            assert r.status_code == 200, r.content
            got = sub.wait_for(topic, lambda b: b["name"] == "put station")
            assert got["description"] == "new"
        finally:
            sub.close()

    def test_entity_property(self, mqtt_broker, mqtt_consumer, writer):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates

        Subscribed to ``v1.1/Things(<id>)/description``, a reader receives
        ``{"description": <new value>}`` when that property changes, and nothing when
        another property changes."""
        user, api = writer
        thing = _thing(api)
        topic = f"v1.1/Things({thing['@iot.id']})/description"
        name_topic = f"v1.1/Things({thing['@iot.id']})/name"
        sub = Subscriber(user, [topic, name_topic], mqtt_broker.port)
        try:
            api.patch(f"Things({thing['@iot.id']})", {"name": "only the name"})
            assert sub.wait_for(name_topic) == {"name": "only the name"}
            r = api.patch(f"Things({thing['@iot.id']})", {"description": "moved"})
            assert r.status_code == 200, r.content
            assert sub.wait_for(topic) == {"description": "moved"}
            assert [t for t, _ in sub.messages].count(topic) == 1
        finally:
            sub.close()

    def test_navigation_property(self, mqtt_broker, mqtt_consumer, writer):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/receive-updates-via-mqtt/receive-updates

        Subscribed to ``v1.1/Things(<id>)/Datastreams`` and
        ``v1.1/Datastreams(<id>)/Observations``, a reader receives the new related entities."""
        user, api = writer
        thing = _thing(api)
        sub_topics = [f"v1.1/Things({thing['@iot.id']})/Datastreams"]
        sub = Subscriber(user, sub_topics, mqtt_broker.port)
        try:
            ds = _datastream(api, thing["@iot.id"])
            got = sub.wait_for(sub_topics[0])
            assert got["@iot.id"] == ds["@iot.id"] and got["name"] == "counts"
            obs_topic = f"v1.1/Datastreams({ds['@iot.id']})/Observations"
            sub.subscribe([obs_topic])
            r = api.post(
                f"Datastreams({ds['@iot.id']})/Observations",
                {"phenomenonTime": "2026-11-01T10:00:00Z", "result": 42.0},
            )
            assert r.status_code == 201, r.content
            got = sub.wait_for(obs_topic)
            assert got["result"] == 42.0 and got["phenomenonTime"] == "2026-11-01T10:00:00Z"
            assert got["Datastream@iot.navigationLink"].endswith(
                f"/Observations({got['@iot.id']})/Datastream"
            )
        finally:
            sub.close()
