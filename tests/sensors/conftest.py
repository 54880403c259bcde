"""Fixtures for the sensors tests: a small SensorThings graph on the real PostGIS test database
(no city import: these tests need none)."""

from __future__ import annotations

import pytest

from tests.sensors.conformance.conftest import alice, anon, bob, sta  # noqa: F401  (fixtures)


def make_datastream(name: str = "counter", owner=None, visibility: str = "public", thing=None):
    """A Thing at a Location with one Datastream of vehicle counts."""
    from django.contrib.gis.geos import Point

    from sensors.models import Datastream, Location, ObservedProperty, Sensor, Thing

    if thing is None:
        thing = Thing.objects.create(name=f"{name} station", description="roadside")
        loc = Location.objects.create(
            name=f"{name} site",
            description="kerb",
            location={"type": "Point", "coordinates": [24.94, 60.17]},
            geom=Point(24.94, 60.17, srid=4326),
        )
        thing.locations.add(loc)
    sensor = Sensor.objects.create(
        name="loop", description="inductive loop", encoding_type="text/html", metadata="http://x"
    )
    prop = ObservedProperty.objects.create(
        name="vehicle count", definition="http://example.org/count", description="vehicles"
    )
    return Datastream.objects.create(
        name=name,
        description="vehicles per 5 min",
        unit_of_measurement={"name": "vehicles", "symbol": "veh", "definition": "http://x/veh"},
        thing=thing,
        sensor=sensor,
        observed_property=prop,
        owner=owner,
        visibility=visibility,
    )


@pytest.fixture
def datastream(db):
    return make_datastream()


# the real MQTT broker and consumer (sensors-ingest): fixtures mqtt_broker, mqtt_consumer
from tests.sensors.mqtt_support import mqtt_broker, mqtt_consumer  # noqa: E402, F401
