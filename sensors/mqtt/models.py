"""Logins on the MQTT broker: one per device (Thing) and one per reader (Django user).

The password is kept as mosquitto's own hash (``sensors.mqtt.broker.hash_password``), so the
password file is written straight from this table and the HTTP ingest checks the same hash.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

#: logins are written into mosquitto's password and ACL files: no spaces, colons or '#'/'+'
LOGIN_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$"


class MqttLogin(models.Model):
    class Kind(models.TextChoices):
        DEVICE = "device", "device: publishes its Thing's observations"
        USER = "user", "reader: subscribes to what its user may read"

    username = models.CharField(max_length=63, unique=True, validators=[RegexValidator(LOGIN_RE)])
    password_hash = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    thing = models.ForeignKey(
        "sensors.Thing", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="device", thing__isnull=False, user__isnull=True)
                    | models.Q(kind="user", user__isnull=False, thing__isnull=True)
                ),
                name="sensors_mqtt_login_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.kind})"
