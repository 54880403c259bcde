"""Create (with deep insert and links by @iot.id), update (PATCH, PUT) and delete.

Every Observation goes through ``sensors.ingest.store_observations`` (the one writer), so the
latest value, the NOTIFY and the idempotency key hold on this path too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Model

from .. import models as m
from ..access import can_change, can_delete, can_write
from ..ingest import ObservationRejected, refresh_latest, store_observations
from .entities import ENTITY_TYPES, EntityType, Nav
from .errors import StaError, bad_request
from .read import Context

#: CityTwin's own keys on a Datastream (not in SensorThings: who may read it, how long kept)
DATASTREAM_EXTRAS = {"visibility", "retentionDays"}


def _forbidden(message: str) -> StaError:
    return StaError(403, message)


def require_writer(ctx: Context) -> None:
    if not can_write(ctx.user):
        raise StaError(401, "sign in to write (Authorization: Token ...)")


def _is_link(data: Any) -> bool:
    return isinstance(data, dict) and "@iot.id" in data and len(set(data) - {"@iot.selfLink"}) == 1


def _linked(ctx: Context, entity: EntityType, data: dict, field: str) -> Model:
    ident = data["@iot.id"]
    if isinstance(ident, str) and ident.isdigit():
        ident = int(ident)
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise bad_request(f"{field}: @iot.id must be an integer", field)
    obj = entity.visible(ctx.user).filter(pk=ident).first()
    if obj is None:
        raise bad_request(f"{field}: no {entity.singular} with @iot.id {ident}", field)
    return obj


def _check_keys(entity: EntityType, data: dict, where: str) -> None:
    allowed = set(entity.props) | set(entity.navs) | {"@iot.id", "@iot.selfLink"}
    allowed |= rules_of(entity).extra_keys
    for key in data:
        if key not in allowed and not key.endswith("@iot.navigationLink"):
            raise bad_request(f"{where}{key}: {entity.singular} has no such property", key)


def _datastream_extras(data: dict, values: dict) -> None:
    if "visibility" in data:
        if data["visibility"] not in (m.Visibility.PUBLIC, m.Visibility.PRIVATE):
            raise bad_request("visibility: expected public or private", "visibility")
        values["visibility"] = data["visibility"]
    if "retentionDays" in data:
        days = data["retentionDays"]
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise bad_request("retentionDays: expected a positive integer or null", "retentionDays")
        values["retention_days"] = days


def create(
    ctx: Context,
    entity: EntityType,
    data: Any,
    parent: tuple[Model, Nav] | None = None,
    where: str = "",
) -> Model:
    """Create ``entity`` from ``data`` (deep insert); ``parent`` is the entity whose
    navigation collection it is posted to (``Things(1)/Datastreams``)."""
    if not isinstance(data, dict):
        name = where.rstrip("/") or "body"
        raise bad_request(f"{name}: expected a JSON object", name)
    if _is_link(data):
        return _linked(ctx, entity, data, where.rstrip("/") or "@iot.id")
    _check_keys(entity, data, where)
    if "@iot.id" in data:
        raise bad_request(f"{where}@iot.id: set by the service", "@iot.id")
    values: dict[str, Any] = {}
    for name, prop in entity.props.items():
        if name in data:
            values.update(prop.from_json(data[name]))
        elif prop.required:
            raise bad_request(f"{where}{name}: required", name)
    rules = rules_of(entity)
    if rules.extras is not None:
        rules.extras(data, values)
    if rules.check is not None:
        rules.check(values, where)
    # the parent's side of the relation: its reverse navigation on this entity
    back = None
    if parent is not None:
        pobj, pnav = parent
        back = next(
            (n for n in entity.navs.values() if n.field == pnav.reverse),
            None,
        )
    to_one: dict[str, Model] = {}
    for name, nav in entity.navs.items():
        if nav.many:
            continue
        target = ENTITY_TYPES[nav.target]
        if name in data:
            to_one[nav.field] = create(ctx, target, data[name], where=f"{where}{name}/")
        elif back is not None and back.name == name:
            to_one[nav.field] = parent[0]
        elif nav.required:
            raise bad_request(f"{where}{name}: required (an entity or {{'@iot.id': ...}})", name)
    thing = to_one.get("thing")
    if thing is not None and (m.Thing, thing.pk) not in ctx.created:
        # a new Datastream or HistoricalLocation changes an existing Thing: its owner's call
        if not can_change(ctx.user, thing):
            raise _forbidden(f"{where}Thing: you may not change Thing {thing.pk}")
    if rules.make is not None:
        obj = rules.make(ctx, values, to_one, where)
    else:
        obj = entity.model(**values, **to_one)
        if hasattr(obj, "owner_id"):
            obj.owner = ctx.user
        obj.save()
    ctx.created.add((entity.model, obj.pk))
    # to-many: nested entities or links, then the parent's many-to-many side
    for name, nav in entity.navs.items():
        if not nav.many or name not in data:
            continue
        items = data[name]
        if not isinstance(items, list):
            raise bad_request(f"{where}{name}: expected a list", name)
        for i, item in enumerate(items):
            _add_related(ctx, obj, entity, nav, item, f"{where}{name}[{i}]/")
    if parent is not None and back is not None and back.many:
        pobj = parent[0]
        if (
            isinstance(pobj, m.Thing)
            and (m.Thing, pobj.pk) not in ctx.created
            and not can_change(ctx.user, pobj)
        ):
            raise _forbidden(f"{where}Things: you may not change Thing {pobj.pk}")
        getattr(obj, back.field).add(pobj)
    if rules.after_create is not None:
        rules.after_create(ctx, obj, data)
    return obj


def _add_related(ctx: Context, obj: Model, entity: EntityType, nav: Nav, item: Any, where: str):
    target = ENTITY_TYPES[nav.target]
    if _is_link(item):
        child = _linked(ctx, target, item, where.rstrip("/"))
        relation = getattr(obj, nav.field)
        if hasattr(relation, "add") and target.model._meta.get_field(nav.reverse).many_to_many:
            if isinstance(child, m.Thing) and not can_change(ctx.user, child):
                raise _forbidden(f"{where}: you may not change Thing {child.pk}")
            relation.add(child)
        else:  # a to-one on the child: moving it needs the right to change it
            if not can_change(ctx.user, child):
                raise _forbidden(f"{where}: you may not change {target.singular} {child.pk}")
            setattr(child, nav.reverse, obj)
            child.save(update_fields=[f"{nav.reverse}"])
        return child
    return create(ctx, target, item, parent=(obj, nav), where=where)


def _thing_history(ctx: Context, thing: m.Thing, data: dict) -> None:
    """A Thing given Locations (created or PATCHed) records a HistoricalLocation now
    (18-088, create-update-delete/historical-location-auto-creation)."""
    if data.get("Locations"):
        hl = m.HistoricalLocation.objects.create(
            time=datetime.now(UTC), thing=thing, owner=thing.owner
        )
        hl.locations.set(thing.locations.all())


def _location_history(ctx: Context, location: m.Location, data: dict) -> None:
    """A Location given to existing Things records a HistoricalLocation for each (a Thing
    created in the same request records its own)."""
    now = datetime.now(UTC)
    for thing in location.things.all():
        if (m.Thing, thing.pk) not in ctx.created:
            hl = m.HistoricalLocation.objects.create(time=now, thing=thing, owner=location.owner)
            hl.locations.add(location)


def _create_observation(ctx: Context, values: dict, to_one: dict, where: str) -> m.Observation:
    ds: m.Datastream = to_one["datastream"]
    if not can_change(ctx.user, ds):
        raise _forbidden(f"{where}Datastream: you may not add observations to datastream {ds.pk}")
    start = values.get("phenomenon_time") or datetime.now(UTC)
    row = {
        "phenomenon_time": start,
        "phenomenon_time_end": values.get("phenomenon_time_end"),
        "result": values.get("result"),
        "result_time": values.get("result_time"),
        "result_quality": values.get("result_quality"),
        "parameters": values.get("parameters"),
        "feature_of_interest": to_one.get("feature_of_interest"),
    }
    vt = values.get("valid_time")
    if vt is not None:
        row["valid_time"] = (vt.lower, vt.upper)
    if row["feature_of_interest"] is None and not ds.thing.locations.exists():
        raise bad_request(
            f"{where}FeatureOfInterest: required (the Thing has no Location to use instead)",
            "FeatureOfInterest",
        )
    try:
        stored, _ = store_observations(ds, [row])
    except ObservationRejected as exc:
        raise bad_request(exc.message, exc.field) from None
    if not stored:
        raise StaError(
            409,
            f"{where}phenomenonTime: datastream {ds.pk} already has an observation at "
            f"{start.isoformat()}",
            "phenomenonTime",
        )
    return m.Observation.objects.filter(
        datastream=ds, phenomenon_time=start, sequence__isnull=True
    ).get()


def update(ctx: Context, entity: EntityType, obj: Model, data: Any, put: bool = False) -> Model:
    """PATCH (the given properties) or PUT (all properties; those left out reset)."""
    if not can_change(ctx.user, obj):
        raise _forbidden(f"you may not change {entity.singular} {obj.pk}")
    if not isinstance(data, dict):
        raise bad_request("body: expected a JSON object", "body")
    _check_keys(entity, data, "")
    if "@iot.id" in data and data["@iot.id"] != obj.pk:
        raise bad_request("@iot.id: cannot be changed", "@iot.id")
    values: dict[str, Any] = {}
    for name, prop in entity.props.items():
        if name in data:
            values.update(prop.from_json(data[name]))
        elif put:
            if prop.required:
                raise bad_request(f"{name}: required (PUT replaces the entity)", name)
            values.update(prop.from_json(None))
    rules = rules_of(entity)
    if rules.extras is not None:
        rules.extras(data, values)
    if rules.check is not None:
        rules.check(values, "")
    for name, nav in entity.navs.items():
        if name not in data:
            continue
        target = ENTITY_TYPES[nav.target]
        if nav.many:
            items = data[name]
            if not isinstance(items, list):
                raise bad_request(f"{name}: expected a list", name)
            if name in rules.replaced_on_update:
                getattr(obj, nav.field).clear()
            for i, item in enumerate(items):
                _add_related(ctx, obj, entity, nav, item, f"{name}[{i}]/")
            continue
        child = create(ctx, target, data[name], where=f"{name}/")
        if isinstance(child, m.Datastream) and not can_change(ctx.user, child):
            raise _forbidden(f"Datastream: you may not add observations to datastream {child.pk}")
        values[nav.field] = child
    before = {
        f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.is_relation
    }
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save()
    if rules.after_update is not None:
        rules.after_update(ctx, obj, data, before)
    return obj


def delete(ctx: Context, entity: EntityType, obj: Model) -> None:
    if not can_delete(ctx.user, obj):
        raise _forbidden(
            f"you may not delete {entity.singular} {obj.pk} (or datastreams of others with it)"
        )
    ds_id = getattr(obj, "datastream_id", None)
    obj.delete()
    if ds_id is not None:
        refresh_latest(ds_id)


def _check_observation_type(values: dict, where: str) -> None:
    if "observation_type" in values and values["observation_type"] not in m.OBSERVATION_TYPES:
        raise bad_request(
            f"{where}observationType: not an O&M observation type URI", "observationType"
        )


def _check_geo_encoding(values: dict, where: str) -> None:
    if "encoding_type" in values and values["encoding_type"] not in m.GEO_ENCODINGS:
        raise bad_request(f"{where}encodingType: expected {m.GEOJSON}", "encodingType")


def _observation_moved(ctx: Context, obs: m.Observation, data: dict, before: dict) -> None:
    """The latest values of the datastream(s) the changed observation belongs to."""
    refresh_latest(obs.datastream_id)
    if before.get("datastream_id") != obs.datastream_id:
        refresh_latest(before["datastream_id"])


@dataclass(frozen=True)
class Rules:
    """What one entity type adds to the generic create/update (one entry per type below)."""

    #: CityTwin's own input keys and how they become model values
    extra_keys: frozenset[str] = frozenset()
    extras: Callable[[dict, dict], None] | None = None
    #: validation of the model values (create and update)
    check: Callable[[dict, str], None] | None = None
    #: a creator of its own instead of ``model(**values).save()``
    make: Callable[[Context, dict, dict, str], Model] | None = None
    after_create: Callable[[Context, Model, dict], None] | None = None
    after_update: Callable[[Context, Model, dict, dict], None] | None = None
    #: to-many relations a PATCH replaces rather than extends
    replaced_on_update: frozenset[str] = frozenset()


RULES: dict[str, Rules] = {
    "Things": Rules(
        after_create=_thing_history,
        after_update=lambda ctx, obj, data, before: _thing_history(ctx, obj, data),
        replaced_on_update=frozenset({"Locations"}),
    ),
    "Locations": Rules(check=_check_geo_encoding, after_create=_location_history),
    "FeaturesOfInterest": Rules(check=_check_geo_encoding),
    "Datastreams": Rules(
        extra_keys=frozenset(DATASTREAM_EXTRAS),
        extras=_datastream_extras,
        check=_check_observation_type,
    ),
    "Observations": Rules(make=_create_observation, after_update=_observation_moved),
}
_DEFAULT = Rules()


def rules_of(entity: EntityType) -> Rules:
    return RULES.get(entity.set_name, _DEFAULT)
