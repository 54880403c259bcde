"""Finding places by the twin's own names, and closing a whole street by its name."""

from __future__ import annotations

import pytest

from layers.models import City, RoadEdge

pytestmark = pytest.mark.django_db


def _helsinki():
    return City.objects.get(name="Helsinki")


def test_search_forgives_case_diacritics_and_typos_and_gives_the_extent(api):
    city = _helsinki()
    edges = RoadEdge.objects.filter(city=city, name="Mannerheimintie")
    assert edges.count() >= 4
    for query in ("mannerh", "MANNERHÉIMINTIE", "mannerhemintie", "Mannerheimin"):
        found = api.get(f"/api/cities/{city.id}/search/", {"q": query}).json()["results"]
        assert found and found[0]["name"] == "Mannerheimintie", (query, found)
        assert found[0]["kind"] == "street" and found[0]["count"] == edges.count()
    west, south, east, north = found[0]["bbox"]
    for edge in edges:
        x0, y0, x1, y1 = edge.geom.extent
        assert west <= x0 and x1 <= east and south <= y0 and y1 <= north
    # a named building is found by a word inside its name
    station = api.get(f"/api/cities/{city.id}/search/", {"q": "rautatieasema"}).json()
    assert any("rautatieasema" in p["name"] for p in station["results"])
    nothing = api.get(f"/api/cities/{city.id}/search/", {"q": "Xyzzyplatz"}).json()
    assert nothing["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [({"q": ""}, "q"), ({"q": "x" * 500}, "q"), ({"q": "mann", "kind": "planet"}, "kind")],
)
def test_a_bad_search_is_a_400_naming_the_field(api, params, field):
    answer = api.get(f"/api/cities/{_helsinki().id}/search/", params)
    assert answer.status_code == 400 and answer.json()["field"] == field


def test_closing_a_street_by_name_closes_every_segment_and_says_its_name(api):
    city = _helsinki()
    scenario = api.post(
        "/api/scenarios/", {"city": city.id, "name": "no Simonkatu"}, format="json"
    ).json()
    added = api.post(
        f"/api/scenarios/{scenario['id']}/edits/",
        {"type": "close_road", "street": "simonkatu"},
        format="json",
    )
    assert added.status_code == 201, added.content
    edit = added.json()["edits"][-1]
    want = sorted(RoadEdge.objects.filter(city=city, name="Simonkatu").values_list("id", flat=True))
    assert edit["resolved_edge_ids"] == want and len(want) >= 2
    assert added.json()["edit_labels"][-1] == f"Close Simonkatu ({len(want)} segments)"
    wrong = api.post(
        f"/api/scenarios/{scenario['id']}/edits/",
        {"type": "close_road", "street": "Simonkatuu"},
        format="json",
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "edits[1].street"
    assert "did you mean Simonkatu" in wrong.json()["error"]
