"""The collections the API serves: one :class:`Collection` entry per table or layer.

A collection is a queryset, its geometry field and the fields published as feature
properties (which are also its queryables). The twin's core tables are registered here; the
imported layers come from :class:`LayerSource`, one collection per visible ``Layer``. Adding a
collection (e.g. the results of scenario runs) is one call to :func:`register`::

    register(Collection(
        id="edge-results",
        title="Traffic results per road edge",
        rows=lambda user: EdgeResult.objects.filter(run__scenario__owner=user),
        geometry_field="geom",
        properties=model_properties(EdgeResult, ["run", "highway", "flow_veh_h"]),
    ))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.contrib.gis.db.models import Extent
from django.db.models import (
    BigIntegerField,
    BooleanField,
    F,
    FloatField,
    IntegerField,
    Model,
    QuerySet,
)
from django.db.models.expressions import Expression
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from layers.models import (
    AreaFeature,
    Building,
    City,
    Facility,
    Feature,
    Layer,
    RoadEdge,
    RoadNode,
    UtilityLink,
    UtilityNode,
)
from layers.services import visible_to

#: JSON Schema types of the queryables; Django field classes map onto them in model_properties
TYPES = ("string", "number", "integer", "boolean")


@dataclass(frozen=True)
class Property:
    """A feature property: its public name, JSON Schema type and how to read it.

    ``expression`` is an ORM path (``"city_id"``) or a Django expression; ``None`` reads the
    field of the same name. ``format`` is a JSON Schema format such as ``date-time``.
    """

    name: str
    type: str = "string"
    expression: str | Expression | None = None
    title: str = ""
    format: str = ""

    def as_expression(self) -> Expression:
        if self.expression is None:
            return F(self.name)
        if isinstance(self.expression, str):
            return F(self.expression)
        return self.expression


def _anyone(user: Any) -> bool:
    return True


def _all_city_epsgs() -> list[int]:
    return list(City.objects.values_list("local_epsg", flat=True).distinct())


@dataclass(frozen=True)
class Collection:
    """One feature collection.

    Parameters
    ----------
    id
        The ``{collectionId}`` of the URLs.
    title, description
        Shown in the collection metadata and the HTML pages.
    rows
        ``user -> QuerySet`` of the features this user may read (row-level visibility goes
        here; the queryset may be filtered, e.g. to one layer).
    geometry_field
        The geometry column, stored in EPSG:4326 like every table of the twin.
    properties
        The published properties; every one is a queryable, filterable with CQL2.
    id_field
        The field giving the feature id of ``/items/{featureId}`` (an integer).
    json_properties
        A JSON column whose keys are published too, after ``properties`` (imported layers).
    is_visible
        ``user -> bool``: whether the collection is listed and served at all.
    local_epsgs
        ``() -> [EPSG codes]``: the cities' UTM zones offered besides CRS84/4326/3857.
    extent
        ``() -> (minx, miny, maxx, maxy) | None`` in CRS84; ``None`` measures ``rows``.
    stored_count
        ``() -> int | None``: an exact count of the unfiltered collection kept elsewhere
        (``Layer.feature_count``), so that no ``count(*)`` is run for ``numberMatched``.
    geometry_type
        GeoJSON geometry type, for clients that ask (GDAL); empty when mixed or unknown.
    """

    id: str
    title: str
    rows: Callable[[Any], QuerySet]
    geometry_field: str
    properties: tuple[Property, ...]
    description: str = ""
    id_field: str = "pk"
    json_properties: str | None = None
    is_visible: Callable[[Any], bool] = _anyone
    local_epsgs: Callable[[], list[int]] = _all_city_epsgs
    extent: Callable[[], tuple[float, float, float, float] | None] | None = None
    stored_count: Callable[[], int | None] | None = None
    geometry_type: str = ""
    keywords: tuple[str, ...] = field(default_factory=tuple)
    #: False for a collection that only means something once it holds rows (a transit feed, a
    #: utility network, run results of a capability): it is listed when the user can see a row,
    #: and still answers by its id (an empty page) when it is not
    listed_when_empty: bool = True

    def queryable(self, name: str) -> Property | None:
        for prop in self.properties:
            if prop.name == name:
                return prop
        return None

    def spatial_extent(self, user: Any = None) -> tuple[float, float, float, float] | None:
        """The CRS84 bounding box of the collection (measured in the database when not given)."""
        if self.extent is not None:
            return self.extent()
        box = self.rows(user).aggregate(box=Extent(self.geometry_field))["box"]
        return tuple(box) if box else None


class Source(Protocol):
    """Collections that exist per row of a table (imported layers, runs)."""

    def list(self, user: Any) -> Iterable[Collection]: ...

    def get(self, collection_id: str, user: Any) -> Collection | None: ...


_COLLECTIONS: dict[str, Collection] = {}
_SOURCES: list[Source] = []


def register(collection: Collection) -> Collection:
    """Serve ``collection``; an id already registered is replaced (re-imports in tests)."""
    _COLLECTIONS[collection.id] = collection
    return collection


def register_source(source: Source) -> Source:
    """Serve the collections a :class:`Source` lists, after the registered ones."""
    _SOURCES.append(source)
    return source


def registered_ids() -> set[str]:
    return set(_COLLECTIONS)


def collections_for(user: Any) -> list[Collection]:
    """Every collection ``user`` may see, registered ones first."""
    found = [
        c
        for c in _COLLECTIONS.values()
        if c.is_visible(user) and (c.listed_when_empty or c.rows(user).exists())
    ]
    for source in _SOURCES:
        found.extend(source.list(user))
    return found


def get_collection(collection_id: str, user: Any) -> Collection | None:
    """The collection ``collection_id`` if ``user`` may see it (a hidden one is not found)."""
    collection = _COLLECTIONS.get(collection_id)
    if collection is not None:
        return collection if collection.is_visible(user) else None
    for source in _SOURCES:
        collection = source.get(collection_id, user)
        if collection is not None:
            return collection
    return None


def _field_type(model_field) -> tuple[str, str]:
    if model_field.is_relation:
        # a foreign key publishes the key of the row it points at (an integer or a UUID)
        return _field_type(model_field.target_field)
    if isinstance(model_field, BooleanField):
        return "boolean", ""
    if isinstance(model_field, IntegerField):  # AutoField and BigAutoField included
        return "integer", ""
    if isinstance(model_field, FloatField) or model_field.get_internal_type() == "DecimalField":
        return "number", ""
    if model_field.get_internal_type() == "DateTimeField":
        return "string", "date-time"
    return "string", ""


def model_properties(model: type[Model], names: Iterable[str]) -> tuple[Property, ...]:
    """Properties for model fields, typed from the field; a foreign key publishes its id.

    Parameters
    ----------
    model
        The Django model.
    names
        Field names; a foreign key ``city`` becomes property ``city`` read from ``city_id``.
    """
    found = []
    for name in names:
        model_field = model._meta.get_field(name)
        kind, fmt = _field_type(model_field)
        expression = model_field.attname if model_field.is_relation else None
        title = str(getattr(model_field, "help_text", "") or model_field.verbose_name)
        found.append(Property(name, kind, expression, title=title, format=fmt))
    return tuple(found)


def _core(
    collection_id: str, title: str, model: type[Model], geometry: str, names: list[str], **kw
) -> Collection:
    return Collection(
        id=collection_id,
        title=title,
        rows=lambda user: model.objects.all(),
        geometry_field=geometry,
        properties=model_properties(model, names),
        description=(model.__doc__ or "").strip().split("\n")[0]
        if model.__doc__ and not model.__doc__.startswith(model.__name__ + "(")
        else title,
        **kw,
    )


# the twin's core tables; the ids are those of the vector tiles (/tiles/<id>/...)
for _entry in (
    _core(
        "buildings",
        "Buildings",
        Building,
        "footprint",
        [
            "city",
            "height_m",
            "height_source",
            "levels",
            "use",
            "use_source",
            "use_confidence",
            "building_type",
            "name",
            "footprint_area_m2",
            "floor_area_m2",
            "residents",
            "workers",
            "external_id",
            "osm_id",
        ],
        geometry_type="MultiPolygon",
    ),
    _core(
        "roads",
        "Road edges",
        RoadEdge,
        "geom",
        [
            "city",
            "u",
            "v",
            "key",
            "highway",
            "name",
            "lanes",
            "speed_kph",
            "capacity_veh_h",
            "oneway",
            "length_m",
            "speed_source",
            "lanes_source",
            "in_largest_scc",
        ],
        geometry_type="LineString",
    ),
    _core(
        "road-nodes",
        "Road nodes",
        RoadNode,
        "geom",
        ["city", "osm_id", "in_largest_scc"],
        geometry_type="Point",
    ),
    _core(
        "utilities",
        "Utility links",
        UtilityLink,
        "geom",
        ["city", "network", "kind", "substance", "voltage", "length_m", "osm_id"],
        geometry_type="LineString",
    ),
    _core(
        "utility-nodes",
        "Utility nodes",
        UtilityNode,
        "geom",
        ["city", "network", "kind", "name", "osm_id"],
        geometry_type="Point",
    ),
    _core(
        "facilities",
        "Facilities",
        Facility,
        "geom",
        ["city", "kind", "name", "capacity", "osm_id", "osm_type"],
        geometry_type="Point",
    ),
    _core(
        "areas",
        "Water, parks and land use",
        AreaFeature,
        "geom",
        ["city", "kind", "subtype", "name", "osm_id"],
        geometry_type="MultiPolygon",
    ),
):
    register(_entry)


_JSON_CASTS = {"integer": BigIntegerField, "number": FloatField, "boolean": BooleanField}


def layer_properties(schema: dict) -> tuple[Property, ...]:
    """Queryables of an imported layer from ``Layer.attribute_schema`` (name -> type).

    Each reads one key of ``Feature.properties``; numbers and booleans are cast in SQL so that
    ``height > 10`` compares numbers, not JSON texts.
    """
    found = []
    for name, kind in schema.items():
        text = KeyTextTransform(name, "properties")
        cast = _JSON_CASTS.get(kind)
        if cast is not None:
            found.append(Property(name, kind, Cast(text, cast())))
        elif kind == "datetime":
            found.append(Property(name, "string", text, format="date-time"))
        else:
            found.append(Property(name, "string", text))
    return tuple(found)


class LayerSource:
    """One collection per imported ``Layer`` the user may see (``layers.services.visible_to``).

    The collection id is the layer slug, or ``layer-<slug>`` where a slug takes the id of a
    registered collection.
    """

    prefix = "layer-"

    def _collection_id(self, layer: Layer) -> str:
        return self.prefix + layer.slug if layer.slug in _COLLECTIONS else layer.slug

    def _collection(self, layer: Layer) -> Collection:
        layer_id = layer.pk
        box = layer.extent.extent if layer.extent is not None else None
        epsgs = [layer.city.local_epsg] if layer.city_id else []
        kinds = layer.geometry_type.split(",") if layer.geometry_type else []
        return Collection(
            id=self._collection_id(layer),
            title=layer.name,
            description=layer.description or f"imported layer {layer.slug}",
            rows=lambda user: Feature.objects.filter(layer_id=layer_id),
            geometry_field="geom",
            properties=layer_properties(layer.attribute_schema or {}),
            id_field="fid",
            json_properties="properties",
            local_epsgs=lambda: epsgs,
            extent=(lambda: box) if box is not None else None,
            stored_count=lambda: layer.feature_count,
            geometry_type=kinds[0] if len(kinds) == 1 else "",
        )

    def list(self, user: Any) -> list[Collection]:
        layers = visible_to(Layer.objects.select_related("city"), user).order_by("name", "pk")
        return [self._collection(layer) for layer in layers]

    def get(self, collection_id: str, user: Any) -> Collection | None:
        slug = collection_id
        if collection_id.startswith(self.prefix) and collection_id[len(self.prefix) :] in (
            _COLLECTIONS
        ):
            slug = collection_id[len(self.prefix) :]
        elif collection_id in _COLLECTIONS:
            return None
        layer = visible_to(Layer.objects.select_related("city"), user).filter(slug=slug).first()
        return self._collection(layer) if layer is not None else None


register_source(LayerSource())
