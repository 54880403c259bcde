"""Demand edits: more or fewer trips, everywhere or from/to a zone."""

from __future__ import annotations

from ..edits import EditType, geometry, number, register

#: the most a scenario may scale the trips by (x10: a district fully built out)
MAX_DEMAND_FACTOR = 10.0


@register
class DemandChange(EditType):
    type = "demand_change"
    label = "Change the demand"
    description = "Scale the trips, or only those from or to buildings inside a zone"
    fields = {
        "factor": number("Factor", "1", exclusive_minimum=0, maximum=MAX_DEMAND_FACTOR),
        "zone": geometry("Polygon", "Zone", "Optional: only trips from/to buildings inside it"),
    }
    required = ("factor",)

    @classmethod
    def describe(cls, city, edit):
        where = " in a zone" if "zone" in edit else ""
        return f"Trips x {edit['factor']:g}{where}"

    @classmethod
    def demand_scaling(cls, city, edit):
        from .. import inputs

        polygon = inputs.local_geometry(city, edit["zone"]) if "zone" in edit else None
        return [(edit["factor"], polygon)]
