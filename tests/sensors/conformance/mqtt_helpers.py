"""Shared by the MQTT conformance classes: committed users with tokens and MQTT logins, and a
subscriber that records what arrives."""

from __future__ import annotations

import json
import threading
import uuid

from tests.sensors.mqtt_support import mqtt_client, wait_until


def user_with_token(django_user_model, staff: bool = False):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user(
        f"mqtt-{uuid.uuid4().hex[:6]}", password="x", is_staff=staff
    )
    Token.objects.create(user=user)
    return user


class Subscriber:
    """A reader login subscribed to ``topics``; ``messages`` is [(topic, JSON)]."""

    def __init__(self, user, topics: list[str], port: int) -> None:
        from sensors.mqtt import logins

        login, pw = logins.add_reader(user)
        self.messages: list[tuple[str, dict]] = []
        self.client = mqtt_client(login.username, pw, port)
        self.client.on_message = lambda c, u, msg: self.messages.append(
            (msg.topic, json.loads(msg.payload))
        )
        self.subscribe(topics)

    def subscribe(self, topics: list[str]) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe([(t, 1) for t in topics])
        assert done.wait(10)

    def wait_for(self, topic: str, predicate=lambda body: True, timeout_s: float = 20) -> dict:
        return wait_until(
            lambda: next((b for t, b in list(self.messages) if t == topic and predicate(b)), None),
            timeout_s,
            f"a message on {topic}",
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
