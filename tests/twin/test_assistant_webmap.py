"""The web map's Assistant tab in Debian's headless Chromium against a live server.

The real assistant API (offline parser) answers; a real Celery worker runs what is confirmed.
The preview is drawn on the map in its own layers and taken off again, a clarifying candidate
sends its text, Confirm switches the page to the scenario with the edit and follows its run.
"""

from __future__ import annotations

import pytest

from citytwin.scenarios.models import Run, Scenario
from layers.models import RoadEdge
from tests.twin.test_webmap import (  # noqa: F401  (fixtures)
    browser,
    count_colour,
    map_pixels,
    open_map,
    page,
    person,
    rendered,
    sign_in,
    wait_idle,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PREVIEW = "#d500f9"  # the panel's preview colour


def test_a_planner_asks_sees_the_preview_confirms_and_gets_the_runs_figures(
    committed_city,
    live_server,
    page,  # noqa: F811
    person,  # noqa: F811
    celery_worker_process,
):
    city = committed_city("Helsinki")
    street = "Eteläesplanadi"
    edges = set(RoadEdge.objects.filter(city=city, name=street).values_list("id", flat=True))
    open_map(page, f"{live_server.url}/#city={city.id}&view=24.93,60.18,13,0,0&d=2")
    sign_in(page, person)
    page.click("nav.tabs button[data-tab=assistant]")

    # "Esplanadi" names two streets: a question with candidates, each a button sending its text
    page.fill("#assistant-text", "close Esplanadi and run traffic")
    page.click("#assistant-ask")
    page.wait_for_selector("#assistant-history .candidates button")
    assert "Which street do you mean" in page.inner_text("#assistant-history .clarify-question")
    assert page.evaluate("window.citytwinMap.getSource('assistant-preview')") is None
    page.click(f"#assistant-history .candidates button:has-text('{street}')")

    # what the twin understood: in words, and drawn on the map in the preview's own layers
    page.wait_for_selector("#assistant-confirm")
    understood = page.inner_text("#assistant-history .exchange:last-child .understood")
    assert f"Close {street}" in understood and "Traffic" in understood, understood
    assert "Traffic" in page.inner_text("#assistant-history .exchange:last-child .run-request")
    wait_idle(page)
    drawn = rendered(page, "assistant-preview-line")
    assert drawn and all(street in f["label"] for f in drawn)
    assert count_colour(map_pixels(page, "assistant-preview"), PREVIEW) > 300
    assert not Scenario.objects.filter(owner=person).exists()  # nothing changed yet

    # confirm: a new scenario (the baseline was shown) with the edit, and its run
    page.click("#assistant-confirm")
    page.wait_for_selector("#assistant-history a[data-link=run]")
    scenario = Scenario.objects.get(owner=person)
    assert [e["type"] for e in scenario.edits] == ["close_road"]
    assert set(scenario.edits[0]["resolved_edge_ids"]) == edges
    run = Run.objects.get(scenario=scenario)
    assert run.simulator == "traffic"
    href = page.get_attribute("#assistant-history a[data-link=run]", "href")
    assert href == f"#city={city.id}&scenario={scenario.id}&run={run.pk}"
    # the preview is gone; the page shows the scenario with its edit
    assert page.evaluate("window.citytwinMap.getSource('assistant-preview')") is None
    page.wait_for_function(
        "(id) => location.hash.includes(`scenario=${id}&`)", arg=scenario.id, timeout=10_000
    )
    # the run followed to its key figures, with units, in the conversation
    page.wait_for_selector(
        "#assistant-history .run-progress[data-status=succeeded]", timeout=300_000
    )
    figures = page.inner_text("#assistant-history .run-figures")
    assert "Vehicle hours travelled" in figures and " h" in figures, figures
    page.click("nav.tabs button[data-tab=scenario]")
    page.wait_for_selector("#edit-list li[data-type=close_road]")
    assert page.input_value("#scenario-select") == str(scenario.id)
    assert street in page.inner_text("#edit-list li[data-type=close_road]")
    # the conversation is kept for the tab (it survives following a link, which reloads)
    kept = page.evaluate("JSON.parse(sessionStorage.getItem('citytwin.assistant'))")
    assert [e["text"] for e in kept] == [
        "close Esplanadi and run traffic",
        f"close {street} and run traffic",
    ]
    assert kept[1]["result"]["run"] == str(run.pk) and "confirm_token" not in kept[1]["reply"]
