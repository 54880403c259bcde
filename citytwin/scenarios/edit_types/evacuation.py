"""Evacuation edits: shelters, hazard zones, the departure profile."""

from __future__ import annotations

from simulators.common.params import field_spec
from simulators.evacuation import EvacuationParams, Hazard

from ..edits import EditType, choice, geometry, number, register, text

#: the largest shelters (stadiums, halls) hold tens of thousands of people
MAX_SHELTER_CAPACITY = 100_000
_SCALE = field_spec(EvacuationParams, "mobilisation_scale_min")
_SHAPE = field_spec(EvacuationParams, "weibull_shape")
_HORIZON_MIN = field_spec(EvacuationParams, "horizon_s")["maximum"] / 60.0


@register
class AddShelter(EditType):
    type = "add_shelter"
    label = "Add a shelter"
    fields = {
        "point": geometry("Point", "Place"),
        "capacity": number(
            "Capacity", "persons", minimum=1, maximum=MAX_SHELTER_CAPACITY, integer=True
        ),
        "name": text("Name"),
    }
    required = ("point", "capacity")

    @classmethod
    def validate(cls, city, index, edit):
        out = super().validate(city, index, edit)
        out["name"] = str(edit.get("name") or f"shelter {index + 1}")[:200]
        return out

    @classmethod
    def describe(cls, city, edit):
        return f"Shelter {edit['name']!r} for {edit['capacity']:,} people"

    @classmethod
    def shelters(cls, city, index, edit):
        from .. import inputs

        return [
            {
                "id": f"add-{index}",
                "name": edit["name"],
                "capacity": edit["capacity"],
                "geometry": inputs.local_geometry(city, edit["point"]),
            }
        ]


@register
class HazardZone(EditType):
    type = "hazard_zone"
    label = "Hazard zone"
    description = "People inside leave when the order is given"
    fields = {
        "polygon": geometry("Polygon", "Zone"),
        "start_min": number(
            "Order to leave after", "min", minimum=0, maximum=_HORIZON_MIN, default=0
        ),
        "name": text("Name"),
    }
    required = ("polygon",)

    @classmethod
    def validate(cls, city, index, edit):
        out = super().validate(city, index, edit)
        out["name"] = str(edit.get("name") or f"zone {index + 1}")[:200]
        return out

    @classmethod
    def describe(cls, city, edit):
        start = f", order at {edit['start_min']:g} min" if edit["start_min"] else ""
        return f"Evacuate {edit['name']!r}{start}"

    @classmethod
    def hazards(cls, city, index, edit):
        from .. import inputs

        return [
            Hazard(
                geometry=inputs.local_geometry(city, edit["polygon"]),
                start_s=60.0 * edit["start_min"],
                name=edit["name"],
            )
        ]


@register
class DepartureProfile(EditType):
    type = "departure_profile"
    label = "Departure profile"
    description = "When evacuees leave (wins over the run's mobilisation scale)"
    fields = {
        "distribution": choice("Distribution", {"rayleigh": "Rayleigh", "weibull": "Weibull"}),
        "scale_min": number("Scale", "min", exclusive_minimum=0, maximum=_SCALE["maximum"]),
        "shape": number("Weibull shape", "1", minimum=_SHAPE["minimum"], maximum=_SHAPE["maximum"]),
    }
    required = ("distribution", "scale_min")

    @classmethod
    def check(cls, check, out):
        if out["distribution"] == "weibull":
            out["shape"] = check.number("shape", {**cls.fields["shape"], "default": 2.0})
        elif "shape" in out:
            check.fail("shape", "is not a field of a rayleigh departure_profile edit")

    @classmethod
    def describe(cls, city, edit):
        return f"Departures: {edit['distribution']}, scale {edit['scale_min']:g} min"

    @classmethod
    def evacuation_overrides(cls, edit):
        out = {"mobilisation": edit["distribution"], "mobilisation_scale_min": edit["scale_min"]}
        if edit["distribution"] == "weibull":
            out["weibull_shape"] = edit["shape"]
        return out
