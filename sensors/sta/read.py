"""Reading: resource paths (``Things(1)/Datastreams``), entities as JSON with their control
information (@iot.id, selfLink, navigationLinks), collections with paging, $expand/$select."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Model, QuerySet

from .entities import ENTITY_TYPES, EntityType, Nav, Prop
from .errors import bad_request, not_found
from .odata import DEFAULT_TOP, MAX_TOP, Options, Translator, order_by, parse_expression

SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>[^()]*)\))?$")


@dataclass
class Context:
    user: Any
    base: str  # service root URL, no trailing slash
    #: (model, pk) of the entities created by this request (deep insert)
    created: set = field(default_factory=set)


@dataclass
class Resolved:
    """What a resource path names. kind: collection, entity or property."""

    kind: str
    entity: EntityType
    queryset: QuerySet | None = None
    obj: Model | None = None
    prop: Prop | None = None
    json_keys: tuple[str, ...] = ()
    parent: tuple[Model, Nav] | None = None
    value: bool = False
    ref: bool = False


def parse_id(text: str, entity: EntityType) -> int:
    text = text.strip().strip("'")
    if not text.isdigit():
        raise bad_request(f"{entity.singular} id: {text!r} is not an integer", "@iot.id")
    return int(text)


def related(ctx: Context, obj: Model, nav: Nav) -> QuerySet:
    """The visible targets of ``nav`` from ``obj``."""
    target = ENTITY_TYPES[nav.target]
    if nav.many:
        return target.visible(ctx.user).filter(**{nav.reverse: obj.pk})
    return target.visible(ctx.user).filter(pk=getattr(obj, f"{nav.field}_id"))


def resolve(ctx: Context, path: str) -> Resolved:
    segments = [s for s in path.strip("/").split("/") if s]
    if not segments:
        raise not_found("no resource path")
    flags = {"value": False, "ref": False}
    while segments and segments[-1] in ("$value", "$ref"):
        flags[segments.pop()[1:]] = True
    m = SEGMENT.match(segments[0])
    if m is None or m["name"] not in ENTITY_TYPES:
        raise not_found(f"no entity set {segments[0]!r}")
    entity = ENTITY_TYPES[m["name"]]
    if m["id"] is None:
        state = Resolved("collection", entity, queryset=entity.visible(ctx.user))
    else:
        obj = entity.visible(ctx.user).filter(pk=parse_id(m["id"], entity)).first()
        if obj is None:
            raise not_found(f"{entity.singular} {m['id']} not found")
        state = Resolved("entity", entity, obj=obj)
    for seg in segments[1:]:
        if state.kind == "property":
            if state.prop.kind not in ("json", "object", "result"):
                raise not_found(f"{state.prop.name} has no sub-property {seg!r}")
            state.json_keys = (*state.json_keys, seg)
            continue
        if state.kind != "entity":
            raise not_found(f"cannot follow {seg!r} from a collection")
        m = SEGMENT.match(seg)
        name = m["name"] if m else seg
        nav = state.entity.navs.get(name)
        if nav is not None:
            target = ENTITY_TYPES[nav.target]
            qs = related(ctx, state.obj, nav)
            if nav.many and (m is None or m["id"] is None):
                state = Resolved("collection", target, queryset=qs, parent=(state.obj, nav))
                continue
            if m is not None and m["id"] is not None:
                qs = qs.filter(pk=parse_id(m["id"], target))
            obj = qs.first()
            if obj is None:
                raise not_found(f"{state.entity.singular} {state.obj.pk} has no {name}")
            state = Resolved("entity", target, obj=obj)
            continue
        prop = state.entity.props.get(seg)
        if prop is None and seg == "id":
            prop = Prop("@iot.id", "pk")
        if prop is None:
            raise not_found(f"{state.entity.singular} has no property or relation {seg!r}")
        state = Resolved("property", state.entity, obj=state.obj, prop=prop)
    state.value, state.ref = flags["value"], flags["ref"]
    if state.value and state.kind != "property":
        raise bad_request("$value follows a property", "$value")
    if state.ref and state.kind == "property":
        raise bad_request("$ref follows an entity or a collection", "$ref")
    return state


def self_link(ctx: Context, entity: EntityType, obj: Model) -> str:
    return f"{ctx.base}/{entity.set_name}({obj.pk})"


def entity_json(ctx: Context, entity: EntityType, obj: Model, opts: Options) -> dict:
    out: dict[str, Any] = {}
    sel = opts.select
    link = self_link(ctx, entity, obj)
    if sel is None or "id" in sel or "@iot.id" in sel:
        out["@iot.id"] = obj.pk
    if sel is None or "@iot.selfLink" in sel:
        out["@iot.selfLink"] = link
    for name, prop in entity.props.items():
        if sel is None or name in sel:
            out[name] = prop.to_json(obj)
    for name, nav in entity.navs.items():
        if name in opts.expand:
            nested = opts.expand[name]
            target = ENTITY_TYPES[nav.target]
            qs = related(ctx, obj, nav)
            if nav.many:
                page = collection_json(ctx, target, qs, nested, f"{link}/{name}")
                out[name] = page["value"]
                if "@iot.count" in page:
                    out[f"{name}@iot.count"] = page["@iot.count"]
                if "@iot.nextLink" in page:
                    out[f"{name}@iot.nextLink"] = page["@iot.nextLink"]
            else:
                child = qs.first()
                out[name] = entity_json(ctx, target, child, nested) if child is not None else None
        elif sel is None or name in sel:
            out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    return out


def apply_options(ctx: Context, entity: EntityType, qs: QuerySet, opts: Options) -> QuerySet:
    if opts.filter:
        tr = Translator(entity, ctx.user)
        qs = qs.filter(tr.q(parse_expression(opts.filter, "$filter")))
    keys = order_by(entity, ctx.user, opts.orderby) if opts.orderby else []
    return qs.order_by(*keys, "pk")


def collection_json(
    ctx: Context,
    entity: EntityType,
    qs: QuerySet,
    opts: Options,
    url: str,
    params: dict[str, str] | None = None,
    refs: bool = False,
) -> dict:
    qs = apply_options(ctx, entity, qs, opts)
    top = DEFAULT_TOP if opts.top is None else min(opts.top, MAX_TOP)
    out: dict[str, Any] = {}
    if opts.count:
        out["@iot.count"] = qs.count()
    rows = list(qs[opts.skip : opts.skip + top + 1])
    more = len(rows) > top
    rows = rows[:top]
    if refs:
        out["value"] = [{"@iot.selfLink": self_link(ctx, entity, r)} for r in rows]
    else:
        out["value"] = [entity_json(ctx, entity, r, opts) for r in rows]
    if more:
        query = dict(params or {})
        query["$top"] = str(top)
        query["$skip"] = str(opts.skip + top)
        out["@iot.nextLink"] = f"{url}?{urlencode(query)}"
    return out
