"""Creating and changing MQTT logins (devices and readers); the broker reloads after commit
(``sensors.mqtt.signals``)."""

from __future__ import annotations

import re
import secrets

from django.db import transaction

from . import broker
from .models import LOGIN_RE, MqttLogin


class LoginError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _check_name(username: str) -> None:
    if not re.match(LOGIN_RE, username):
        raise LoginError(
            "login", f"login {username!r}: letters, digits, '.', '_' and '-' only (max 63)"
        )
    if username == broker.SERVICE_LOGIN:
        raise LoginError("login", f"login {username!r} is the service's own")
    if MqttLogin.objects.filter(username=username).exists():
        raise LoginError("login", f"login {username!r} exists already")


@transaction.atomic
def add_device(thing_id: int, username: str | None = None, password: str | None = None):
    """A device login for a Thing; returns (login, password). Default name ``thing-<id>``."""
    from sensors.models import Thing

    if not Thing.objects.filter(pk=thing_id).exists():
        raise LoginError("thing", f"thing: no Thing {thing_id}")
    username = username or f"thing-{thing_id}"
    _check_name(username)
    password = password or secrets.token_urlsafe(18)
    login = MqttLogin.objects.create(
        username=username,
        password_hash=broker.hash_password(password),
        kind=MqttLogin.Kind.DEVICE,
        thing_id=thing_id,
    )
    return login, password


@transaction.atomic
def add_reader(user, username: str | None = None, password: str | None = None):
    """A reader login for a Django user (subscribes to what the user may read)."""
    username = username or user.get_username()
    _check_name(username)
    password = password or secrets.token_urlsafe(18)
    login = MqttLogin.objects.create(
        username=username,
        password_hash=broker.hash_password(password),
        kind=MqttLogin.Kind.USER,
        user=user,
    )
    return login, password


@transaction.atomic
def reset_password(username: str, password: str | None = None):
    login = MqttLogin.objects.select_for_update().filter(username=username).first()
    if login is None:
        raise LoginError("login", f"login: no MQTT login {username!r}")
    password = password or secrets.token_urlsafe(18)
    login.password_hash = broker.hash_password(password)
    login.is_active = True
    login.save(update_fields=["password_hash", "is_active"])
    return login, password
