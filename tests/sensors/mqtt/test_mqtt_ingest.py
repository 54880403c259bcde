"""Ingest over the real broker: QoS 1 through a broker restart and a killed consumer stores
each observation exactly once; bad messages become dead letters with their reason; private
stays private on MQTT; HTTP ingest for devices without MQTT."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.sensors.conftest import make_datastream
from tests.sensors.mqtt_support import mqtt_client, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _device(thing_id: int, password: str = "device-pw"):
    from sensors.mqtt import logins

    login, pw = logins.add_device(thing_id, password=password)
    return login.username, pw


def _count(ds_id: int) -> int:
    from sensors.models import Observation

    return Observation.objects.filter(datastream_id=ds_id).count()


def _publish_all(client, items, qos: int = 1) -> None:
    """Publish each (topic, payload) until the broker acknowledged it (PUBACK); across a broker
    restart a message may go twice: the store must keep it once."""
    for topic, payload in items:
        while True:
            if not client.connected_event.wait(20):
                raise AssertionError("the publisher could not reconnect")
            info = client.publish(topic, payload, qos=qos)
            try:
                info.wait_for_publish(timeout=5)
            except RuntimeError:
                pass  # not connected: wait for the reconnect, send again
            if info.is_published():
                break


def test_qos1_exactly_once_through_broker_restart_and_consumer_kill(mqtt_broker, mqtt_consumer):
    """N observations at QoS 1; the consumer is killed (-9) after a third, the broker restarted
    after two thirds (the dead consumer's queue must outlive it); the publisher sends some
    again; exactly N are stored, none twice."""
    from sensors.models import Observation

    ds = make_datastream("exactly-once")
    login, pw = _device(ds.thing_id)
    n = 300
    t0 = datetime(2026, 11, 1, tzinfo=UTC)

    def item(i: int) -> tuple[str, str]:
        t = (t0 + timedelta(seconds=10 * i)).isoformat()
        if i % 2:  # the SensorThings create topic, and the batch topic
            return f"v1.1/Datastreams({ds.id})/Observations", json.dumps(
                {"phenomenonTime": t, "result": float(i)}
            )
        block = {
            "Datastream": {"@iot.id": ds.id},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[t, float(i)]],
        }
        return f"citytwin/ingest/{login}", json.dumps([block])

    items = [item(i) for i in range(n)]
    pub = mqtt_client(login, pw, mqtt_broker.port)
    try:
        _publish_all(pub, items[:100])
        mqtt_consumer.kill9()
        # a new consumer starts (it takes seconds): meanwhile the broker queues for the session
        mqtt_consumer.start(wait=False)
        _publish_all(pub, items[100:200])
        mqtt_broker.restart()
        _publish_all(pub, items[200:] + items[150:170])  # twenty sent twice
        mqtt_consumer.wait_connected()
        wait_until(lambda: _count(ds.id) >= n, 60, f"{n} observations stored")
        # anything still in flight would show now as an extra row
        pub.publish(*item(n), qos=1).wait_for_publish(5)
        wait_until(lambda: _count(ds.id) == n + 1, 20, "the last observation")
    finally:
        pub.loop_stop()
        pub.disconnect()
    results = sorted(Observation.objects.filter(datastream=ds).values_list("result", flat=True))
    assert results == [float(i) for i in range(n + 1)]
    ds.refresh_from_db()
    assert ds.latest_value == float(n)


def test_malformed_and_unauthorised_messages_become_dead_letters(mqtt_broker, mqtt_consumer):
    from sensors.models import DeadLetter

    ds = make_datastream("dead-letters")
    other = make_datastream("someone-elses")
    login, pw = _device(ds.thing_id)
    now = datetime.now(UTC)
    create = f"v1.1/Datastreams({ds.id})/Observations"
    batch = f"citytwin/ingest/{login}"
    bad = [
        (create, "{not json", "not JSON", "payload"),
        (
            batch,
            json.dumps(
                {"Datastream": {"@iot.id": 987654}, "phenomenonTime": now.isoformat(), "result": 1}
            ),
            "unknown datastream",
            "Datastream",
        ),
        (
            create,
            json.dumps({"phenomenonTime": now.isoformat(), "result": "high"}),
            "wrong type",
            "result",
        ),
        (
            create,
            json.dumps({"phenomenonTime": now.isoformat(), "result": 4, "unit": "km/h"}),
            "wrong unit",
            "unit",
        ),
        (
            create,
            json.dumps({"phenomenonTime": (now + timedelta(days=2)).isoformat(), "result": 4}),
            "time far in the future",
            "phenomenonTime",
        ),
        (
            batch,
            json.dumps(
                {
                    "Datastream": {"@iot.id": other.id},
                    "phenomenonTime": now.isoformat(),
                    "result": 1,
                }
            ),
            "unauthorised",
            "Datastream",
        ),
        (
            # one good row and one bad: nothing of the message is stored
            batch,
            json.dumps(
                {
                    "Datastream": {"@iot.id": ds.id},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [[now.isoformat(), 1.0], ["yesterday", 2.0]],
                }
            ),
            "ISO 8601",
            "phenomenonTime",
        ),
    ]
    good = (create, json.dumps({"phenomenonTime": now.isoformat(), "result": 7.5}))
    pub = mqtt_client(login, pw, mqtt_broker.port)
    try:
        _publish_all(pub, [(t, p) for t, p, _, _ in bad] + [good])
        wait_until(lambda: _count(ds.id) == 1, 20, "the good message")
        wait_until(
            lambda: (
                DeadLetter.objects.filter(payload__in=[p for _, p, _, _ in bad]).count() == len(bad)
            ),
            20,
            "the dead letters",
        )
    finally:
        pub.loop_stop()
        pub.disconnect()
    for topic, payload, words, field in bad:
        letter = DeadLetter.objects.get(payload=payload)
        assert letter.source == "mqtt" and letter.topic == topic
        assert words in letter.reason, (words, letter.reason)
        assert letter.field == field, (field, letter.field, letter.reason)
    assert _count(other.id) == 0
    assert mqtt_consumer.proc.poll() is None  # still consuming


def test_private_datastream_stays_private_on_mqtt(mqtt_broker, mqtt_consumer, django_user_model):
    """An outsider's reader login receives a public datastream's new observations but not a
    private one's (neither by its topic nor by ``v1.1/#``: the broker checks the ACL on every
    delivery); the owner receives them."""
    from paho.mqtt.subscribeoptions import SubscribeOptions

    from sensors.ingest import store_observations
    from sensors.mqtt import logins

    owner = django_user_model.objects.create_user("owner-mqtt", password="x")
    outsider = django_user_model.objects.create_user("outsider-mqtt", password="x")
    private = make_datastream("private-mqtt", owner=owner, visibility="private")
    public = make_datastream("public-mqtt")
    _, owner_pw = logins.add_reader(owner)
    _, outsider_pw = logins.add_reader(outsider)

    received: dict[str, list[tuple[str, dict]]] = {"owner": [], "outsider": []}
    subacks: dict[str, list[int]] = {"owner": [], "outsider": []}
    clients = {}
    for name, pw in (("owner", owner_pw), ("outsider", outsider_pw)):
        c = mqtt_client(f"{name}-mqtt", pw, mqtt_broker.port)
        done = threading.Event()
        c.on_message = lambda cl, u, msg, name=name: received[name].append(
            (msg.topic, json.loads(msg.payload))
        )

        def on_subscribe(cl, u, mid, codes, props, name=name, done=done):
            subacks[name].extend(code.value for code in codes)
            done.set()

        c.on_subscribe = on_subscribe
        c.subscribe(
            [
                (f"v1.1/Datastreams({private.id})/Observations", SubscribeOptions(qos=0)),
                ("v1.1/#", SubscribeOptions(qos=0)),
            ]
        )
        assert done.wait(10)
        clients[name] = c
    try:
        now = datetime.now(UTC)
        store_observations(private, [{"phenomenon_time": now, "result": 1.0}])
        store_observations(public, [{"phenomenon_time": now, "result": 2.0}])
        public_topic = f"v1.1/Datastreams({public.id})/Observations"
        private_topic = f"v1.1/Datastreams({private.id})/Observations"

        def topics(name):
            return [t for t, _ in received[name]]

        wait_until(lambda: private_topic in topics("owner"), 20, "the owner's private message")
        wait_until(lambda: public_topic in topics("outsider"), 20, "the outsider's public one")
        wait_until(lambda: "v1.1/Observations" in topics("outsider"), 20, "the collection")
    finally:
        for c in clients.values():
            c.loop_stop()
            c.disconnect()
    assert private_topic not in topics("outsider")
    assert subacks["owner"][0] < 0x80
    owner_msg = next(p for t, p in received["owner"] if t == private_topic)
    assert owner_msg["result"] == 1.0 and owner_msg["@iot.id"] > 0
    # the collection topic carries public observations only
    collection = [p["result"] for t, p in received["outsider"] if t == "v1.1/Observations"]
    assert 2.0 in collection and 1.0 not in collection


def _basic(login: str, pw: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{pw}".encode()).decode()


def test_http_ingest(client):
    from sensors.models import DeadLetter

    ds = make_datastream("http")
    other = make_datastream("http-other")
    login, pw = _device(ds.thing_id)
    body = [
        {
            "Datastream": {"@iot.id": ds.id},
            "components": ["phenomenonTime", "result", "sequence"],
            "dataArray": [["2026-11-02T08:00:00Z", 3.0, 1], ["2026-11-02T08:00:00Z", 4.0, 2]],
        }
    ]
    url = "/api/sensors/ingest/"
    auth = _basic(login, pw)
    r = client.post(url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert r.status_code == 201, r.content
    assert r.json() == {"stored": 2, "duplicates": 0}
    r = client.post(url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert r.json() == {"stored": 0, "duplicates": 2}

    r = client.post(
        url,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=_basic(login, "no"),
    )
    assert r.status_code == 401 and r.json()["field"] == "Authorization"

    body[0]["Datastream"] = {"@iot.id": other.id}
    r = client.post(url, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert r.status_code == 403 and r.json()["field"] == "Datastream"

    half = [
        {
            "Datastream": {"@iot.id": ds.id},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-11-02T09:00:00Z", 1.0], ["2026-11-02T09:05:00Z", True]],
        }
    ]
    r = client.post(url, json.dumps(half), content_type="application/json", HTTP_AUTHORIZATION=auth)
    assert r.status_code == 400 and r.json()["field"] == "result"
    assert "wrong type" in r.json()["error"]
    assert _count(ds.id) == 2 and _count(other.id) == 0  # nothing half-written
    assert DeadLetter.objects.filter(source="http", field="result").count() == 1
