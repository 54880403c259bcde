"""Parameter classes that describe and check themselves (pure; no Django).

An engine's parameter dataclass declares each public field with :func:`param`: its label,
unit, range and allowed values live in the field's metadata. :func:`check_fields` (called from
the class's ``__post_init__``) validates an instance and raises :class:`ParamError` naming the
field; :func:`json_schema` exports the same description as JSON Schema (draft 2020-12) with
``x-unit``, so that a service can publish it and build forms from it instead of keeping its
own table of defaults and ranges.

Example
-------
>>> @dataclass
... class P:
...     gap: float = param(1e-4, label="Relative gap", unit="1", minimum=1e-10, maximum=1.0)
...     def __post_init__(self):
...         check_fields(self)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ParamError", "param", "check_fields", "check_value", "json_schema", "field_spec"]


class ParamError(ValueError):
    """A parameter is invalid; ``field`` names it, ``message`` says why in words."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def param(
    default: Any = dataclasses.MISSING,
    *,
    label: str,
    unit: str = "1",
    description: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Mapping[str, str] | None = None,
    kind: str = "number",
    nullable: bool = False,
    integer: bool = False,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field with a described, checked value.

    Parameters
    ----------
    label, description : words for people.
    unit : plain symbol (``"s"``, ``"min"``, ``"m"``, ``"km/h"``, ``"1"`` for dimensionless).
    minimum, maximum : inclusive bounds of a number.
    choices : allowed string values and their labels (``kind="string"``).
    kind : ``"number"``, ``"string"``, ``"boolean"``, ``"date"``, ``"bbox"`` (lon/lat box) or
        ``"ids"`` (a list of feature ids: whole numbers or strings, at most 10,000).
    nullable : ``None`` is allowed (it means "not set" and is documented in the description).
    integer : a whole number.
    """
    metadata = {
        "label": label,
        "unit": unit,
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
        "choices": dict(choices) if choices else None,
        "kind": "string" if choices else kind,
        "nullable": nullable,
        "integer": integer,
    }
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def field_spec(cls_or_obj: Any, name: str) -> dict:
    """The metadata of a described field (KeyError when the field is not described)."""
    for f in dataclasses.fields(cls_or_obj):
        if f.name == name and "label" in f.metadata:
            return dict(f.metadata)
    raise KeyError(name)


def _described(cls_or_obj: Any) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls_or_obj) if "label" in f.metadata]


def check_value(name: str, value: Any, spec: Mapping[str, Any], scale: float = 1.0) -> None:
    """Raise :class:`ParamError` unless ``value`` fits the field description ``spec``.

    ``scale`` divides the bounds, for a value given in another unit than the field's
    (e.g. minutes for a field in seconds: ``scale=60``).
    """
    if value is None:
        if spec["nullable"]:
            return
        raise ParamError(name, "is required")
    kind = spec["kind"]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(name, f"must be a number, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a JSON integer too large for a float
            finite = False
        low = spec["minimum"] / scale if spec["minimum"] is not None else -math.inf
        high = spec["maximum"] / scale if spec["maximum"] is not None else math.inf
        if not finite or not low <= value <= high:
            raise ParamError(name, f"must be between {_num(low)} and {_num(high)}, got {value!r}")
        if spec["integer"] and int(value) != value:
            raise ParamError(name, f"must be a whole number, got {value!r}")
    elif kind == "string":
        choices = spec["choices"]
        if not isinstance(value, str) or (choices and value not in choices):
            options = ", ".join(choices) if choices else "a string"
            raise ParamError(name, f"must be one of {options}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ParamError(name, "must be true or false")
    elif kind == "date":
        from datetime import date

        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ParamError(name, f"must be YYYY-MM-DD, got {value!r}") from None
    elif kind == "bbox":
        if not (
            isinstance(value, (list, tuple))
            and len(value) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and all(_finite(v) for v in value)
            and value[0] < value[2]
            and value[1] < value[3]
        ):
            raise ParamError(name, "must be [min_lon, min_lat, max_lon, max_lat]")
        if not (-180 <= value[0] <= 180 and -180 <= value[2] <= 180) or not (
            -90 <= value[1] <= 90 and -90 <= value[3] <= 90
        ):
            raise ParamError(name, "must be lon/lat degrees (EPSG:4326)")
    elif kind == "ids":
        if not isinstance(value, (list, tuple)) or len(value) > MAX_IDS:
            raise ParamError(name, f"must be a list of at most {MAX_IDS} ids")
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, str)) or v == "":
                raise ParamError(name, f"must hold ids (whole numbers or strings), got {v!r}")


#: the longest list a field of kind "ids" takes
MAX_IDS = 10000


def _finite(value: float) -> bool:
    # a JSON integer beyond a float's range is not a coordinate either (OverflowError)
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _num(x: float) -> str:
    return f"{x:g}" if math.isfinite(x) else str(x)


def check_fields(obj: Any) -> None:
    """Validate every described field of a dataclass instance (call from ``__post_init__``)."""
    for f in _described(obj):
        check_value(f.name, getattr(obj, f.name), f.metadata)


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def property_schema(spec: Mapping[str, Any], default: Any, scale: float = 1.0, unit=None) -> dict:
    """JSON Schema of one described field (bounds and default divided by ``scale``)."""
    kind = spec["kind"]
    out: dict[str, Any] = {"title": spec["label"]}
    if spec["description"]:
        out["description"] = spec["description"]
    if kind == "number":
        out["type"] = "integer" if spec["integer"] else "number"
        for key in ("minimum", "maximum"):
            if spec[key] is not None:
                out[key] = spec[key] / scale if scale != 1.0 else spec[key]
        out["x-unit"] = unit or spec["unit"]
    elif kind == "string":
        out["type"] = "string"
        if spec["choices"]:
            out["enum"] = list(spec["choices"])
            out["x-enum-labels"] = dict(spec["choices"])
    elif kind == "boolean":
        out["type"] = "boolean"
    elif kind == "date":
        out["type"] = "string"
        out["format"] = "date"
    elif kind == "bbox":
        out["type"] = "array"
        out["items"] = {"type": "number"}
        out["minItems"] = out["maxItems"] = 4
        out["x-unit"] = "deg"
    elif kind == "ids":
        out["type"] = "array"
        out["items"] = {"type": ["integer", "string"]}
        out["maxItems"] = MAX_IDS
    if spec["nullable"]:
        out["type"] = [out["type"], "null"]
    if isinstance(default, (int, float)) and not isinstance(default, bool) and scale != 1.0:
        default = default / scale
    out["default"] = default
    return out


def json_schema(
    cls: type,
    fields: Iterable[str] | Mapping[str, tuple[str, float, str]] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> dict:
    """JSON Schema (draft 2020-12) of a parameter class's described fields.

    Parameters
    ----------
    cls : a dataclass whose fields were declared with :func:`param`.
    fields : the fields to publish, in display order (default: every described field), or a
        mapping ``published name -> (field name, scale, unit)`` for a service that exposes a
        field under another name and unit (``"horizon_min": ("horizon_s", 60.0, "min")``).
    defaults : published defaults that differ from the class's own.
    """
    if fields is None:
        fields = [f.name for f in _described(cls)]
    if not isinstance(fields, Mapping):
        fields = {name: (name, 1.0, None) for name in fields}
    by_name = {f.name: f for f in _described(cls)}
    properties = {}
    for published, (name, scale, unit) in fields.items():
        f = by_name[name]
        properties[published] = property_schema(f.metadata, _default(f), scale, unit)
        if defaults and published in defaults:
            properties[published]["default"] = defaults[published]
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": [],
        "x-order": list(properties),
    }
