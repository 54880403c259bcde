"""MQTT Create (OGC 18-088 §14.2, Annex A.5): Observations created by publishing to a
Datastream's topic on the real broker, stored by the real consumer, read back over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.sensors.conftest import make_datastream
from tests.sensors.mqtt_support import mqtt_client, publish_connected, wait_until

from .conftest import Api

pytestmark = pytest.mark.django_db(transaction=True)


class TestMqttCreate:
    def test_observation_created_by_publish(self, mqtt_broker, mqtt_consumer, django_user_model):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation

        Publish Observations (with and without a FeatureOfInterest) to
        ``v1.1/Datastreams(<id>)/Observations``; each is created with its properties, linked to
        the Datastream and to a FeatureOfInterest (the Thing's Location when none is given)."""
        from sensors.models import FeatureOfInterest
        from sensors.mqtt import logins

        from .mqtt_helpers import user_with_token

        ds = make_datastream("mqtt-create")
        foi = FeatureOfInterest.objects.create(
            name="kerb",
            description="the kerb",
            feature={"type": "Point", "coordinates": [24.9, 60.2]},
        )
        login, pw = logins.add_device(ds.thing_id)
        t = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        bodies = [
            {"phenomenonTime": t.isoformat(), "result": 17.0, "resultTime": t.isoformat(),
             "parameters": {"lane": 1}},
            {"phenomenonTime": (t + timedelta(minutes=1)).isoformat(), "result": 18.0,
             "FeatureOfInterest": {"@iot.id": foi.pk}},
        ]  # fmt: skip
        pub = mqtt_client(login.username, pw, mqtt_broker.port)
        try:
            for body in bodies:
                publish_connected(pub, f"v1.1/Datastreams({ds.pk})/Observations", json.dumps(body))
        finally:
            pub.loop_stop()
            pub.disconnect()
        api = Api(user_with_token(django_user_model))

        def listed():
            r = api.get(f"Datastreams({ds.pk})/Observations", **{"$orderby": "phenomenonTime"})
            assert r.status_code == 200, r.content
            return r.json()["value"] if len(r.json()["value"]) == 2 else None

        obs = wait_until(listed, 30, "two observations over HTTP")
        assert [o["result"] for o in obs] == [17.0, 18.0]
        assert obs[0]["parameters"] == {"lane": 1}
        assert obs[0]["resultTime"].startswith(t.strftime("%Y-%m-%dT%H:%M:%S"))
        for o in obs:
            r = api.get(o["Datastream@iot.navigationLink"])
            assert r.status_code == 200 and r.json()["@iot.id"] == ds.pk
        r = api.get(obs[1]["FeatureOfInterest@iot.navigationLink"])
        assert r.status_code == 200 and r.json()["@iot.id"] == foi.pk
        r = api.get(obs[0]["FeatureOfInterest@iot.navigationLink"])
        assert r.status_code == 200 and r.json()["feature"]["coordinates"] == [24.94, 60.17]

    def test_publish_to_another_things_datastream_creates_nothing(self, mqtt_broker, mqtt_consumer):
        """http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation

        A device may create Observations only in its own Thing's Datastreams: the broker
        refuses the publication (MQTT 5 reason "not authorized") and nothing is stored."""
        from sensors.models import Observation
        from sensors.mqtt import logins

        mine = make_datastream("mqtt-mine")
        theirs = make_datastream("mqtt-theirs")
        login, pw = logins.add_device(mine.thing_id)
        pub = mqtt_client(login.username, pw, mqtt_broker.port)
        acks = []
        pub.on_publish = lambda c, u, mid, rc, props: acks.append(rc)
        try:
            now = datetime.now(UTC).isoformat()
            for ds in (theirs, mine):
                body = json.dumps({"phenomenonTime": now, "result": 1.0})
                publish_connected(pub, f"v1.1/Datastreams({ds.pk})/Observations", body)
            wait_until(lambda: Observation.objects.filter(datastream=mine).exists(), 30, "mine")
        finally:
            pub.loop_stop()
            pub.disconnect()
        assert acks[0].is_failure and acks[0].value == 0x87  # not authorized
        assert not acks[1].is_failure
        assert not Observation.objects.filter(datastream=theirs).exists()
