"""Accounts: who may sign in. Made by the twin's administrator (``bin/citytwin adduser``); a
first administrator is made once on a fresh install (``bin/citytwin up``); people change their
own password in the page (``POST /api/auth/password/``)."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from .models import City, CityRole
from .roles import grant


class AccountRejected(Exception):
    """A request about an account is refused: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def new_password() -> str:
    """A random password for a new account (about 96 bits; shown once, to be changed)."""
    return secrets.token_urlsafe(12)


def _city(name: str) -> City:
    city = City.objects.filter(name=name).first() or (
        City.objects.filter(pk=int(name)).first() if name.isdigit() else None
    )
    if city is None:
        known = ", ".join(City.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise AccountRejected("editor", f"no city {name!r} (cities: {known})")
    return city


@transaction.atomic
def add_user(
    username: str,
    *,
    password: str | None = None,
    staff: bool = False,
    superuser: bool = False,
    editor_of: tuple[str, ...] = (),
    email: str = "",
):
    """Create an account; returns ``(user, password)``.

    ``editor_of``: city names or ids the user may edit (import into, replace base data). The
    password is checked by the site's password validators; a random one is made when none is
    given. Nothing is written when anything is refused.
    """
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise AccountRejected("username", "give a user name")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise AccountRejected("username", " ".join(exc.messages)) from None
    if User.objects.filter(username__iexact=username).exists():
        raise AccountRejected("username", f"a user {username!r} already exists")
    cities = [_city(name) for name in editor_of]
    password = password or new_password()
    candidate = User(username=username, email=email)
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as exc:
        raise AccountRejected("password", " ".join(exc.messages)) from None
    make = User.objects.create_superuser if superuser else User.objects.create_user
    user = make(username=username, email=email, password=password)
    if staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for city in cities:
        grant(user, city, CityRole.Role.EDITOR)
    return user, password


def change_password(user, old_password: str, new_password: str) -> None:
    """Change a signed-in user's own password (the old one is asked again)."""
    if not user.check_password(old_password or ""):
        raise AccountRejected("old_password", "the current password is not right")
    if not new_password:
        raise AccountRejected("new_password", "give a new password")
    if new_password == old_password:
        raise AccountRejected("new_password", "the new password is the current one")
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as exc:
        raise AccountRejected("new_password", " ".join(exc.messages)) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])
