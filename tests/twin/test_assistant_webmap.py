"""The web map's Assistant tab in Debian's headless Chromium against a live server.

The panel is checked against the Assistant API contract (docs/assistant.md): the preview drawn
on the map in its own layers and taken off again, clarifying candidates that send their text,
Confirm switching the page to the scenario with the edit.
"""

from __future__ import annotations

import json

import pytest

from citytwin.scenarios import services
from citytwin.scenarios.models import Scenario
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


def street_preview(city, name: str) -> dict:
    edges = RoadEdge.objects.filter(city=city, name=name)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(e.geom.geojson),
                "properties": {"label": f"Close {name}", "edge_id": e.id},
            }
            for e in edges
        ],
    }


def test_the_panel_previews_clarifies_and_confirms_against_the_contract(
    committed_city,
    live_server,
    page,  # noqa: F811
    person,  # noqa: F811
):
    """The Assistant API answered by a route of the test, as the contract says it answers; the
    confirmation applies the edits through the scenario's own validation."""
    city = committed_city("Helsinki")
    asked, confirmed = [], []

    def assistant(route):
        body = route.request.post_data_json
        asked.append(body)
        if body["text"] == "close the main street":
            reply = {
                "understood": [],
                "edits": [],
                "preview": {"type": "FeatureCollection", "features": []},
                "run": None,
                "answer": None,
                "clarify": {
                    "question": "Which street do you mean?",
                    "candidates": [
                        {"label": "Mannerheimintie", "text": "close Mannerheimintie"},
                        {"label": "Aleksanterinkatu", "text": "close Aleksanterinkatu"},
                    ],
                },
                "confirm_token": None,
            }
        else:
            reply = {
                "understood": ["Close Mannerheimintie (every segment, both ways)"],
                "edits": [{"type": "close_road", "street": "Mannerheimintie"}],
                "preview": street_preview(city, "Mannerheimintie"),
                "run": None,
                "answer": None,
                "clarify": None,
                "confirm_token": "token-1",
            }
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply))

    def confirm(route):
        body = route.request.post_data_json
        confirmed.append(body)
        scenario = Scenario.objects.create(city=city, owner=person, name="Assistant: closure")
        scenario = services.set_edits(
            scenario, [{"type": "close_road", "street": "Mannerheimintie"}]
        )
        answer = f"Scenario #{scenario.id}: {len(scenario.edits)} edit applied."
        route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"scenario": scenario.id, "run": None, "answer": answer}),
        )

    page.route("**/api/assistant/", assistant)
    page.route("**/api/assistant/confirm/", confirm)
    open_map(page, f"{live_server.url}/#city={city.id}&view=24.93,60.18,13,0,0&d=2")
    sign_in(page, person)
    page.click("nav.tabs button[data-tab=assistant]")

    # an ambiguous request: a question with candidates, each a button sending its own text
    page.fill("#assistant-text", "close the main street")
    page.click("#assistant-ask")
    page.wait_for_selector("#assistant-history .candidates button")
    assert "Which street do you mean?" in page.inner_text("#assistant-history")
    assert asked[0]["city"] == city.id and asked[0]["text"] == "close the main street"
    assert page.evaluate("window.citytwinMap.getSource('assistant-preview')") is None
    page.click("#assistant-history .candidates button[data-text='close Mannerheimintie']")

    # what the twin understood: in words, and drawn on the map in the preview's own layers
    page.wait_for_selector("#assistant-confirm")
    assert asked[1]["text"] == "close Mannerheimintie"
    assert "Close Mannerheimintie" in page.inner_text("#assistant-history .understood")
    wait_idle(page)
    drawn = {f["edge_id"] for f in rendered(page, "assistant-preview-line")}
    edges = set(
        RoadEdge.objects.filter(city=city, name="Mannerheimintie").values_list("id", flat=True)
    )
    assert drawn and drawn <= edges
    assert count_colour(map_pixels(page, "assistant-preview"), PREVIEW) > 500
    assert not Scenario.objects.filter(name="Assistant: closure").exists()  # nothing yet

    # confirm: the edits go into a new scenario (the baseline was shown) and the page shows it
    page.click("#assistant-confirm")
    page.wait_for_selector("#assistant-history a[data-link=scenario]")
    scenario = Scenario.objects.get(name="Assistant: closure")
    assert confirmed == [{"confirm_token": "token-1"}]
    assert scenario.edits[0]["resolved_edge_ids"] == sorted(edges)
    page.wait_for_function(
        "(id) => location.hash.includes(`scenario=${id}`)", arg=scenario.id, timeout=10_000
    )
    page.click("nav.tabs button[data-tab=scenario]")
    page.wait_for_selector("#edit-list li[data-type=close_road]")
    assert page.input_value("#scenario-select") == str(scenario.id)
    # the preview is gone from the map: the scenario's own edit layers show the closure now
    assert page.evaluate("window.citytwinMap.getLayer('assistant-preview-line')") is None
    assert page.evaluate("window.citytwinMap.getSource('assistant-preview')") is None
    wait_idle(page)
    assert set(f["id"] for f in rendered(page, "edits-closed")) <= edges
    assert rendered(page, "edits-closed")
    # the conversation is kept for the tab (it survives following a link, which reloads)
    kept = page.evaluate("JSON.parse(sessionStorage.getItem('citytwin.assistant'))")
    assert [e["text"] for e in kept] == ["close the main street", "close Mannerheimintie"]
    assert kept[1]["result"]["scenario"] == scenario.id and "confirm_token" not in kept[1]["reply"]
    href = page.get_attribute("#assistant-history a[data-link=scenario]", "href")
    assert href == f"#city={city.id}&scenario={scenario.id}"
