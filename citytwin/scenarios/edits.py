"""The edit-type registry: one :class:`EditType` per kind of scenario edit.

An edit type declares its fields once, as JSON Schema with physical bounds and units
(:meth:`EditType.schema`, served at ``GET /api/edit-types/`` and in the OpenAPI document); the
same declaration validates an edit against the city it applies to (ids must exist in that city,
geometries must be valid GeoJSON of the right type inside the city's extent, numbers within
their bounds). Each type also says how it changes the engines' inputs (hooks called by
:mod:`.inputs`) and gives a label in words that names the street or the building.

Adding an edit type is one class in ``edit_types/`` decorated with :func:`register`.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import Any, ClassVar

import shapely
from django.contrib.gis.db.models import Extent
from shapely.validation import explain_validity

from layers.models import Building, City, RoadNode

#: edits per scenario (a planner's scenario has a handful; thousands are a mistake or abuse)
MAX_EDITS_PER_SCENARIO = 500
MAX_IDS_PER_EDIT = 10_000
#: a geometry may reach this far beyond the city's extent (degrees, a few km)
CITY_MARGIN_DEG = 0.05


class EditRejected(Exception):
    """A scenario edit is invalid; nothing was stored.

    ``index`` is the edit's position in the list, ``field`` the offending field.
    """

    def __init__(self, index: int | None, field: str, message: str, status: int = 400):
        where = f"edits[{index}].{field}" if index is not None else field
        super().__init__(f"{where}: {message}")
        self.index, self.field, self.message, self.status = index, field, message, status

    def api_error(self) -> tuple[dict, int]:
        where = f"edits[{self.index}].{self.field}" if self.index is not None else self.field
        body = {"error": f"{where}: {self.message}", "field": where, "edit": self.index}
        return body, self.status


# -- field declarations (JSON Schema) ---------------------------------------------------------


def number(
    title: str,
    unit: str,
    *,
    minimum: float | None = None,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    default: Any = None,
    description: str = "",
) -> dict:
    """A number field with its physical bounds (inclusive ``maximum``)."""
    out: dict[str, Any] = {"type": "integer" if integer else "number", "title": title}
    if description:
        out["description"] = description
    if minimum is not None:
        out["minimum"] = minimum
    if exclusive_minimum is not None:
        out["exclusiveMinimum"] = exclusive_minimum
    if maximum is not None:
        out["maximum"] = maximum
    if default is not None:
        out["default"] = default
    out["x-unit"] = unit
    return out


def geometry(kind: str, title: str, description: str = "") -> dict:
    """A GeoJSON geometry of one type, lon/lat (EPSG:4326), within the city's extent."""
    return {
        "type": "object",
        "title": title,
        "description": description or f"GeoJSON {kind} in lon/lat (EPSG:4326)",
        "properties": {"type": {"const": kind}, "coordinates": {"type": "array"}},
        "required": ["type", "coordinates"],
        "x-geometry": kind,
    }


def ids(title: str, model: type) -> dict:
    """A non-empty list of ids of ``model`` rows in the scenario's city."""
    return {
        "type": "array",
        "title": title,
        "items": {"type": "integer"},
        "minItems": 1,
        "maxItems": MAX_IDS_PER_EDIT,
        "x-model": model._meta.verbose_name,
    }


def choice(title: str, options: dict[str, str], default: str | None = None) -> dict:
    out = {"type": "string", "title": title, "enum": list(options), "x-enum-labels": options}
    if default is not None:
        out["default"] = default
    return out


def boolean(title: str, default: bool) -> dict:
    return {"type": "boolean", "title": title, "default": default}


def text(title: str, max_length: int = 200, description: str = "") -> dict:
    out = {"type": "string", "title": title, "maxLength": max_length}
    if description:
        out["description"] = description
    return out


# -- checking an edit against its declaration and the city ------------------------------------


class Checker:
    """Field accessors for one edit that raise :class:`EditRejected` naming the field."""

    def __init__(self, city: City, index: int, edit: dict):
        self.city, self.index, self.edit = city, index, edit

    def fail(self, field: str, message: str):
        raise EditRejected(self.index, field, message)

    def field(self, name: str, prop: dict) -> Any:
        """The value of ``name`` checked against its schema ``prop``."""
        if prop.get("type") in ("number", "integer"):
            return self.number(name, prop)
        if "x-geometry" in prop:
            geom = self.geometry(name, prop["x-geometry"])
            self.inside_city(geom, name)
            return self.edit[name]
        if "x-model" in prop:
            return self.ids(name)
        if "enum" in prop:
            value = self.edit.get(name, prop.get("default"))
            if value not in prop["enum"]:
                self.fail(name, f"must be one of {', '.join(prop['enum'])}, got {value!r}")
            return value
        if prop.get("type") == "boolean":
            value = self.edit.get(name, prop.get("default"))
            if not isinstance(value, bool):
                self.fail(name, "must be true or false")
            return value
        return str(self.edit.get(name))[: prop.get("maxLength", 200)]

    def number(self, name: str, prop: dict) -> float | int:
        value = self.edit.get(name, prop.get("default"))
        if value is None:
            self.fail(name, "is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(name, f"must be a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a JSON integer too large for a float
            finite = False
        if not finite:
            self.fail(name, "must be a finite number")
        integer = prop["type"] == "integer"
        if integer and int(value) != value:
            self.fail(name, f"must be a whole number, got {value!r}")
        low, low_open = prop.get("minimum"), prop.get("exclusiveMinimum")
        if low_open is not None and value <= low_open:
            self.fail(name, f"must be > {low_open}, got {value!r}")
        if low is not None and value < low:
            self.fail(name, f"must be >= {low}, got {value!r}")
        high = prop.get("maximum")
        if high is not None and value > high:
            unit = prop.get("x-unit", "1")
            self.fail(name, f"must be <= {high}{'' if unit == '1' else ' ' + unit}, got {value!r}")
        return int(value) if integer else float(value)

    def ids(self, name: str) -> list[int]:
        value = self.edit.get(name)
        if not isinstance(value, list) or not value:
            self.fail(name, "must be a non-empty list of ids")
        if len(value) > MAX_IDS_PER_EDIT:
            self.fail(name, f"at most {MAX_IDS_PER_EDIT} ids per edit")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.fail(name, "must contain integer ids only")
        return sorted(set(value))

    def existing(self, model, ids_: list[int], name: str) -> None:
        found = set(model.objects.filter(city=self.city, pk__in=ids_).values_list("pk", flat=True))
        missing = [i for i in ids_ if i not in found]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
            self.fail(
                name, f"no {model._meta.verbose_name} with id {shown} in city {self.city.name!r}"
            )

    def geometry(self, name: str, kind: str) -> shapely.Geometry:
        value = self.edit.get(name)
        if value is None:
            self.fail(name, f"is required (a GeoJSON {kind} in EPSG:4326)")
        try:
            geom = shapely.from_geojson(json.dumps(value))
        except (TypeError, ValueError, shapely.errors.GEOSException) as exc:
            self.fail(name, f"is not valid GeoJSON: {exc}")
        if geom.geom_type != kind:
            self.fail(name, f"must be a {kind}, got {geom.geom_type}")
        if shapely.has_z(geom):
            # heights come from the edit's own fields; the twin's geometry columns are 2D
            geom = shapely.force_2d(geom)
            self.edit[name] = json.loads(shapely.to_geojson(geom))
        if geom.is_empty:
            self.fail(name, "is empty")
        x0, y0, x1, y1 = geom.bounds
        if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
            self.fail(name, "coordinates must be lon/lat degrees (EPSG:4326)")
        if kind == "Polygon":
            if not geom.is_valid:
                self.fail(name, f"is not a valid polygon: {explain_validity(geom)}")
            if geom.area == 0:
                self.fail(name, "has no area")
        if kind == "LineString" and geom.length == 0:
            self.fail(name, "has no length")
        return geom

    def inside_city(self, geom: shapely.Geometry, name: str) -> None:
        """Reject geometries beyond the city's extent (a swapped lat/lon is the usual cause)."""
        bbox = city_bbox(self.city)
        if bbox is None:
            return
        x0, y0, x1, y1 = bbox
        m = CITY_MARGIN_DEG
        gx0, gy0, gx1, gy1 = geom.bounds
        if gx1 < x0 - m or gx0 > x1 + m or gy1 < y0 - m or gy0 > y1 + m:
            self.fail(name, f"lies outside the city {self.city.name!r} (lon/lat order?)")


def city_bbox(city: City) -> tuple[float, float, float, float] | None:
    """The city's extent (lon/lat): its road nodes, else its buildings."""
    extent = RoadNode.objects.filter(city=city).aggregate(e=Extent("geom"))["e"]
    if extent is None:
        extent = Building.objects.filter(city=city).aggregate(e=Extent("footprint"))["e"]
    return extent


# -- the registry -------------------------------------------------------------------------------


class EditType:
    """One kind of scenario edit. Subclasses set the class attributes and override hooks.

    Attributes
    ----------
    type : the ``type`` value of the edit.
    label : words for the kind of edit (``"Close a road"``).
    fields : JSON Schema of each field, in order (physical bounds, units, defaults).
    required : fields without which the edit is refused.
    computed : fields the twin fills in (resolved ids); accepted on input and recomputed.
    """

    type: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    fields: ClassVar[dict[str, dict]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    computed: ClassVar[dict[str, dict]] = {}

    # -- description --------------------------------------------------------------------------
    @classmethod
    def schema(cls) -> dict:
        """JSON Schema (draft 2020-12) of an edit of this type."""
        properties = {
            "type": {"const": cls.type, "title": "Edit type"},
            **cls.fields,
            **{name: {**prop, "readOnly": True} for name, prop in cls.computed.items()},
            "note": text("Note", 500),
        }
        return {
            "type": "object",
            "title": cls.label,
            **({"description": cls.description} if cls.description else {}),
            "properties": properties,
            "required": ["type", *cls.required],
            "additionalProperties": False,
        }

    # -- validation ---------------------------------------------------------------------------
    @classmethod
    def validate(cls, city: City, index: int, edit: dict) -> dict:
        """The edit's normalised form (defaults filled, ids resolved); raises EditRejected."""
        check = Checker(city, index, edit)
        out: dict[str, Any] = {"type": cls.type}
        if "note" in edit:
            out["note"] = str(edit["note"])[:500]
        for name, prop in cls.fields.items():
            if name in edit or "default" in prop or name in cls.required:
                out[name] = check.field(name, prop)
        cls.check(check, out)
        unknown = set(edit) - set(cls.fields) - set(cls.computed) - {"type", "note"}
        if unknown:
            check.fail(sorted(unknown)[0], f"is not a field of a {cls.type} edit")
        return out

    @classmethod
    def check(cls, check: Checker, out: dict) -> None:
        """Checks across fields or against the city; may add computed fields to ``out``."""

    # -- words --------------------------------------------------------------------------------
    @classmethod
    def describe(cls, city: City, edit: dict) -> str:
        """A label in words that names what the edit changes."""
        return cls.label

    # -- effects on the engines' inputs (see inputs.py); default: none ------------------------
    @classmethod
    def apply_to_roads(cls, G, city: City, index: int, edit: dict) -> None:
        """Change the road graph in place (local CRS)."""

    @classmethod
    def apply_to_buildings(cls, frame, city: City, index: int, edit: dict):
        """Return the buildings frame with the edit applied (may be the same object)."""
        return frame

    @classmethod
    def shelters(cls, city: City, index: int, edit: dict) -> list[dict]:
        """Shelters added by the edit: ``{id, name, capacity, geometry}`` (local CRS)."""
        return []

    @classmethod
    def hazards(cls, city: City, index: int, edit: dict) -> list:
        """Hazard zones of the evacuation engine (local CRS)."""
        return []

    @classmethod
    def evacuation_overrides(cls, edit: dict) -> dict:
        """EvacuationParams fields set by the edit (a later edit wins)."""
        return {}

    @classmethod
    def apply_to_transit(cls, supply, city: City, index: int, edit: dict):
        """Return the transit supply (:class:`simulators.transit.TransitSupply`, local CRS)
        with the edit applied (may be the same object)."""
        return supply

    @classmethod
    def demand_scaling(cls, city: City, edit: dict) -> list[tuple[float, Any]]:
        """``(factor, local polygon or None)`` pairs scaling the trips."""
        return []

    @classmethod
    def geometry_fields(cls) -> list[str]:
        return [name for name, prop in cls.fields.items() if "x-geometry" in prop]

    @classmethod
    def geometry(cls, edit: dict) -> dict | None:
        """The edit's GeoJSON geometry for the map (lon/lat), if it has one."""
        return next((edit[name] for name in cls.geometry_fields() if name in edit), None)


_REGISTRY: dict[str, type[EditType]] = {}


def register(cls: type[EditType]) -> type[EditType]:
    """Class decorator: add an edit type to the registry (once per type)."""
    if cls.type in _REGISTRY:
        raise ValueError(f"edit type {cls.type!r} is registered twice")
    _REGISTRY[cls.type] = cls
    return cls


def edit_type(name: str) -> type[EditType]:
    """The class of an edit type (KeyError for an unknown one)."""
    return _REGISTRY[name]


def all_edit_types() -> list[type[EditType]]:
    return list(_REGISTRY.values())


def union_schema() -> dict:
    """Every edit type's schema as one discriminated union (``oneOf`` on ``type``)."""
    return {
        "oneOf": [cls.schema() for cls in _REGISTRY.values()],
        "discriminator": {"propertyName": "type"},
    }


def validate_edit(city: City, index: int, edit: Any) -> dict:
    """Validate one edit and return its normalised form (defaults filled, ids resolved)."""
    if not isinstance(edit, dict):
        raise EditRejected(index, "type", "an edit must be a JSON object with a 'type'")
    kind = edit.get("type")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise EditRejected(index, "type", f"must be one of {', '.join(_REGISTRY)}, got {kind!r}")
    return _REGISTRY[kind].validate(city, index, edit)


def validate_edits(city: City, edits: Any, start_index: int = 0) -> list[dict]:
    """Validate a list of edits; the first bad one raises :class:`EditRejected`."""
    if not isinstance(edits, list):
        raise EditRejected(None, "edits", "must be a list of edits")
    if start_index + len(edits) > MAX_EDITS_PER_SCENARIO:
        raise EditRejected(
            None, "edits", f"a scenario holds at most {MAX_EDITS_PER_SCENARIO} edits"
        )
    return [validate_edit(city, start_index + i, edit) for i, edit in enumerate(edits)]


#: the edit-type modules, in the order of the API and the web map's tools
MODULES = ("roads", "buildings", "evacuation", "demand", "transit", "water", "power")
for _module in MODULES:
    importlib.import_module(f"citytwin.scenarios.edit_types.{_module}")
