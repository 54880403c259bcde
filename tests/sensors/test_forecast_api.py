"""Forecasts of a datastream over the API, in the city's local time, and the anomaly beat task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from sensors.analysis.models import Anomaly
from sensors.analysis.tasks import flag_anomalies
from sensors.ingest import store_observations

from .conftest import make_datastream


def _hourly_rows(hours: int, spike_at: int | None = None, end: datetime | None = None):
    """veh/h with a morning and an afternoon peak (Helsinki local time) and bounded noise."""
    end = (end or timezone.now()).replace(minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(4)
    rows = []
    for i in range(hours):
        t = end - timedelta(hours=hours - 1 - i)
        local_h = (t.astimezone(UTC).hour + 2) % 24  # the shape only; DST shifts it by 1 h
        value = 200 + 500 * np.exp(-((local_h - 8) ** 2) / 2) + 400 * np.exp(
            -((local_h - 16) ** 2) / 3) + rng.uniform(-15, 15)  # fmt: skip
        if i == spike_at:
            value += 900.0
        rows.append({"phenomenon_time": t, "result": round(float(value), 1)})
    return rows


@pytest.fixture
def counter(db):
    ds = make_datastream("Mannerheimintie counter")
    ds.unit_of_measurement = {"name": "vehicles per hour", "symbol": "veh/h", "definition": ""}
    ds.save()
    return ds


def test_forecast_band_anomaly_and_local_time(counter):
    hours = 21 * 24
    spike = hours - 30
    rows = _hourly_rows(hours, spike_at=spike)
    store_observations(counter, rows)
    response = Client().get(f"/api/sensors/datastreams/{counter.pk}/forecast/?horizon_h=12")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["time_zone"] == "Europe/Helsinki" and body["unit"] == "veh/h"
    assert body["profile"] == "weekly"
    assert len(body["forecast"]) == 12
    # local times with Helsinki's offset (+02:00 in winter, +03:00 in summer)
    assert body["forecast"][0]["time"][-6:] in ("+02:00", "+03:00")
    assert [a["value"] for a in body["anomalies"]] == [pytest.approx(rows[spike]["result"])]
    for point in body["forecast"]:
        assert point["lower"] < point["forecast"] < point["upper"]
    # the beat task stores the same hour once, however often it runs
    assert flag_anomalies(lookback_h=48)["new_anomalies"] == 1
    assert flag_anomalies(lookback_h=48)["new_anomalies"] == 0
    stored = Anomaly.objects.get(datastream=counter)
    assert stored.observed == pytest.approx(body["anomalies"][0]["value"])
    assert stored.start.isoformat()[:13] == datetime.fromisoformat(
        body["anomalies"][0]["time"]).astimezone(UTC).isoformat()[:13]  # fmt: skip


def test_private_short_and_bad_requests(counter):
    url = f"/api/sensors/datastreams/{counter.pk}/forecast/"
    store_observations(counter, _hourly_rows(10))
    response = Client().get(url)
    assert response.status_code == 409 and response.json()["field"] == "values"
    assert Client().get(url + "?horizon_h=abc").json()["field"] == "horizon_h"
    owner = get_user_model().objects.create_user("meter-owner", password="x")
    counter.visibility, counter.owner = "private", owner
    counter.save()
    assert Client().get(url).status_code == 404
    client = Client()
    client.force_login(owner)
    assert client.get(url).status_code == 409  # visible to its owner (still too short)


def test_the_map_layer_lists_readable_sensors_with_latest_value_and_interval(counter):
    store_observations(counter, _hourly_rows(5))
    counter.refresh_from_db()
    owner = get_user_model().objects.create_user("meter-owner", password="x")
    hidden = make_datastream("private meter", owner=owner, visibility="private")
    store_observations(hidden, _hourly_rows(3))
    body = Client().get("/api/sensors/map/").json()
    assert [f["properties"]["datastream"] for f in body["features"]] == [counter.pk]
    props = body["features"][0]["properties"]
    assert props["unit"] == "veh/h" and props["interval_s"] == 3600.0
    assert props["value"] == counter.latest_value
    assert body["features"][0]["geometry"] == {"type": "Point", "coordinates": [24.94, 60.17]}
    client = Client()
    client.force_login(owner)
    assert len(client.get("/api/sensors/map/").json()["features"]) == 2
    assert Client().get("/api/sensors/map/?city=x").json()["field"] == "city"
