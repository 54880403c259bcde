"""Keep the broker's logins and ACL in step with the twin: after a commit that changed a
Datastream (its Thing, owner or visibility decide who may publish or read it), a login or a
user's staff flag, the files are rewritten and a running broker re-reads them (SIGHUP)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import broker


@receiver(post_save, sender="sensors.Datastream", dispatch_uid="mqtt-acl-ds-save")
@receiver(post_delete, sender="sensors.Datastream", dispatch_uid="mqtt-acl-ds-delete")
@receiver(post_save, sender="sensors_mqtt.MqttLogin", dispatch_uid="mqtt-acl-login-save")
@receiver(post_delete, sender="sensors_mqtt.MqttLogin", dispatch_uid="mqtt-acl-login-delete")
def datastream_or_login_changed(**_kwargs) -> None:
    transaction.on_commit(broker.sync_broker)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="mqtt-acl-user-save")
def user_changed(update_fields=None, **_kwargs) -> None:
    # a sign-in saves last_login only: that changes nobody's rights
    if update_fields is None or {"is_staff", "is_superuser", "is_active"} & set(update_fields):
        transaction.on_commit(broker.sync_broker)
