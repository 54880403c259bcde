"""The assistant's language-model path end to end: ``POST /api/assistant/`` with the
``CITYTWIN_LLM_*`` variables pointing at a loopback stand-in for the chat-completions protocol.

What the model proposes is validated exactly like the offline parser's output: an invalid edit
is refused in the same words, a valid one is previewed and applied only on confirmation.
"""

from __future__ import annotations

import re

import pytest

from citytwin.scenarios.models import Scenario
from layers.models import RoadEdge
from tests.assistant.test_llm import API_KEY, MODEL, StandIn, completion

# a text the offline parser finds nothing in: only then is the model asked
VAGUE = "do what the transport committee decided on friday"


@pytest.fixture
def stand_in(monkeypatch):
    server = StandIn()
    monkeypatch.setenv("CITYTWIN_LLM_BASE_URL", server.base_url)
    monkeypatch.setenv("CITYTWIN_LLM_MODEL", MODEL)
    monkeypatch.setenv("CITYTWIN_LLM_API_KEY", API_KEY)
    yield server
    server.close()


def ask(api, city, text: str) -> dict:
    response = api.post("/api/assistant/", {"city": city.id, "text": text}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def refusal(answer: str) -> str:
    """The validation's own words in an assistant answer: ``edits[0].height_m: ...``."""
    found = re.search(r"(edits\[\d+\]\.\w+: [^)]*)", answer)
    assert found, answer
    return found.group(1)


def tower_at(edge) -> dict:
    x, y = edge.geom.interpolate_normalized(0.5).coords
    d = 0.0002
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_the_models_invalid_edits_are_refused_like_the_parsers(db, api, stand_in):
    from layers.models import City

    city = City.objects.get(name="Helsinki")
    edge = RoadEdge.objects.filter(city=city, name="Mannerheimintie").first()
    # the parser's own output with a 5,000 m building: refused by the edit validation
    parsed = ask(api, city, "add a 5000 m tower at the corner of Simonkatu and Mannerheimintie")
    assert parsed["confirm_token"] is None and parsed["edits"] == []
    assert stand_in.requests == []  # the parser understood it: the model was not asked
    # the model proposing the same: refused in the same words, nothing to confirm
    stand_in.answer(
        completion(("edit_add_building", {"footprint": tower_at(edge), "height_m": 5000.0}))
    )
    modelled = ask(api, city, VAGUE)
    assert modelled["confirm_token"] is None and modelled["edits"] == []
    assert refusal(modelled["answer"]) == refusal(parsed["answer"])
    assert refusal(modelled["answer"]).startswith("edits[0].height_m: must be <= 1000 m")
    # a road edge that does not exist
    missing = RoadEdge.objects.order_by("-id").values_list("id", flat=True).first() + 1000
    stand_in.answer(completion(("edit_close_road", {"edge_ids": [missing]})))
    modelled = ask(api, city, VAGUE)
    assert modelled["confirm_token"] is None
    assert refusal(modelled["answer"]) == (
        f"edits[0].edge_ids: no road edge with id {missing} in city 'Helsinki'"
    )
    # a run the simulator would refuse
    stand_in.answer(completion(("run_simulation", {"simulator": "traffic", "params": {"gap": 5}})))
    modelled = ask(api, city, VAGUE)
    assert modelled["confirm_token"] is None and "the run would be refused" in modelled["answer"]
    assert "gap" in modelled["answer"]
    # each request carried the tools, the model and the key; the user's text as the user message
    assert len(stand_in.requests) == 3
    for sent in stand_in.requests:
        assert sent["headers"]["Authorization"] == f"Bearer {API_KEY}"
        assert sent["body"]["model"] == MODEL
        assert sent["body"]["messages"][1] == {"role": "user", "content": VAGUE}
        assert "edit_close_road" in {t["function"]["name"] for t in sent["body"]["tools"]}
    assert not Scenario.objects.filter(name__startswith="Assistant").exists()


def test_a_valid_model_proposal_is_previewed_and_applied_only_on_confirmation(db, api, stand_in):
    from layers.models import City

    city = City.objects.get(name="Helsinki")
    stand_in.answer(completion(("edit_close_road", {"street": "Mannerheimintie"})))
    reply = ask(api, city, VAGUE)
    edges = set(
        RoadEdge.objects.filter(city=city, name="Mannerheimintie").values_list("id", flat=True)
    )
    assert reply["edits"] == [{"type": "close_road", "street": "Mannerheimintie"}]
    assert reply["understood"][0].startswith("Close Mannerheimintie")
    assert reply["preview"]["features"] and reply["confirm_token"]
    assert not Scenario.objects.filter(name__startswith="Assistant").exists()
    # an endpoint that fails afterwards changes nothing of what was proposed before
    stand_in.answer({"error": {"message": "overloaded"}}, status=503)
    down = ask(api, city, VAGUE)
    assert down["confirm_token"] is None and down["answer"].startswith("Nothing changed")
    confirmed = api.post(
        "/api/assistant/confirm/", {"confirm_token": reply["confirm_token"]}, format="json"
    )
    assert confirmed.status_code == 200, confirmed.content
    scenario = Scenario.objects.get(pk=confirmed.json()["scenario"])
    assert [e["type"] for e in scenario.edits] == ["close_road"]
    assert set(scenario.edits[0]["resolved_edge_ids"]) == edges
