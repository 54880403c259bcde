"""The SensorThings v1.1 entity types: their properties, navigation properties and how each
property is read from and written to the models (one registry; views and filters use it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry
from django.db.models import Model, QuerySet
from psycopg.types.range import Range

from .. import models as m
from ..access import visible_datastreams, visible_observations
from ..ingest import ObservationRejected, parse_time, parse_time_or_interval
from .errors import bad_request


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    text = dt.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None or end == start:
        return iso(start)
    return f"{iso(start)}/{iso(end)}"


def _time(value: Any, name: str) -> datetime:
    try:
        return parse_time(value, name)
    except ObservationRejected as exc:
        raise bad_request(exc.message, name) from None


def _interval(value: Any, name: str) -> tuple[datetime, datetime | None]:
    try:
        return parse_time_or_interval(value, name)
    except ObservationRejected as exc:
        raise bad_request(exc.message, name) from None


def geometry_of(value: Any, name: str) -> GEOSGeometry:
    """A GEOS geometry (EPSG:4326) from a GeoJSON geometry or Feature."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or "type" not in value:
        raise bad_request(f"{name}: expected a GeoJSON geometry or Feature", name)
    try:
        geom = GEOSGeometry(json.dumps(value))
    except (GEOSException, GDALException, ValueError, TypeError) as exc:
        raise bad_request(f"{name}: not a valid GeoJSON geometry ({exc})", name) from None
    geom.srid = 4326
    return geom


@dataclass(frozen=True)
class Prop:
    """One property: its name in SensorThings, the column(s) behind it and its kind.

    kind: text, json (any JSON), object (JSON object or null), geojson (a GeoJSON kept as
    sent plus a PostGIS column ``geo_field``), geometry (PostGIS only), time, interval
    (two columns ``field`` and ``end_field``), range (tstzrange), result.
    """

    name: str
    field: str
    kind: str = "text"
    end_field: str | None = None
    geo_field: str | None = None
    required: bool = False
    #: a required property that may be null (an Observation's result)
    nullable: bool = False

    def to_json(self, obj: Model) -> Any:
        value = getattr(obj, self.field)
        if self.kind == "time":
            return iso(value)
        if self.kind == "interval":
            return interval(value, getattr(obj, self.end_field))
        if self.kind == "geometry":
            return json.loads(value.geojson) if value is not None else None
        if self.kind == "range":
            if value is None:
                return None
            return f"{iso(value.lower)}/{iso(value.upper)}"
        return value

    def from_json(self, value: Any) -> dict[str, Any]:
        """Model field values for a value sent by a client (400 naming the property)."""
        name, kind = self.name, self.kind
        if value is None:
            if self.required and not self.nullable:
                raise bad_request(f"{name}: must not be null", name)
            if kind == "interval":
                return {self.field: None, self.end_field: None}
            if kind == "geojson":
                raise bad_request(f"{name}: must not be null", name)
            if kind == "text":
                return {self.field: ""}
            return {self.field: None}
        if kind == "text":
            if not isinstance(value, str):
                raise bad_request(f"{name}: expected a string", name)
            return {self.field: value}
        if kind == "object":
            if not isinstance(value, dict):
                raise bad_request(f"{name}: expected a JSON object", name)
            return {self.field: value}
        if kind in ("json", "result"):
            return {self.field: value}
        if kind == "geojson":
            return {self.field: value, self.geo_field: geometry_of(value, name)}
        if kind == "geometry":
            return {self.field: geometry_of(value, name)}
        if kind == "time":
            return {self.field: _time(value, name)}
        if kind == "interval":
            start, end = _interval(value, name)
            return {self.field: start, self.end_field: end}
        if kind == "range":
            start, end = _interval(value, name)
            if end is None:
                raise bad_request(f"{name}: expected an interval start/end", name)
            return {self.field: Range(start, end, "[]")}
        raise AssertionError(kind)


@dataclass(frozen=True)
class Nav:
    """A navigation property: ``field`` is the Django accessor from the source, ``reverse``
    the lookup from the target back to the source."""

    name: str
    target: str
    many: bool
    field: str
    reverse: str
    required: bool = False


@dataclass
class EntityType:
    set_name: str
    singular: str
    model: type[Model]
    props: dict[str, Prop]
    navs: dict[str, Nav]
    queryset: Callable[[Any], QuerySet] = field(default=None)  # type: ignore[assignment]

    def visible(self, user) -> QuerySet:
        if self.queryset is not None:
            return self.queryset(user)
        return self.model.objects.all()


def _props(*props: Prop) -> dict[str, Prop]:
    return {p.name: p for p in props}


def _navs(*navs: Nav) -> dict[str, Nav]:
    return {n.name: n for n in navs}


NAME = Prop("name", "name", required=True)
DESCRIPTION = Prop("description", "description", required=True)
PROPERTIES = Prop("properties", "properties", "object")
ENCODING = Prop("encodingType", "encoding_type", required=True)

ENTITY_TYPES: dict[str, EntityType] = {}


def register(entity: EntityType) -> EntityType:
    ENTITY_TYPES[entity.set_name] = entity
    return entity


register(
    EntityType(
        "Things",
        "Thing",
        m.Thing,
        _props(NAME, DESCRIPTION, PROPERTIES),
        _navs(
            Nav("Locations", "Locations", True, "locations", "things"),
            Nav(
                "HistoricalLocations", "HistoricalLocations", True, "historical_locations", "thing"
            ),
            Nav("Datastreams", "Datastreams", True, "datastreams", "thing"),
        ),
    )
)
register(
    EntityType(
        "Locations",
        "Location",
        m.Location,
        _props(
            NAME,
            DESCRIPTION,
            ENCODING,
            Prop("location", "location", "geojson", geo_field="geom", required=True),
            PROPERTIES,
        ),
        _navs(
            Nav("Things", "Things", True, "things", "locations"),
            Nav(
                "HistoricalLocations",
                "HistoricalLocations",
                True,
                "historical_locations",
                "locations",
            ),
        ),
    )
)
register(
    EntityType(
        "HistoricalLocations",
        "HistoricalLocation",
        m.HistoricalLocation,
        _props(Prop("time", "time", "time", required=True)),
        _navs(
            Nav("Thing", "Things", False, "thing", "historical_locations", required=True),
            Nav("Locations", "Locations", True, "locations", "historical_locations"),
        ),
    )
)
register(
    EntityType(
        "Datastreams",
        "Datastream",
        m.Datastream,
        _props(
            NAME,
            DESCRIPTION,
            Prop("unitOfMeasurement", "unit_of_measurement", "object", required=True),
            Prop("observationType", "observation_type", required=True),
            Prop("observedArea", "observed_area", "geometry"),
            Prop("phenomenonTime", "phenomenon_time_start", "interval", "phenomenon_time_end"),
            Prop("resultTime", "result_time_start", "interval", "result_time_end"),
            PROPERTIES,
        ),
        _navs(
            Nav("Thing", "Things", False, "thing", "datastreams", required=True),
            Nav("Sensor", "Sensors", False, "sensor", "datastreams", required=True),
            Nav(
                "ObservedProperty",
                "ObservedProperties",
                False,
                "observed_property",
                "datastreams",
                required=True,
            ),
            Nav("Observations", "Observations", True, "observations", "datastream"),
        ),
        visible_datastreams,
    )
)
register(
    EntityType(
        "Sensors",
        "Sensor",
        m.Sensor,
        _props(
            NAME, DESCRIPTION, ENCODING, Prop("metadata", "metadata", required=True), PROPERTIES
        ),
        _navs(Nav("Datastreams", "Datastreams", True, "datastreams", "sensor")),
    )
)
register(
    EntityType(
        "ObservedProperties",
        "ObservedProperty",
        m.ObservedProperty,
        _props(NAME, Prop("definition", "definition", required=True), DESCRIPTION, PROPERTIES),
        _navs(Nav("Datastreams", "Datastreams", True, "datastreams", "observed_property")),
    )
)
register(
    EntityType(
        "Observations",
        "Observation",
        m.Observation,
        _props(
            Prop("phenomenonTime", "phenomenon_time", "interval", "phenomenon_time_end"),
            Prop("resultTime", "result_time", "time"),
            Prop("result", "result", "result", required=True, nullable=True),
            Prop("resultQuality", "result_quality", "json"),
            Prop("validTime", "valid_time", "range"),
            Prop("parameters", "parameters", "object"),
        ),
        _navs(
            Nav("Datastream", "Datastreams", False, "datastream", "observations", required=True),
            Nav(
                "FeatureOfInterest",
                "FeaturesOfInterest",
                False,
                "feature_of_interest",
                "observations",
            ),
        ),
        visible_observations,
    )
)
register(
    EntityType(
        "FeaturesOfInterest",
        "FeatureOfInterest",
        m.FeatureOfInterest,
        _props(
            NAME,
            DESCRIPTION,
            ENCODING,
            Prop("feature", "feature", "geojson", geo_field="geom", required=True),
            PROPERTIES,
        ),
        _navs(Nav("Observations", "Observations", True, "observations", "feature_of_interest")),
    )
)

BY_MODEL = {e.model: e for e in ENTITY_TYPES.values()}
