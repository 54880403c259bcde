"""Hourly/daily aggregates, retention, the latest-value and aggregates endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import call_command

from sensors.ingest import store_observations
from sensors.models import Aggregate, Datastream, Observation
from sensors.storage import apply_retention, refresh_aggregates
from sensors.tasks import maintain_storage
from tests.sensors.conftest import make_datastream

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def fill(ds, hours: int = 30, per_hour: int = 4):
    """``per_hour`` observations an hour: value = hour * 10 + k (k = 0..per_hour-1)."""
    rows = [
        {"phenomenon_time": T0 + timedelta(hours=h, minutes=15 * k), "result": h * 10 + k}
        for h in range(hours)
        for k in range(per_hour)
    ]
    rows.append({"phenomenon_time": T0 + timedelta(hours=1, minutes=59), "result": "jammed"})
    store_observations(ds, rows)


def test_hourly_and_daily_aggregates(datastream):
    fill(datastream)
    written = refresh_aggregates(T0, T0 + timedelta(hours=30))
    assert written == {"hour": 30, "day": 2}
    hour1 = Aggregate.objects.get(
        datastream=datastream, period="hour", start=T0 + timedelta(hours=1)
    )
    # four numbers 10..13 and one text result: counted, not averaged
    assert (hour1.count, hour1.mean, hour1.min, hour1.max) == (5, 11.5, 10.0, 13.0)
    day1 = Aggregate.objects.get(datastream=datastream, period="day", start=T0)
    assert day1.count == 24 * 4 + 1
    assert day1.min == 0 and day1.max == 233
    assert abs(day1.mean - sum(h * 10 + k for h in range(24) for k in range(4)) / 96) < 1e-9
    # a late observation: the next refresh updates its bucket, nothing is counted twice
    store_observations(datastream, [{"phenomenon_time": T0 + timedelta(minutes=50), "result": 100}])
    refresh_aggregates(T0, T0 + timedelta(hours=2))
    hour0 = Aggregate.objects.get(datastream=datastream, period="hour", start=T0)
    assert (hour0.count, hour0.max) == (5, 100.0)
    assert Aggregate.objects.filter(datastream=datastream, period="hour").count() == 30


def test_retention_keeps_aggregates_and_latest(datastream, db):
    keep = make_datastream("forever")
    now = T0 + timedelta(days=10)
    fill(datastream)
    fill(keep)
    refresh_aggregates(T0, now)
    Datastream.objects.filter(pk=datastream.pk).update(retention_days=9)
    deleted = apply_retention(now)
    # the first day (96 + 1 observations) is older than 9 days; the rest stays
    assert deleted == 97
    assert Observation.objects.filter(datastream=datastream).count() == 6 * 4
    assert Observation.objects.filter(datastream=keep).count() == 30 * 4 + 1
    assert Aggregate.objects.filter(datastream=datastream, period="day").count() == 2
    datastream.refresh_from_db()
    assert datastream.latest_value == 293


def test_beat_task_and_backfill_command(datastream):
    assert (
        settings.CELERY_BEAT_SCHEDULE["sensors-maintain-storage"]["task"]
        == "sensors.maintain_storage"
    )
    now = datetime.now(UTC).replace(microsecond=0)
    store_observations(datastream, [{"phenomenon_time": now - timedelta(minutes=5), "result": 7}])
    out = maintain_storage(lookback_h=1)
    assert out["hour"] >= 1
    assert Aggregate.objects.filter(datastream=datastream, period="hour", mean=7).exists()
    fill(datastream)
    call_command("sensors_aggregate", since="2026-03-01T00:00:00Z")
    assert Aggregate.objects.filter(datastream=datastream, period="day", start=T0).exists()


def test_latest_values_in_one_request(anon, alice, sta, django_assert_max_num_queries):
    ds1, ds2, private = sta.datastreams
    ids = f"{ds1.pk},{ds2.pk},{private.pk},999999"
    with django_assert_max_num_queries(2):  # the token/session look-up and one query
        r = anon.get("/api/sensors/latest/", datastreams=ids)
    assert r.status_code == 200
    body = r.json()
    assert [(d["id"], d["result"]) for d in body["datastreams"]] == [(ds1.pk, 21.0), (ds2.pk, 150)]
    assert body["datastreams"][0]["phenomenon_time"] == "2026-05-01T11:00:00Z"
    assert body["datastreams"][0]["unit"] == "degC"
    assert body["missing"] == [private.pk, 999999]  # private: as unknown to others
    mine = alice.get("/api/sensors/latest/", datastreams=ids).json()
    assert [d["id"] for d in mine["datastreams"]] == [ds1.pk, ds2.pk, private.pk]
    r = anon.get("/api/sensors/latest/", datastreams="1,x")
    assert r.status_code == 400 and r.json()["field"] == "datastreams"
    assert anon.get("/api/sensors/latest/").json()["field"] == "datastreams"


def test_aggregates_endpoint(anon, sta):
    ds1, _, private = sta.datastreams
    refresh_aggregates(datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC))
    r = anon.get(
        f"/api/sensors/datastreams/{ds1.pk}/aggregates/",
        period="hour", start="2026-05-01T02:00:00Z", end="2026-05-01T04:00:00Z",
    )  # fmt: skip
    assert r.json()["aggregates"] == [
        {"start": "2026-05-01T02:00:00Z", "count": 1, "mean": 12.0, "min": 12.0, "max": 12.0},
        {"start": "2026-05-01T03:00:00Z", "count": 1, "mean": 13.0, "min": 13.0, "max": 13.0},
    ]
    assert anon.get(f"/api/sensors/datastreams/{private.pk}/aggregates/").status_code == 404
    r = anon.get(f"/api/sensors/datastreams/{ds1.pk}/aggregates/", period="week")
    assert r.status_code == 400 and r.json()["field"] == "period"


def test_days_follow_the_city_clock(datastream):
    from layers.models import City

    city = City.objects.create(name="Clockton", local_epsg=32635, time_zone="Europe/Helsinki")
    datastream.thing.city = city
    datastream.thing.save()
    fill(datastream)  # from 2026-03-02 00:00 UTC = 02:00 in Helsinki (UTC+2 in March)
    # a window of one evening hour (21:00-22:00 UTC = 23:00-24:00 local) writes that whole
    # local day, from local midnight: not only the window's observations
    refresh_aggregates(T0 + timedelta(hours=21), T0 + timedelta(hours=22))
    days = list(Aggregate.objects.filter(datastream=datastream, period="day"))
    assert [d.start for d in days] == [T0 - timedelta(hours=2)]
    # local 2 March holds UTC 00:00-22:00: 22 hours of 4 observations and the text result
    assert days[0].count == 22 * 4 + 1
    refresh_aggregates(T0, T0 + timedelta(hours=30))
    days = list(Aggregate.objects.filter(datastream=datastream, period="day").order_by("start"))
    assert [d.start for d in days] == [T0 - timedelta(hours=2), T0 + timedelta(hours=22)]
    assert days[1].count == 8 * 4  # local 3 March up to the last observation
