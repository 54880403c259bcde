"""The SensorThings v1.1 conformance suite: one test per requirement of the abstract test suite
(OGC 18-088 Annex A), each test's docstring starting with the requirement's URI, and a report
of passes per conformance class at the end of the run.

Conformance classes (by requirement URI under http://www.opengis.net/spec/iot_sensing/1.1/req/):

- A.1 Sensing Core: ``datamodel/...``, ``resource-path/...`` (test_a1_core.py)
- A.2 Filtering Extension: ``request-data/...`` (test_a2_filtering.py)
- A.3 Create-Update-Delete: ``create-update-delete/...`` (test_a3_cud.py)
- A.4 Batch Requests: ``batch-request/...`` (test_a4_batch.py)
- MQTT (sensors-ingest's branch adds them, same pattern): ``create-observations-via-mqtt/...``
  in ``test_mqtt_create.py`` (class ``TestMqttCreate``) and ``receive-updates-via-mqtt/...`` in
  ``test_mqtt_receive.py`` (class ``TestMqttReceive``); the report below counts them as
  "MQTT Create" and "MQTT Receive".

One dataset per module (``sta``), built directly in the database and removed afterwards; tests
that write run in a transaction rolled back after each test.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
CLASSES = [
    ("A.1 Sensing Core", ("datamodel/", "resource-path/")),
    ("A.2 Filtering Extension", ("request-data/",)),
    ("A.3 Create-Update-Delete", ("create-update-delete/",)),
    ("A.4 Batch Requests", ("batch-request/",)),
    ("MQTT Create", ("create-observations-via-mqtt/",)),
    ("MQTT Receive", ("receive-updates-via-mqtt/",)),
]
URI = re.compile(re.escape(REQ) + r"[\w/-]+")
T0 = datetime(2026, 5, 1, tzinfo=UTC)
BASE = "/sta/v1.1"

#: per conformance class, per requirement: passed (True) unless one of its tests failed
_results: dict[str, dict[str, bool]] = defaultdict(dict)


def requirement_of(item) -> str | None:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    m = URI.search(doc)
    return m.group(0) if m else None


def class_of(uri: str) -> str:
    rest = uri[len(REQ) :]
    for name, prefixes in CLASSES:
        if rest.startswith(prefixes):
            return name
    return "other"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    uri = requirement_of(item)
    if uri is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        reqs = _results[class_of(uri)]
        reqs[uri] = reqs.get(uri, True) and report.passed


def pytest_terminal_summary(terminalreporter):
    if not _results:
        return
    tr = terminalreporter
    tr.section("SensorThings v1.1 conformance (OGC 18-088 Annex A)")
    for name, _ in [*CLASSES, ("other", ())]:
        if name not in _results:
            continue
        reqs = _results[name]
        passed = sum(reqs.values())
        mark = "PASS" if passed == len(reqs) else "FAIL"
        tr.write_line(f"{mark}  {name}: {passed}/{len(reqs)} requirements passed")
        for uri, ok in reqs.items():
            if not ok:
                tr.write_line(f"      failed: {uri}")


# ---------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    alice: object  # owns DS1 and the private DS3
    bob: object  # another signed-in user
    things: list
    locations: list
    sensors: list
    properties: list
    datastreams: list  # DS1 temperature (public), DS2 counts (public), DS3 private counts
    fois: list


@pytest.fixture(scope="module")
def sta(django_db_setup, django_db_blocker):
    from django.contrib.auth.models import User
    from django.contrib.gis.geos import Point
    from rest_framework.authtoken.models import Token

    from sensors import models as m
    from sensors.ingest import store_observations

    with django_db_blocker.unblock():
        alice = User.objects.create_user("sta-alice")
        bob = User.objects.create_user("sta-bob")
        for u in (alice, bob):
            Token.objects.create(user=u)
        t1 = m.Thing.objects.create(
            name="weather station",
            description="roof of the city hall",
            properties={"city": "Helsinki", "floors": 3},
            owner=alice,
        )
        t2 = m.Thing.objects.create(
            name="traffic counter", description="Kotka harbour road", owner=alice
        )
        l1 = m.Location.objects.create(
            name="city hall",
            description="Helsinki",
            location={"type": "Point", "coordinates": [24.952, 60.168]},
            geom=Point(24.952, 60.168, srid=4326),
            owner=alice,
        )
        l2 = m.Location.objects.create(
            name="harbour road",
            description="Kotka",
            location={"type": "Point", "coordinates": [26.945, 60.466]},
            geom=Point(26.945, 60.466, srid=4326),
            owner=alice,
        )
        t1.locations.add(l1)
        t2.locations.add(l2)
        for t, loc in ((t1, l1), (t2, l2)):
            hl = m.HistoricalLocation.objects.create(time=T0, thing=t, owner=alice)
            hl.locations.add(loc)
        s1 = m.Sensor.objects.create(
            name="thermometer", description="PT100", encoding_type="text/html",
            metadata="http://example.org/pt100", owner=alice,
        )  # fmt: skip
        s2 = m.Sensor.objects.create(
            name="loop", description="inductive loop", encoding_type="application/pdf",
            metadata="http://example.org/loop.pdf", owner=alice,
        )  # fmt: skip
        op1 = m.ObservedProperty.objects.create(
            name="air temperature", definition="http://example.org/air_temperature",
            description="temperature of the air", owner=alice,
        )  # fmt: skip
        op2 = m.ObservedProperty.objects.create(
            name="vehicle count", definition="http://example.org/vehicle_count",
            description="vehicles per hour", owner=alice,
        )  # fmt: skip
        uom_c = {"name": "degree Celsius", "symbol": "degC", "definition": "http://qudt.org/DEG_C"}
        uom_v = {"name": "vehicles per hour", "symbol": "veh/h", "definition": "http://x/veh"}
        ds1 = m.Datastream.objects.create(
            name="temperature", description="air temperature on the roof",
            unit_of_measurement=uom_c, thing=t1, sensor=s1, observed_property=op1, owner=alice,
        )  # fmt: skip
        ds2 = m.Datastream.objects.create(
            name="counts", description="vehicles on the harbour road",
            unit_of_measurement=uom_v, thing=t2, sensor=s2, observed_property=op2, owner=alice,
        )  # fmt: skip
        ds3 = m.Datastream.objects.create(
            name="secret counts", description="a private datastream",
            unit_of_measurement=uom_v, thing=t2, sensor=s2, observed_property=op2, owner=alice,
            visibility="private",
        )  # fmt: skip
        store_observations(
            ds1,
            [
                {"phenomenon_time": T0 + timedelta(hours=i), "result": 10.0 + i,
                 "result_time": T0 + timedelta(hours=i, minutes=1)}
                for i in range(12)
            ],
        )  # fmt: skip
        store_observations(
            ds2,
            [
                {"phenomenon_time": T0 + timedelta(hours=i), "result": 100 + 10 * i}
                for i in range(6)
            ],
        )
        store_observations(
            ds3, [{"phenomenon_time": T0 + timedelta(hours=i), "result": 999} for i in range(3)]
        )
        fois = list(m.FeatureOfInterest.objects.order_by("pk"))
        data = Dataset(alice, bob, [t1, t2], [l1, l2], [s1, s2], [op1, op2], [ds1, ds2, ds3], fois)
    yield data
    with django_db_blocker.unblock():
        m.Thing.objects.filter(pk__in=[t1.pk, t2.pk]).delete()
        for model in (m.Location, m.Sensor, m.ObservedProperty, m.FeatureOfInterest):
            model.objects.all().delete()
        User.objects.filter(pk__in=[alice.pk, bob.pk]).delete()


class Api:
    """A Django test client speaking SensorThings JSON, as a user (token) or anonymous."""

    def __init__(self, user=None):
        from django.test import Client

        headers = {}
        if user is not None:
            from rest_framework.authtoken.models import Token

            headers["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get(user=user).key}"
        self.client = Client(**headers)

    def url(self, path: str) -> str:
        return path if path.startswith("http") or path.startswith("/") else f"{BASE}/{path}"

    def get(self, path: str, **params):
        return self.client.get(self.url(path), params)

    def _send(self, method: str, path: str, body):
        return getattr(self.client, method)(
            self.url(path), json.dumps(body), content_type="application/json"
        )

    def post(self, path: str, body):
        return self._send("post", path, body)

    def patch(self, path: str, body):
        return self._send("patch", path, body)

    def put(self, path: str, body):
        return self._send("put", path, body)

    def delete(self, path: str):
        return self.client.delete(self.url(path))


@pytest.fixture
def anon(db, sta):
    return Api()


@pytest.fixture
def alice(db, sta):
    return Api(sta.alice)


@pytest.fixture
def bob(db, sta):
    return Api(sta.bob)
