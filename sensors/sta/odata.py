"""SensorThings query options: ``$filter`` and ``$orderby`` expressions, ``$expand``,
``$select``, ``$top``, ``$skip``, ``$count``.

Expressions are parsed by odata-query's OData grammar (lexer, parser, AST: the part a library
does well); the AST is turned into Django expressions here because SensorThings needs what a
generic OData-to-Django translator does not have: camelCase properties mapped onto our
columns, JSON results compared as numbers or text, time intervals, the ``st_*`` spatial
functions on PostGIS, and navigation across to-many relations as EXISTS over the *visible*
rows of the target (so a filter never reveals a private datastream).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db.models import (
    BooleanField,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    TextField,
    Value,
    functions,
    lookups,
)
from django.db.models.fields.json import KeyTransform
from django.utils.dateparse import parse_date, parse_datetime, parse_time
from odata_query import ast, grammar
from odata_query import exceptions as odata_errors

from .entities import ENTITY_TYPES, EntityType, Nav
from .errors import bad_request

# SensorThings' functions beyond OData v4's (18-088, Table 25): the OData 3 substringof and the
# spatial relationship functions (arity checks are the parser's)
grammar.ODATA_FUNCTIONS.update(
    {
        "substringof": 2,
        "st_equals": 2,
        "st_disjoint": 2,
        "st_touches": 2,
        "st_within": 2,
        "st_overlaps": 2,
        "st_crosses": 2,
        "st_intersects": 2,
        "st_contains": 2,
        "st_relate": 3,
    }
)

MAX_TOP = 10_000
DEFAULT_TOP = 100


def parse_expression(text: str, option: str) -> ast._Node:
    # SensorThings names the id @iot.id; OData identifiers cannot start with @
    text = re.sub(r"(?<![\w'])@iot\.id\b", "id", text)
    try:
        return grammar.ODataParser().parse(grammar.ODataLexer().tokenize(text))
    except odata_errors.ODataException as exc:
        raise bad_request(f"{option}: {exc}", option) from None
    except Exception as exc:  # the parser's own errors on odd input (sly raises plain errors)
        raise bad_request(f"{option}: cannot parse {text!r} ({exc})", option) from None


# ---------------------------------------------------------------------------------------------
# typed values
# ---------------------------------------------------------------------------------------------


@dataclass
class Val:
    """An expression and its kind: text, number, bool, time, date, timeofday, json, geometry,
    interval (``expr`` start, ``end`` end), null."""

    expr: Any
    kind: str
    end: Any = None


def _path(node: ast._Node) -> list[str] | None:
    if isinstance(node, ast.Identifier):
        return [*node.namespace, node.name] if node.namespace else [node.name]
    if isinstance(node, ast.Attribute):
        owner = _path(node.owner)
        return None if owner is None else [*owner, node.attr]
    return None


def _paths(node: ast._Node) -> list[list[str]]:
    """The property paths in an expression (not a function's own name)."""
    path = _path(node)
    if path is not None:
        return [path]
    found = []
    if isinstance(node, ast.Call):
        for arg in node.args:
            found.extend(_paths(arg))
        return found
    if dataclasses.is_dataclass(node):
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, ast._Node):
                found.extend(_paths(value))
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast._Node):
                        found.extend(_paths(item))
    return found


def _strip(node: ast._Node, n: int) -> ast._Node:
    """The expression with the first ``n`` segments of every property path removed."""
    path = _path(node)
    if path is not None:
        rest = path[n:]
        out: ast._Node = ast.Identifier(rest[0])
        for seg in rest[1:]:
            out = ast.Attribute(out, seg)
        return out
    if isinstance(node, ast.Call):
        return ast.Call(node.func, [_strip(a, n) for a in node.args])
    if dataclasses.is_dataclass(node):
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, ast._Node):
                changes[f.name] = _strip(value, n)
            elif isinstance(value, list):
                changes[f.name] = [_strip(v, n) if isinstance(v, ast._Node) else v for v in value]
        return dataclasses.replace(node, **changes)
    return node


def _json_num(expr) -> Func:
    return Func(expr, function="sensors_jsonb_num", output_field=FloatField())


def _json_text(expr) -> Func:
    return Func(expr, function="sensors_jsonb_text", output_field=TextField())


def _json_bool(expr) -> Func:
    return Func(expr, function="sensors_jsonb_bool", output_field=BooleanField())


def _as(val: Val, kind: str, option: str):
    """The expression of ``val`` read as ``kind`` (JSON values are cast)."""
    if val.kind == "json":
        if kind == "number":
            return _json_num(val.expr)
        if kind == "bool":
            return _json_bool(val.expr)
        if kind == "time":
            return functions.Cast(_json_text(val.expr), output_field=_datetime_field())
        return _json_text(val.expr)
    if val.kind == "interval":
        return val.expr
    return val.expr


def _datetime_field():
    from django.db.models import DateTimeField

    return DateTimeField()


_COMPARE = {
    ast.Eq: lookups.Exact,
    ast.Lt: lookups.LessThan,
    ast.LtE: lookups.LessThanOrEqual,
    ast.Gt: lookups.GreaterThan,
    ast.GtE: lookups.GreaterThanOrEqual,
}

_SPATIAL = {
    "st_equals": "ST_Equals",
    "st_disjoint": "ST_Disjoint",
    "st_touches": "ST_Touches",
    "st_within": "ST_Within",
    "st_overlaps": "ST_Overlaps",
    "st_crosses": "ST_Crosses",
    "st_intersects": "ST_Intersects",
    "st_contains": "ST_Contains",
    "geo.intersects": "ST_Intersects",
}
_EXTRACT = {"year": "year", "month": "month", "day": "day", "hour": "hour", "minute": "minute"}


@dataclass
class Translator:
    """Turns an OData expression over ``entity`` into Django Q objects and expressions."""

    entity: EntityType
    user: Any
    option: str = "$filter"
    prefix: str = ""
    _now: datetime = field(default_factory=lambda: datetime.now(UTC))

    # -- boolean expressions ------------------------------------------------------------------

    def q(self, node: ast._Node) -> Q:
        if isinstance(node, ast.BoolOp):
            left, right = self.q(node.left), self.q(node.right)
            return left & right if isinstance(node.op, ast.And) else left | right
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.q(node.operand)
        many = self._to_many(node)
        if many is not None:
            return self._exists(node, *many)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call | ast.Identifier | ast.Attribute):
            val = self.value(node)
            if val.kind not in ("bool", "json"):
                raise bad_request(f"{self.option}: {_show(node)} is not true/false", self.option)
            return Q(lookups.Exact(_as(val, "bool", self.option), True))
        if isinstance(node, ast.Boolean):
            return Q() if node.val.lower() == "true" else Q(pk__in=[])
        raise bad_request(f"{self.option}: {_show(node)} is not a condition", self.option)

    def _to_many(self, node: ast._Node) -> tuple[int, str, Nav] | None:
        """(segments up to and with the nav, to-one lookup prefix, nav) of the first to-many
        navigation in the node's property paths."""
        found = None
        for path in _paths(node):
            entity, prefix = self.entity, ""
            for i, seg in enumerate(path[:-1]):
                nav = entity.navs.get(seg)
                if nav is None:
                    break
                if nav.many:
                    hit = (i + 1, prefix, nav)
                    if found is not None and (found[0], found[1], found[2].name) != (
                        hit[0],
                        hit[1],
                        hit[2].name,
                    ):
                        raise bad_request(
                            f"{self.option}: one comparison may follow one to-many path",
                            self.option,
                        )
                    found = hit
                    break
                prefix += nav.field + "__"
                entity = ENTITY_TYPES[nav.target]
        return found

    def _exists(self, node: ast._Node, n: int, prefix: str, nav: Nav) -> Q:
        target = ENTITY_TYPES[nav.target]
        inner = Translator(target, self.user, self.option, _now=self._now)
        condition = inner.q(_strip(node, n))
        outer = OuterRef(f"{self.prefix}{prefix}pk") if (self.prefix or prefix) else OuterRef("pk")
        subquery = target.visible(self.user).filter(**{nav.reverse: outer}).filter(condition)
        return Q(Exists(subquery))

    def _compare(self, node: ast.Compare) -> Q:
        left, right = self.value(node.left), self.value(node.right)
        op = type(node.comparator)
        if isinstance(node.comparator, ast.In):
            raise bad_request(f"{self.option}: 'in' is not a SensorThings operator", self.option)
        if right.kind == "null" or left.kind == "null":
            other = left if right.kind == "null" else right
            if op not in (ast.Eq, ast.NotEq):
                raise bad_request(f"{self.option}: null only compares with eq/ne", self.option)
            q = Q(lookups.IsNull(other.expr, True))
            return q if op is ast.Eq else ~q
        if left.kind == "interval" or right.kind == "interval":
            return self._compare_interval(left, right, op)
        kind = _common_kind(left, right)
        lhs, rhs = _as(left, kind, self.option), _as(right, kind, self.option)
        if op is ast.NotEq:
            return ~Q(lookups.Exact(lhs, rhs)) & Q(lookups.IsNull(lhs, False))
        return Q(_COMPARE[op](lhs, rhs))

    def _compare_interval(self, left: Val, right: Val, op) -> Q:
        # an interval against an instant (FROST's reading): eq = the instant lies inside,
        # gt = the interval starts after it, lt = it ends before it
        if left.kind != "interval":
            flip = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
            left, right, op = right, left, flip.get(op, op)
        if right.kind == "interval":
            raise bad_request(f"{self.option}: cannot compare two intervals", self.option)
        start, end = left.expr, functions.Coalesce(left.end, left.expr)
        t = _as(right, "time", self.option)
        inside = Q(lookups.LessThanOrEqual(start, t)) & Q(lookups.GreaterThanOrEqual(end, t))
        return {
            ast.Eq: inside,
            ast.NotEq: ~inside,
            ast.Gt: Q(lookups.GreaterThan(start, t)),
            ast.GtE: Q(lookups.GreaterThanOrEqual(start, t)),
            ast.Lt: Q(lookups.LessThan(end, t)),
            ast.LtE: Q(lookups.LessThanOrEqual(end, t)),
        }[op]

    # -- values -------------------------------------------------------------------------------

    def value(self, node: ast._Node) -> Val:
        path = _path(node)
        if path is not None:
            return self._property(path)
        if isinstance(node, ast.Null):
            return Val(None, "null")
        if isinstance(node, ast.String):
            return Val(Value(node.val, output_field=TextField()), "text")
        if isinstance(node, ast.Integer):
            return Val(Value(int(node.val), output_field=FloatField()), "number")
        if isinstance(node, ast.Float):
            return Val(Value(float(node.val), output_field=FloatField()), "number")
        if isinstance(node, ast.Boolean):
            return Val(Value(node.val.lower() == "true", output_field=BooleanField()), "bool")
        if isinstance(node, ast.DateTime):
            parsed = parse_datetime(node.val)
            if parsed is None:
                raise bad_request(f"{self.option}: bad date-time {node.val}", self.option)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return Val(Value(parsed, output_field=_datetime_field()), "time")
        if isinstance(node, ast.Date):
            from django.db.models import DateField

            return Val(Value(parse_date(node.val), output_field=DateField()), "date")
        if isinstance(node, ast.Time):
            from django.db.models import TimeField

            parsed_t = parse_time(node.val)
            return Val(Value(parsed_t or time(0), output_field=TimeField()), "timeofday")
        if isinstance(node, ast.Duration):
            from django.db.models import DurationField

            return Val(
                Value(_duration(node, self.option), output_field=DurationField()), "duration"
            )
        if isinstance(node, ast.Geography):
            try:
                geom = GEOSGeometry(node.val, srid=4326)
            except (GEOSException, ValueError) as exc:
                raise bad_request(
                    f"{self.option}: bad geography {node.val!r} ({exc})", self.option
                ) from None
            return Val(Value(geom, output_field=GeometryField(srid=4326)), "geometry")
        if isinstance(node, ast.BinOp):
            return self._arith(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.value(node.operand)
            return Val(Value(0.0) - _as(operand, "number", self.option), "number")
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Compare | ast.BoolOp) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
        ):
            return Val(functions.Cast(self.q(node), BooleanField()), "bool")
        raise bad_request(f"{self.option}: {_show(node)} is not supported", self.option)

    def _property(self, path: list[str]) -> Val:
        entity, prefix = self.entity, self.prefix
        for i, seg in enumerate(path):
            if seg in ("id", "@iot.id"):
                return Val(F(prefix + "id"), "number")
            nav = entity.navs.get(seg)
            if nav is not None:
                if nav.many:
                    raise bad_request(
                        f"{self.option}: {'/'.join(path)} ends at a collection", self.option
                    )
                if i == len(path) - 1:
                    raise bad_request(
                        f"{self.option}: {'/'.join(path)} is an entity, not a value", self.option
                    )
                prefix += nav.field + "__"
                entity = ENTITY_TYPES[nav.target]
                continue
            prop = entity.props.get(seg)
            if prop is None:
                raise bad_request(
                    f"{self.option}: {entity.singular} has no property {seg!r}", self.option
                )
            rest = path[i + 1 :]
            if prop.kind == "geojson":
                return Val(F(prefix + prop.geo_field), "geometry")
            if prop.kind == "geometry":
                return Val(F(prefix + prop.field), "geometry")
            if prop.kind == "interval":
                return Val(F(prefix + prop.field), "interval", F(prefix + prop.end_field))
            if prop.kind == "range":
                rng = F(prefix + prop.field)
                return Val(
                    Func(rng, function="lower", output_field=_datetime_field()),
                    "interval",
                    Func(rng, function="upper", output_field=_datetime_field()),
                )
            if prop.kind == "time":
                return Val(F(prefix + prop.field), "time")
            if prop.kind in ("json", "object", "result"):
                expr: Expression = F(prefix + prop.field)
                for key in rest:
                    expr = KeyTransform(key, expr)
                return Val(expr, "json")
            if rest:
                raise bad_request(f"{self.option}: {seg} has no sub-properties", self.option)
            return Val(F(prefix + prop.field), "text")
        raise bad_request(f"{self.option}: empty property path", self.option)

    def _arith(self, node: ast.BinOp) -> Val:
        left, right = self.value(node.left), self.value(node.right)
        if (
            left.kind in ("time", "interval")
            and right.kind == "duration"
            and isinstance(node.op, ast.Add | ast.Sub)
        ):
            expr = (
                left.expr + right.expr if isinstance(node.op, ast.Add) else left.expr - right.expr
            )
            return Val(functions.Cast(expr, _datetime_field()), "time")
        lhs = functions.Cast(_as(left, "number", self.option), FloatField())
        rhs = functions.Cast(_as(right, "number", self.option), FloatField())
        if isinstance(node.op, ast.Add):
            expr = lhs + rhs
        elif isinstance(node.op, ast.Sub):
            expr = lhs - rhs
        elif isinstance(node.op, ast.Mult):
            expr = lhs * rhs
        elif isinstance(node.op, ast.Div):
            expr = lhs / functions.NullIf(rhs, Value(0.0))
        elif isinstance(node.op, ast.Mod):
            expr = functions.Mod(lhs, functions.NullIf(rhs, Value(0.0)))
        else:
            raise bad_request(f"{self.option}: operator {node.op} not supported", self.option)
        return Val(functions.Cast(expr, FloatField()), "number")

    def _call(self, node: ast.Call) -> Val:
        name = node.func.full_name().lower()
        args = [self.value(a) for a in node.args]
        opt = self.option

        def text(i: int):
            return _as(args[i], "text", opt)

        def num(i: int):
            return _as(args[i], "number", opt)

        def tm(i: int):
            if args[i].kind not in ("time", "json", "interval"):
                raise bad_request(f"{opt}: {name}() needs a date-time", opt)
            return _as(args[i], "time", opt)

        if name in ("substringof", "contains"):
            hay, needle = (text(1), text(0)) if name == "substringof" else (text(0), text(1))
            return Val(lookups.Contains(hay, needle), "bool")
        if name == "startswith":
            return Val(lookups.StartsWith(text(0), text(1)), "bool")
        if name == "endswith":
            return Val(lookups.EndsWith(text(0), text(1)), "bool")
        if name == "length":
            return Val(functions.Length(text(0)), "number")
        if name == "indexof":
            return Val(functions.StrIndex(text(0), text(1)) - 1, "number")
        if name == "substring":
            start = functions.Cast(num(1), IntegerField()) + 1
            if len(args) == 3:
                length = functions.Cast(num(2), IntegerField())
                return Val(
                    Func(text(0), start, length, function="SUBSTRING", output_field=TextField()),
                    "text",
                )
            return Val(Func(text(0), start, function="SUBSTRING", output_field=TextField()), "text")
        if name == "tolower":
            return Val(functions.Lower(text(0)), "text")
        if name == "toupper":
            return Val(functions.Upper(text(0)), "text")
        if name == "trim":
            return Val(functions.Trim(text(0)), "text")
        if name == "concat":
            return Val(functions.Concat(text(0), text(1), output_field=TextField()), "text")
        if name in _EXTRACT:
            return Val(functions.Extract(tm(0), _EXTRACT[name]), "number")
        if name == "second":
            return Val(functions.Floor(functions.Extract(tm(0), "second")), "number")
        if name == "fractionalseconds":
            sec = functions.Extract(tm(0), "second", output_field=FloatField())
            return Val(sec - functions.Floor(sec), "number")
        if name == "date":
            return Val(functions.TruncDate(tm(0), tzinfo=UTC), "date")
        if name == "time":
            return Val(functions.TruncTime(tm(0), tzinfo=UTC), "timeofday")
        if name == "totaloffsetminutes":
            tm(0)
            return Val(Value(0.0), "number")  # times are stored and given in UTC
        if name == "now":
            return Val(Value(self._now, output_field=_datetime_field()), "time")
        if name == "mindatetime":
            return Val(Value(datetime(1, 1, 1, tzinfo=UTC), output_field=_datetime_field()), "time")
        if name == "maxdatetime":
            return Val(
                Value(
                    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), output_field=_datetime_field()
                ),
                "time",
            )
        if name == "round":
            return Val(functions.Round(num(0)), "number")
        if name == "floor":
            return Val(functions.Floor(num(0)), "number")
        if name == "ceiling":
            return Val(functions.Ceil(num(0)), "number")
        if name in _SPATIAL or name in ("st_relate", "geo.distance", "geo.length"):
            geoms = [a.expr for a in args if a.kind == "geometry"]
            wanted = 1 if name == "geo.length" else 2
            if len(geoms) < wanted:
                raise bad_request(f"{opt}: {name}() takes geometries", opt)
            if name == "geo.distance":
                return Val(
                    Func(
                        *[_geography(g) for g in geoms],
                        function="ST_Distance",
                        output_field=FloatField(),
                    ),
                    "number",
                )
            if name == "geo.length":
                return Val(
                    Func(_geography(geoms[0]), function="ST_Length", output_field=FloatField()),
                    "number",
                )
            if name == "st_relate":
                return Val(
                    Func(*geoms, text(2), function="ST_Relate", output_field=BooleanField()),
                    "bool",
                )
            return Val(Func(*geoms, function=_SPATIAL[name], output_field=BooleanField()), "bool")
        raise bad_request(f"{opt}: function {name}() is not supported", opt)


def _geography(expr):
    return Func(expr, template="(%(expressions)s)::geography", output_field=GeometryField())


def _duration(node: ast.Duration, option: str) -> timedelta:
    try:
        return node.py_val
    except (TypeError, ValueError):
        raise bad_request(f"{option}: bad duration {node.val!r}", option) from None


def _common_kind(left: Val, right: Val) -> str:
    kinds = {left.kind, right.kind} - {"json"}
    if not kinds:
        return "text"
    if len(kinds) == 1:
        return kinds.pop()
    if "number" in kinds:
        return "number"
    if "time" in kinds:
        return "time"
    return "text"


def _show(node: ast._Node) -> str:
    path = _path(node)
    return "/".join(path) if path else type(node).__name__


# ---------------------------------------------------------------------------------------------
# $orderby, $select, $expand, paging
# ---------------------------------------------------------------------------------------------


def split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside parentheses and quotes."""
    parts, depth, quote, cur = [], 0, False, []
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def order_by(entity: EntityType, user, text: str) -> list:
    keys = []
    tr = Translator(entity, user, "$orderby")
    for part in split_top(text, ","):
        words = part.rsplit(None, 1)
        direction = "asc"
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            part, direction = words[0], words[1].lower()
        val = tr.value(parse_expression(part, "$orderby"))
        if val.kind == "json":
            # numbers in numeric order, then the rest as text
            exprs = [_json_num(val.expr), _json_text(val.expr)]
        else:
            exprs = [val.expr]
        for e in exprs:
            keys.append(e.desc(nulls_last=True) if direction == "desc" else e.asc(nulls_last=True))
    return keys


@dataclass
class Options:
    """The query options of one collection or entity (nested in $expand)."""

    filter: str | None = None
    orderby: str | None = None
    top: int | None = None
    skip: int = 0
    count: bool = False
    select: list[str] | None = None
    expand: dict[str, Options] = field(default_factory=dict)


KNOWN = {"$filter", "$orderby", "$top", "$skip", "$count", "$select", "$expand", "$resultFormat"}


def parse_options(params: dict[str, str], entity: EntityType) -> Options:
    opts = Options()
    for key in params:
        if key.startswith("$") and key not in KNOWN:
            raise bad_request(f"{key}: unknown query option", key)
    if params.get("$resultFormat"):
        raise bad_request("$resultFormat: not supported (no dataArray)", "$resultFormat")
    if "$filter" in params:
        opts.filter = params["$filter"]
    if "$orderby" in params:
        opts.orderby = params["$orderby"]
    if "$top" in params:
        opts.top = _non_negative(params["$top"], "$top")
    if "$skip" in params:
        opts.skip = _non_negative(params["$skip"], "$skip")
    if "$count" in params:
        value = params["$count"].strip().lower()
        if value not in ("true", "false"):
            raise bad_request("$count: expected true or false", "$count")
        opts.count = value == "true"
    if "$select" in params:
        opts.select = _select(params["$select"], entity)
    if "$expand" in params:
        opts.expand = parse_expand(params["$expand"], entity)
    return opts


def _non_negative(text: str, name: str) -> int:
    if not text.strip().isdigit():
        raise bad_request(f"{name}: expected a non-negative integer", name)
    return int(text)


def _select(text: str, entity: EntityType) -> list[str]:
    names = split_top(text, ",")
    for name in names:
        if name in ("id", "@iot.id", "@iot.selfLink"):
            continue
        if name not in entity.props and name not in entity.navs:
            raise bad_request(f"$select: {entity.singular} has no property {name!r}", "$select")
    return names


def parse_expand(text: str, entity: EntityType) -> dict[str, Options]:
    out: dict[str, Options] = {}
    for item in split_top(text, ","):
        options_text = None
        if item.endswith(")") and "(" in item:
            head, options_text = item.split("(", 1)
            options_text = options_text[:-1]
        else:
            head = item
        segments = [s.strip() for s in head.split("/")]
        current, target_opts = entity, out
        for i, seg in enumerate(segments):
            nav = current.navs.get(seg)
            if nav is None:
                raise bad_request(f"$expand: {current.singular} has no relation {seg!r}", "$expand")
            target = ENTITY_TYPES[nav.target]
            opts = target_opts.setdefault(seg, Options())
            if i == len(segments) - 1 and options_text:
                params = {}
                for part in split_top(options_text, ";"):
                    if "=" not in part:
                        raise bad_request(f"$expand: bad option {part!r}", "$expand")
                    k, v = part.split("=", 1)
                    params[k.strip()] = v.strip()
                nested = parse_options(params, target)
                nested.expand = {**opts.expand, **nested.expand}
                target_opts[seg] = opts = nested
            target_opts, current = opts.expand, target
    return out
