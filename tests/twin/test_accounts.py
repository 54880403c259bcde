"""Accounts: `bin/citytwin adduser`, the first administrator of a fresh install, and changing
one's own password through the API (real PostGIS; the command run as the CLI runs it)."""

from __future__ import annotations

import io
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from layers.models import City, CityRole

pytestmark = pytest.mark.django_db


def _adduser(*args: str, stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        import sys

        saved, sys.stdin = sys.stdin, io.StringIO(stdin)
        try:
            call_command("adduser", *args, stdout=out)
        finally:
            sys.stdin = saved
    else:
        call_command("adduser", *args, stdout=out)
    return out.getvalue()


def _token(username: str, password: str) -> int:
    return APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_adduser_prints_a_password_that_signs_in_and_gives_the_city_role():
    city = City.objects.create(name="Porvoo-accounts", local_epsg=32635)
    out = _adduser("maija", "--editor", "Porvoo-accounts", "--staff")
    password = next(line for line in out.splitlines() if line.startswith("password: "))[10:]
    assert len(password) >= 12
    user = get_user_model().objects.get(username="maija")
    assert user.is_staff and not user.is_superuser
    assert CityRole.objects.filter(user=user, city=city, role="editor").exists()
    answer = _token("maija", password)
    assert answer.status_code == 200 and answer.json()["token"]


def test_adduser_refuses_an_unknown_city_a_taken_name_and_a_weak_password_writing_nothing():
    City.objects.create(name="Porvoo-accounts", local_epsg=32635)
    with pytest.raises(CommandError, match=r"editor: no city 'Atlantis' \(cities: .*Porvoo-acc"):
        _adduser("pekka", "--editor", "Atlantis")
    assert not get_user_model().objects.filter(username="pekka").exists()
    with pytest.raises(CommandError, match="password: .*too short"):
        _adduser("pekka", "--password-stdin", stdin="abc123\n")
    assert not get_user_model().objects.filter(username="pekka").exists()
    _adduser("pekka")
    with pytest.raises(CommandError, match="username: a user 'Pekka' already exists"):
        _adduser("Pekka")
    assert get_user_model().objects.filter(username__iexact="pekka").count() == 1


def test_the_first_administrator_is_made_once_and_its_password_kept_private(tmp_path):
    target = tmp_path / "first-admin.txt"
    out = _adduser("--first-admin", str(target))
    assert "A first administrator was made" in out and "bin/citytwin adduser" in out
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    password = target.read_text().splitlines()[1].removeprefix("password: ")
    assert password in out and _token("admin", password).status_code == 200
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # a second `up` makes nobody and says nothing
    assert _adduser("--first-admin", str(tmp_path / "again.txt")) == ""
    assert get_user_model().objects.filter(is_superuser=True).count() == 1
    assert not (tmp_path / "again.txt").exists()


def test_changing_ones_password_checks_the_old_one_and_rotates_the_token():
    get_user_model().objects.create_user(username="liisa", password="first-password-1")
    old_token = _token("liisa", "first-password-1").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {old_token}")
    url = "/api/auth/password/"
    wrong = client.post(url, {"old_password": "nope", "new_password": "x" * 12}, format="json")
    assert wrong.status_code == 400 and wrong.json()["field"] == "old_password"
    weak = client.post(
        url, {"old_password": "first-password-1", "new_password": "12345678901"}, format="json"
    )
    assert weak.status_code == 400 and weak.json()["field"] == "new_password"
    assert "numeric" in weak.json()["error"]
    done = client.post(
        url, {"old_password": "first-password-1", "new_password": "harbour-crane-77"}, format="json"
    )
    assert done.status_code == 200 and done.json()["token"] != old_token
    # the old token and the old password no longer work; the new ones do
    assert client.get("/api/scenarios/").status_code == 401
    assert _token("liisa", "first-password-1").status_code == 400
    assert _token("liisa", "harbour-crane-77").status_code == 200
    assert APIClient().post(url, {}, format="json").status_code == 401
