"""CQL2 filters (OGC API - Features - Part 3) translated to Django ``Q`` objects.

The filter is parsed by pygeofilter (text or JSON encoding) and evaluated into ORM lookups, so
the database does the filtering. Property names are checked against the collection's
queryables first: an unknown name is a 400, not an SQL error.
"""

from __future__ import annotations

import json
import re

import shapely
import shapely.geometry
import shapely.ops
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import FieldError, ValidationError
from django.db.models import F, Q, QuerySet
from pygeofilter import ast, values
from pygeofilter.backends.django.evaluate import DjangoFilterEvaluator
from pygeofilter.backends.evaluator import handle
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from .crs import Crs
from .errors import OgcError
from .registry import Collection

LANGS = ("cql2-text", "cql2-json")
#: names a filter may use for the geometry besides the collection's own geometry field
GEOMETRY_NAMES = ("geometry", "geom")


def alias_name(index: int) -> str:
    """The queryset alias of the ``index``-th property (free of clashes with model fields)."""
    return f"ogc_q{index}"


def parse(text: str, lang: str) -> ast.AstType:
    """The syntax tree of a CQL2 filter; a 400 that quotes the parser on a syntax error."""
    if lang not in LANGS:
        raise OgcError(f"filter-lang must be one of {', '.join(LANGS)}", field="filter-lang")
    try:
        if lang == "cql2-json":
            return parse_json(json.loads(text))
        return parse_text(text)
    except Exception as exc:  # lark and the JSON parser raise many kinds; all mean bad input
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OgcError(f"filter: {lang} syntax error: {first_line}", field="filter") from exc


def attribute_names(node) -> set[str]:
    """Every property name the filter refers to."""
    found: set[str] = set()
    if isinstance(node, ast.Attribute):
        found.add(node.name)
    for child in getattr(node, "get_sub_nodes", lambda: [])() or []:
        if isinstance(child, list):
            for item in child:
                found |= attribute_names(item)
        else:
            found |= attribute_names(child)
    return found


class _Evaluator(DjangoFilterEvaluator):
    """pygeofilter's Django evaluator with our names, raw literals and a CRS for geometries."""

    def __init__(self, field_mapping: dict[str, str], geometry_crs: Crs, lang: str) -> None:
        super().__init__(field_mapping, None)
        self.geometry_crs = geometry_crs
        self.lang = lang

    @handle(ast.Attribute)
    def attribute(self, node):
        return F(self.field_mapping[node.name])

    @handle(*values.LITERALS)
    def literal(self, node):
        # raw values let Django prepare them for the field (a JSON key, a cast, a column)
        return node

    def _geos(self, geometry) -> GEOSGeometry:
        if self.geometry_crs.lat_first:
            geometry = shapely.ops.transform(lambda x, y, *z: (y, x, *z), geometry)
        return GEOSGeometry(memoryview(shapely.to_wkb(geometry)), srid=self.geometry_crs.srid)

    @handle(values.Geometry)
    def geometry(self, node):
        return self._geos(shapely.geometry.shape(node.__geo_interface__))

    @handle(values.Envelope)
    def envelope(self, node):
        if self.lang == "cql2-json":
            # pygeofilter 0.4 builds Envelope(*bbox) from CQL2 JSON {"bbox": [minx, miny,
            # maxx, maxy]}, so its x1, x2, y1, y2 hold minx, miny, maxx, maxy
            return self._geos(shapely.box(node.x1, node.x2, node.y1, node.y2))
        return self._geos(shapely.box(node.x1, node.y1, node.x2, node.y2))

    @handle(ast.Function)
    def function(self, node, *arguments):
        # the CQL2 text bbox literal BBOX(minx, miny, maxx, maxy) of basic spatial functions
        numbers = list(node.arguments)
        if node.name.lower() == "bbox" and len(numbers) in (4, 6):
            if len(numbers) == 6:
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            if all(isinstance(v, (int, float)) for v in numbers):
                return self._geos(shapely.box(*numbers))
        raise OgcError(f"filter: unknown function {node.name}() or bad arguments", "filter")

    @handle(ast.BBox)
    def bbox(self, node, lhs):
        box = self._geos(shapely.box(node.minx, node.miny, node.maxx, node.maxy))
        return Q(**{f"{lhs.name}__intersects": box})

    @handle(ast.Like)
    def like(self, node, lhs):
        # CQL2 LIKE: % any run, _ one character, \\ escapes; translated to an anchored
        # regular expression matched by PostgreSQL (pygeofilter's own splits only on %)
        if not isinstance(node.pattern, str) or not isinstance(node.lhs, ast.Attribute):
            raise OgcError("filter: LIKE needs a property on the left and a text pattern", "filter")
        return like_q(self.field_mapping[node.lhs.name], node.pattern, node.nocase, node.not_)


def like_regex(pattern: str) -> str:
    """The anchored POSIX regular expression of a CQL2 LIKE pattern."""
    out, chars = ["^"], iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "".join(out) + "$"


def like_q(field: str, pattern: str, nocase: bool = False, negate: bool = False) -> Q:
    condition = Q(**{f"{field}__{'iregex' if nocase else 'regex'}": like_regex(pattern)})
    return ~condition if negate else condition


def apply(
    queryset: QuerySet, collection: Collection, text: str, lang: str, filter_crs: Crs
) -> QuerySet:
    """``queryset`` filtered by a CQL2 expression on the collection's queryables.

    Parameters
    ----------
    queryset
        Rows of ``collection``.
    collection
        Gives the queryables and the geometry field.
    text
        The ``filter`` parameter.
    lang
        ``cql2-text`` or ``cql2-json``.
    filter_crs
        The CRS of geometry literals (``filter-crs``; CRS84 by default).

    Raises
    ------
    OgcError
        400 on a syntax error, an unknown property or a value of the wrong type.
    """
    tree = parse(text, lang)
    mapping: dict[str, str] = {}
    aliases = {}
    geometry_names = {*GEOMETRY_NAMES, collection.geometry_field}
    for name in sorted(attribute_names(tree)):
        if name in geometry_names:
            mapping[name] = collection.geometry_field
            continue
        for index, prop in enumerate(collection.properties):
            if prop.name == name:
                mapping[name] = alias_name(index)
                aliases[alias_name(index)] = prop.as_expression()
                break
        else:
            known = ", ".join(p.name for p in collection.properties)
            raise OgcError(
                f"filter: {name!r} is not a queryable of {collection.id}; queryables are "
                f"geometry, {known}",
                field="filter",
            )
    try:
        condition = _Evaluator(mapping, filter_crs, lang).evaluate(tree)
        if not isinstance(condition, Q):
            raise ValueError("the filter is not a predicate")
        return queryset.alias(**aliases).filter(condition)
    except OgcError:
        raise
    except (
        NotImplementedError,
        ValueError,
        TypeError,
        AssertionError,
        FieldError,
        ValidationError,
        KeyError,
    ) as exc:
        raise OgcError(f"filter: cannot evaluate the filter: {exc}", field="filter") from exc
