"""The web map's sensors layer: an observation stored in the database shows on the open page
without a reload (the real ASGI server, NOTIFY -> server-sent events), a private sensor stays
hidden from others, and a click charts the forecast band."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sensors.ingest import store_observations
from tests.sensors.conftest import make_datastream
from tests.twin.test_webmap import browser, open_map, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _counter(city, name, **kw):
    ds = make_datastream(name, **kw)
    ds.unit_of_measurement = {"name": "vehicles per hour", "symbol": "veh/h", "definition": ""}
    ds.save()
    ds.thing.city = city
    ds.thing.save()
    return ds


def test_a_new_observation_shows_on_the_open_page_without_reload(
    committed_city,
    web_server,
    page,  # noqa: F811
    django_user_model,
):
    city = committed_city("Helsinki")
    counter = _counter(city, "Mannerheimintie north")
    now = timezone.now().replace(microsecond=0)
    # three days of hourly values: enough for a daily forecast profile
    store_observations(counter, [
        {"phenomenon_time": now - timedelta(hours=72 - i), "result": 300 + (i % 24) * 10}
        for i in range(72)
    ])  # fmt: skip
    quiet = _counter(city, "Quiet loop")
    store_observations(quiet, [
        {"phenomenon_time": now - timedelta(hours=10, minutes=5 * i), "result": 50} for i in range(5)
    ])  # fmt: skip
    owner = django_user_model.objects.create_user("someone-else", password="x")
    _counter(city, "Private meter", owner=owner, visibility="private")

    open_map(page, f"{web_server}/#city={city.id}")
    page.click("nav.tabs button[data-tab=sensors]")
    row = page.locator(f"#sensor-list tr[data-datastream='{counter.pk}'] td.value")
    row.wait_for()
    assert row.inner_text() == "530 veh/h"
    # the quiet sensor (5-min interval, silent for 10 h) is marked stale; the private one is absent
    assert "stale" in page.locator(f"#sensor-list tr[data-datastream='{quiet.pk}']").get_attribute(
        "class"
    )
    assert "Private meter" not in page.locator("#sensor-list").inner_text()
    assert page.evaluate("window.citytwinMap.getLayer('sensors') !== undefined")

    # a new value arrives in the database: the page shows it, no reload, no polling
    page.evaluate("window.__marker = 1")
    store_observations(counter, [{"phenomenon_time": now + timedelta(minutes=1), "result": 777}])
    page.wait_for_function(
        f"document.querySelector(\"#sensor-list tr[data-datastream='{counter.pk}'] td.value\")"
        ".textContent === '777 veh/h'",
        timeout=15_000,
    )
    assert page.evaluate("window.__marker") == 1  # the same page: it was not reloaded
    feature = page.evaluate(
        "window.citytwinMap.querySourceFeatures('sensors')"
        f".filter(f => f.properties.datastream === {counter.pk}).map(f => f.properties.value)"
    )
    assert 777 in feature
    sensor_requests = [u for u in page.requests if "/api/sensors/map/" in u]
    assert len(sensor_requests) == 1  # no per-client polling of the layer

    # a click on the row charts the history with its forecast band
    page.click(f"#sensor-list tr[data-datastream='{counter.pk}']")
    page.locator("#sensor-chart svg polygon.band").wait_for()
    assert page.locator("#sensor-chart svg polyline.observed").count() == 1
