"""Who may write what, sign-in throttling, the page's session cookie, CORS only for public data."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from layers.models import City, CityRole, Feature, Layer
from layers.roles import grant

from .test_file_imports import _upload

pytestmark = pytest.mark.django_db


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _client(user=None, address: str | None = None) -> APIClient:
    client = APIClient(REMOTE_ADDR=address or _address())
    if user is not None:
        client.credentials(
            HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}"
        )
    return client


# --- roles ------------------------------------------------------------------------------------


@pytest.fixture
def buildings_file(tmp_path):
    frame = gpd.GeoDataFrame(
        {"h": [5.0]}, geometry=[shapely.box(24.9, 60.1, 24.91, 60.11)], crs=4326
    )
    path = tmp_path / "b.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def test_base_data_needs_an_editor_of_the_city(user, django_user_model, buildings_file):
    city = City.objects.create(name="Roleville", local_epsg=3067)
    api = _client(user)
    params = {"target": "buildings", "city": "Roleville", "mapping": '{"height_m": "h"}'}
    for target in ("buildings", "roads", "utilities"):
        refused = _upload(api, buildings_file, **{**params, "target": target})
        assert refused.status_code == 403, refused.content
        assert refused.json()["field"] == "target" and "editor" in refused.json()["error"]
    # an editor of another city is no editor of this one
    grant(user, City.objects.get(name="Helsinki"))
    assert _upload(api, buildings_file, **params).status_code == 403
    # personal layers stay anyone's
    assert _upload(api, buildings_file, name="mine", visibility="private").status_code == 202
    # the role given by the management command opens the door
    call_command("city_role", user.username, "Roleville")
    assert CityRole.objects.filter(user=user, city=city, role="editor").exists()
    assert _upload(api, buildings_file, **params).status_code == 202
    call_command("city_role", user.username, "Roleville", "--revoke")
    assert _upload(api, buildings_file, **params).status_code == 403
    staff = django_user_model.objects.create_user(username=f"staff-{uuid.uuid4().hex[:6]}")
    staff.is_staff = True
    staff.save()
    assert _upload(_client(staff), buildings_file, **params).status_code == 202


def test_new_city_from_osm_needs_staff(user, tmp_path):
    from layers.importers.osm import demo_pbf

    path = tmp_path / "kotka.osm.pbf"
    path.write_bytes(Path(demo_pbf("kotka")).read_bytes())
    refused = _upload(_client(user), path, target="osm", city="Brand new city")
    assert refused.status_code == 403 and refused.json()["field"] == "city"
    # replacing an existing city's data needs an editor of it
    refused = _upload(_client(user), path, target="osm", city="Kotka", replace="true")
    assert refused.status_code == 403 and refused.json()["field"] == "target"


def test_roles_are_in_the_admin(django_user_model):
    admin_user = django_user_model.objects.create_superuser(
        username=f"root-{uuid.uuid4().hex[:6]}", password="pw-for-admin"
    )
    client = APIClient()
    client.force_login(admin_user)
    page = client.get("/admin/layers/cityrole/add/")
    assert page.status_code == 200 and b"city" in page.content.lower()


# --- sign-in throttling -----------------------------------------------------------------------


def test_token_signin_is_throttled_per_user_even_with_the_right_password(django_user_model):
    name = f"victim-{uuid.uuid4().hex[:6]}"
    django_user_model.objects.create_user(username=name, password="right-password")
    for _ in range(10):  # from ten addresses: the per-user count still adds up
        wrong = _client().post("/api/auth/token/", {"username": name, "password": "wrong"})
        assert wrong.status_code == 400
    blocked = _client().post("/api/auth/token/", {"username": name, "password": "right-password"})
    assert blocked.status_code == 429
    assert blocked.json()["field"] == "username" and int(blocked["Retry-After"]) > 0
    # someone else is not affected
    other = f"other-{uuid.uuid4().hex[:6]}"
    django_user_model.objects.create_user(username=other, password="pw")
    assert _client().post("/api/auth/token/", {"username": other, "password": "pw"}).json()["token"]


def test_token_signin_is_throttled_per_address(django_user_model):
    address = _address()
    for i in range(30):
        wrong = _client(address=address).post(
            "/api/auth/token/", {"username": f"guess-{i}", "password": "x"}
        )
        assert wrong.status_code == 400
    name = f"real-{uuid.uuid4().hex[:6]}"
    django_user_model.objects.create_user(username=name, password="pw")
    blocked = _client(address=address).post(
        "/api/auth/token/", {"username": name, "password": "pw"}
    )
    assert blocked.status_code == 429
    assert (
        _client().post("/api/auth/token/", {"username": name, "password": "pw"}).status_code == 200
    )


def test_admin_login_is_throttled(django_user_model):
    name = f"adm-{uuid.uuid4().hex[:6]}"
    django_user_model.objects.create_superuser(username=name, password="right")
    address = _address()
    client = APIClient(REMOTE_ADDR=address, enforce_csrf_checks=False)
    for _ in range(10):
        page = client.post("/admin/login/", {"username": name, "password": "wrong"})
        assert page.status_code == 200
    blocked = client.post("/admin/login/", {"username": name, "password": "right"})
    assert blocked.status_code == 429 and "Retry-After" in blocked


# --- the page's session cookie ----------------------------------------------------------------


def test_page_signin_gets_an_httponly_session_and_api_clients_a_token(django_user_model):
    name = f"page-{uuid.uuid4().hex[:6]}"
    django_user_model.objects.create_user(username=name, password="pw")
    page = APIClient(enforce_csrf_checks=True)
    page.get("/")  # the page sets the csrftoken cookie
    csrf = page.cookies["csrftoken"].value
    signed = page.post(
        "/api/auth/token/",
        json.dumps({"username": name, "password": "pw"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert signed.status_code == 200 and signed.json()["session"] is True
    cookie = signed.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert page.get("/api/auth/session/").json() == {"username": name}
    # after a reload the page gets its token back from the session (CSRF-checked POST)
    assert page.post("/api/auth/session/").status_code == 403
    again = page.post("/api/auth/session/", HTTP_X_CSRFTOKEN=page.cookies["csrftoken"].value)
    assert again.json()["token"] == signed.json()["token"]
    # a write with the session needs the CSRF header (a forged form from elsewhere has none)
    no_csrf = page.post("/api/scenarios/", {"city": 1, "name": "x"}, format="json")
    assert no_csrf.status_code == 403
    assert page.delete("/api/auth/session/", HTTP_X_CSRFTOKEN=page.cookies["csrftoken"].value)
    assert page.get("/api/auth/session/").json() == {"username": None}
    # an API client (no CSRF cookie) gets a token and no session
    api = APIClient().post("/api/auth/token/", {"username": name, "password": "pw"})
    assert api.json()["session"] is False and "sessionid" not in api.cookies


# --- CORS only for public data ----------------------------------------------------------------


def test_cross_origin_header_only_on_public_data(user):
    public = Layer.objects.create(name="pub", slug="pub-cors", visibility="public")
    private = Layer.objects.create(name="priv", slug="priv-cors", visibility="private", owner=user)
    for layer in (public, private):
        Feature.objects.create(layer=layer, fid=1, geom="POINT(24.95 60.17)", properties={})
    api = _client(user)
    assert api.get("/tiles/pub-cors/0/0/0.pbf")["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in api.get("/tiles/priv-cors/0/0/0.pbf")
    assert APIClient().get("/ogc/collections")["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in api.get("/ogc/collections")  # names private ones
    assert api.get("/ogc/collections/buildings/items?limit=1")["Access-Control-Allow-Origin"] == "*"
    private_items = api.get("/ogc/collections/priv-cors/items")
    assert private_items.status_code == 200, private_items.content[:300]
    assert "Access-Control-Allow-Origin" not in private_items


def test_web_map_has_a_content_security_policy(client):
    page = client.get("/")
    policy = page["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
