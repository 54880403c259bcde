"""The Sweeps tab of the web map end to end: a planner starts a small sweep from the current
scenario in headless Chromium, follows it to the end and reads its ranking table and map layer
(real live server, real Celery worker, the API of citytwin/sweeps/)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from layers.models import City
from tests.twin.test_webmap import (  # noqa: F401  (fixtures)
    browser,
    create_scenario,
    open_map,
    page,
    person,
    sign_in,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_planner_starts_a_sweep_and_sees_the_ranking(
    live_server,
    page,  # noqa: F811
    person,  # noqa: F811
    celery_worker_process,
):
    call_command("load_synthetic_city", "SweepMap", "--links", "40", "--seed", "2")
    city = City.objects.get(name="SweepMap")
    c = city.boundary.centroid
    open_map(page, f"{live_server.url}/#city={city.id}&view={c.x},{c.y},15,0,0&d=2")
    sign_in(page, person)
    create_scenario(page, "Sweep base")
    page.click("nav.tabs button[data-tab=sweeps]")
    page.select_option("#tab-sweeps select[name=sweep-simulator]", "traffic")
    page.select_option("#tab-sweeps select[name=sweep-generator]", "close_busiest_links")
    page.fill("#tab-sweeps input[name=n]", "2")
    page.click("#tab-sweeps button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('#tab-sweeps .sweep-progress-text').textContent"
        ".includes('2 of 2 variants done')",
        timeout=240_000,
    )
    rows = page.locator("#tab-sweeps table.sweep-ranking tbody tr")
    page.wait_for_function(
        "() => document.querySelectorAll('#tab-sweeps table.sweep-ranking tbody tr').length === 2"
    )
    assert rows.count() == 2
    first = rows.nth(0).inner_text()
    assert first.startswith("1") and "Close" in first
    header = page.inner_text("#tab-sweeps table.sweep-ranking thead")
    assert "(h)" in header and "Change vs base" in header
    # sorting by rank, descending: the second variant comes first
    page.click("#tab-sweeps th[data-key=rank]")
    assert rows.nth(0).inner_text().startswith("2")
    # the map shows what each variant closes, coloured by rank
    page.wait_for_function("() => document.querySelector('#tab-sweeps').dataset.features === '2'")
    links = page.locator("#tab-sweeps .sweep-downloads a")
    assert [links.nth(i).inner_text() for i in range(2)] == ["CSV", "GeoPackage"]
    assert page.errors == []
