"""What `bin/citytwin up` serves: DEBUG off, a secret key of its own, errors without internals."""

from __future__ import annotations

import os
import stat

import pytest
import requests
from django.test import RequestFactory

from citytwin import errors
from citytwin.settings import _secret_key

INTERNALS = ("Traceback", "DEBUG", "urlpatterns", "SECRET", "/work/", "site-packages", "URLconf")


def test_api_404_is_json_without_internals(web_server):
    answer = requests.get(web_server + "/api/no-such-thing/", timeout=10)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json() == {"error": "not found"}
    assert not any(word in answer.text for word in INTERNALS)


def test_web_404_is_a_plain_page_without_internals(web_server):
    answer = requests.get(web_server + "/no/such/page", timeout=10)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.strip() == "404: not found"
    ogc = requests.get(web_server + "/ogc/collections/nothing-here", timeout=10)
    assert ogc.status_code == 404 and not any(word in ogc.text for word in INTERNALS)


@pytest.mark.django_db(transaction=True)
def test_oversized_json_body_answers_json(web_server, committed_city, django_user_model):
    """A PUT of 10^6 edits by the scenario's owner: JSON with the limit, not an HTML page."""
    from rest_framework.authtoken.models import Token

    from citytwin.scenarios.models import Scenario

    owner = django_user_model.objects.create_user(username="many-edits")
    scenario = Scenario.objects.create(city=committed_city("Helsinki"), name="big", owner=owner)
    body = "[" + ",".join(['{"type":"close_road","edge":1}'] * 1_000_000) + "]"
    answer = requests.put(
        f"{web_server}/api/scenarios/{scenario.pk}/edits/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Token {Token.objects.create(user=owner).key}",
        },
        timeout=120,
    )
    assert answer.headers["Content-Type"].startswith("application/json"), answer.text[:200]
    assert answer.status_code == 413, answer.text[:300]
    assert answer.json()["field"] == "body" and "bytes" in answer.json()["error"]


def test_server_error_is_json_for_the_api_and_plain_for_the_web():
    factory = RequestFactory()
    api = errors.server_error(factory.get("/api/buildings/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert b"Traceback" not in api.content
    web = errors.server_error(factory.get("/"))
    assert web.status_code == 500 and web["Content-Type"].startswith("text/plain")


def test_secret_key_is_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYTWIN_SECRET_KEY", raising=False)
    path = tmp_path / "run" / "secret_key"
    first = _secret_key(path)
    assert len(first) >= 50 and first != "dev-only-insecure-key-change-me"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _secret_key(path) == first  # kept across restarts
    monkeypatch.setenv("CITYTWIN_SECRET_KEY", "from-the-environment")
    assert _secret_key(path) == "from-the-environment"


def test_debug_is_off_unless_asked(monkeypatch):
    import importlib

    import citytwin.settings as project_settings

    monkeypatch.delenv("CITYTWIN_DEBUG", raising=False)
    assert importlib.reload(project_settings).DEBUG is False
    monkeypatch.setenv("CITYTWIN_DEBUG", "1")
    assert importlib.reload(project_settings).DEBUG is True
    monkeypatch.delenv("CITYTWIN_DEBUG")
    importlib.reload(project_settings)
