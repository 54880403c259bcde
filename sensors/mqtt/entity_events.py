"""SensorThings entities created or changed: told to the receive publisher after the commit.

``post_save`` of a SensorThings model sends ``NOTIFY sensors_entities, '{"set", "id",
"created", "changed"}'`` inside the saving transaction, so it is delivered only if that commits
(and never for a rolled-back write). ``pre_save`` reads the row as it was, to name the changed
properties (their topics ``v1.1/<Set>(<id>)/<property>``). New Observations are told by the
insert trigger instead (``sensors_observations``): they do not pass through ``save()``.

:func:`topics_for` says where an entity event is published; private Datastreams (and their
Observations) only on topics under ``v1.1/Datastreams(<id>)``, the prefix the broker's ACL keeps
to their owner and staff.
"""

from __future__ import annotations

import json

from django.db import connection
from django.db.models.signals import post_save, pre_save

CHANNEL = "sensors_entities"


def _entity_types():
    from sensors.sta.entities import BY_MODEL

    return BY_MODEL


def _changed(sender, instance) -> list[str] | None:
    entity = _entity_types().get(sender)
    if entity is None or instance.pk is None:
        return None
    old = sender.objects.filter(pk=instance.pk).first()
    if old is None:
        return None
    return [
        name
        for name, prop in entity.props.items()
        if prop.kind != "geometry" and prop.to_json(old) != prop.to_json(instance)
    ]


def on_pre_save(sender, instance, raw=False, **kwargs) -> None:
    if raw or sender not in _entity_types():
        return
    instance._sta_changed = _changed(sender, instance)


def on_post_save(sender, instance, created, raw=False, **kwargs) -> None:
    entity = _entity_types().get(sender)
    if raw or entity is None:
        return
    if created and entity.set_name == "Observations":
        return  # told by the insert trigger
    payload = {
        "set": entity.set_name,
        "id": instance.pk,
        "created": bool(created),
        "changed": getattr(instance, "_sta_changed", None) or [],
    }
    with connection.cursor() as cur:
        cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload)])


def connect() -> None:
    pre_save.connect(on_pre_save, dispatch_uid="sta-mqtt-pre-save")
    post_save.connect(on_post_save, dispatch_uid="sta-mqtt-post-save")


def _private(set_name: str, obj) -> int | None:
    """The private Datastream an entity belongs to, or None."""
    if set_name == "Datastreams" and obj.visibility == "private":
        return obj.pk
    if set_name == "Observations" and obj.datastream.visibility == "private":
        return obj.datastream_id
    return None


def topics_for(set_name: str, obj, created: bool, changed: list[str]) -> list[tuple[str, str]]:
    """(topic, kind) pairs: kind "entity" (the whole entity) or a property name."""
    from sensors.sta.entities import ENTITY_TYPES

    entity = ENTITY_TYPES[set_name]
    private_ds = _private(set_name, obj)
    own = f"v1.1/{set_name}({obj.pk})"
    out: list[tuple[str, str]] = []
    if private_ds is not None:
        if set_name == "Datastreams":
            out.append((own, "entity"))
            out.extend((f"{own}/{p}", p) for p in changed)
        elif created:
            out.append((f"v1.1/Datastreams({private_ds})/Observations", "entity"))
        return out
    if created:
        out.append((f"v1.1/{set_name}", "entity"))
        # the parents' navigation topics, e.g. a new Datastream on v1.1/Things(3)/Datastreams
        for nav in entity.navs.values():
            if nav.many:
                continue
            parent_id = getattr(obj, f"{nav.field}_id", None)
            parent = ENTITY_TYPES[nav.target]
            back = [
                n for n in parent.navs.values() if n.many and n.target == set_name
                and n.reverse == nav.field
            ]  # fmt: skip
            if parent_id is not None and back:
                out.append((f"v1.1/{parent.set_name}({parent_id})/{back[0].name}", "entity"))
    out.append((own, "entity"))
    out.extend((f"{own}/{p}", p) for p in changed)
    return out
