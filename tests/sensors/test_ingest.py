"""store_observations: idempotent batches, the latest value and the NOTIFY on new values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.contrib.gis.geos import Point
from django.db import connection

from sensors.ingest import ObservationRejected, refresh_latest, store_observations
from sensors.models import Datastream, FeatureOfInterest, Observation

T0 = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def rows(n: int, start: int = 0, **extra):
    return [
        {"phenomenon_time": T0 + timedelta(minutes=5 * i), "result": i, **extra}
        for i in range(start, start + n)
    ]


def test_redelivered_rows_are_stored_once(datastream):
    assert store_observations(datastream, rows(10)) == (10, 0)
    # a redelivery overlapping the first batch, and a duplicate inside one batch
    assert store_observations(datastream, rows(10, start=5) + rows(1, start=14)) == (5, 6)
    assert Observation.objects.filter(datastream=datastream).count() == 15
    # the same time with another sequence number is another observation
    assert store_observations(datastream, rows(1, sequence=7)) == (1, 0)
    assert store_observations(datastream.pk, rows(1, sequence=7)) == (0, 1)


def test_latest_value_moves_forward_only(datastream):
    store_observations(datastream, rows(3, start=10))
    ds = Datastream.objects.get(pk=datastream.pk)
    assert ds.latest_value == 12
    assert ds.latest_phenomenon_time == T0 + timedelta(minutes=60)
    assert datastream.latest_value == 12  # the object passed in is refreshed too
    # a late observation of the past changes the envelope, not the latest value
    store_observations(datastream, [{"phenomenon_time": "2026-04-30T00:00:00Z", "result": -1}])
    ds.refresh_from_db()
    assert ds.latest_value == 12
    assert ds.phenomenon_time_start == datetime(2026, 4, 30, tzinfo=UTC)
    assert ds.phenomenon_time_end == T0 + timedelta(minutes=60)
    Observation.objects.filter(datastream=ds, result=12).delete()
    refresh_latest(ds.pk)
    ds.refresh_from_db()
    assert ds.latest_value == 11


def test_default_feature_of_interest_is_the_things_location(datastream):
    store_observations(datastream, rows(2))
    store_observations(datastream, rows(2, start=2))
    fois = FeatureOfInterest.objects.filter(observations__datastream=datastream).distinct()
    assert fois.count() == 1
    assert fois[0].feature == {"type": "Point", "coordinates": [24.94, 60.17]}
    # the datastream's observedArea covers its features of interest
    ds = Datastream.objects.get(pk=datastream.pk)
    assert ds.observed_area.equals(Point(24.94, 60.17, srid=4326))
    far = FeatureOfInterest.objects.create(
        name="far", feature={}, geom=Point(25.0, 60.2, srid=4326)
    )
    store_observations(datastream, rows(1, start=9, feature_of_interest=far))
    ds.refresh_from_db()
    assert ds.observed_area.geom_type == "LineString"
    assert ds.observed_area.covers(Point(25.0, 60.2)) and ds.observed_area.covers(
        Point(24.94, 60.17)
    )


@pytest.mark.parametrize(
    "row, field",
    [
        ({"result": 1}, "phenomenonTime"),
        ({"phenomenon_time": "2026-05-01T06:00:00"}, "result"),
        ({"phenomenon_time": "2026-05-01T06:00:00", "result": 1}, "phenomenonTime"),
        ({"phenomenon_time": "yesterday", "result": 1}, "phenomenonTime"),
        ({"phenomenon_time": "2026-05-01T06:00:00Z", "result": 1, "sequence": "a"}, "sequence"),
    ],
)
def test_a_bad_row_stores_nothing(datastream, row, field):
    with pytest.raises(ObservationRejected) as err:
        store_observations(datastream, rows(3) + [row])
    assert err.value.field == field
    assert err.value.index == 3
    assert not Observation.objects.filter(datastream=datastream).exists()


def test_new_values_are_notified(transactional_db):
    from tests.sensors.conftest import make_datastream

    ds = make_datastream()
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"], autocommit=True
    ) as listener:
        listener.execute("LISTEN sensors")
        store_observations(ds, rows(50))
        notes = list(listener.notifies(timeout=5.0, stop_after=1))
        store_observations(ds, rows(5))  # all duplicates: nothing moves, nothing sent
        later = list(listener.notifies(timeout=0.3))
    assert len(notes) == 1
    assert later == []
    payload = json.loads(notes[0].payload)
    assert payload["datastream"] == ds.pk
    assert payload["result"] == 49
