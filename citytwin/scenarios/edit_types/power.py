"""Power edits: a line, transformer or substation out of service; a change of demand.

Ids are the twin's element ids (``/ogc/collections/power-lines/items``, the power layers of
the web map). A substation outage takes out a bus and everything on it: the lines and
transformers ending there, its loads, generators and external grids, and the bars coupled to
it by closed switches (:func:`simulators.power.outages.substation_elements`).
"""

from __future__ import annotations

from utilities.power.models import Bus, Line, Load, Transformer

from ..edits import EditType, geometry, ids, number, register

#: the most a scenario may scale the electricity demand by (x5: full electrification of heat
#: and transport in a district, well beyond any planning case)
MAX_POWER_DEMAND_FACTOR = 5.0


def _pp(model, edit_ids, grid_id: int) -> list[int]:
    """pandapower indices of the edit's elements that belong to grid ``grid_id``."""
    rows = model.objects.filter(pk__in=edit_ids, grid_id=grid_id)
    return sorted(rows.values_list("pp_index", flat=True))


def _names(model, edit_ids, noun: str) -> str:
    rows = list(model.objects.filter(pk__in=edit_ids[:20]).order_by("id"))
    first = rows[0].name if rows and rows[0].name else f"{noun} {edit_ids[0]}"
    rest = len(edit_ids) - 1
    return first + (f" and {rest} more {noun}{'s' if rest != 1 else ''}" if rest else "")


class ElementOutage(EditType):
    """Elements of one power table out of service: the three outage types differ only by
    the table (``model``), the edit's field, the key of the outage for
    :func:`utilities.power.runs.scenario_net` and the noun in words."""

    model: type = Line
    field = "lines"
    out_key = "lines"
    noun = "line"

    @classmethod
    def check(cls, check, out):
        check.existing(cls.model, out[cls.field], cls.field)

    @classmethod
    def describe(cls, city, edit):
        return f"Outage of {_names(cls.model, edit[cls.field], cls.noun)}"

    @classmethod
    def apply_to_power(cls, grid_id: int, city, edit) -> dict:
        return {cls.out_key: _pp(cls.model, edit[cls.field], grid_id)}


@register
class LineOutage(ElementOutage):
    type = "line_outage"
    label = "Power line outage"
    description = "Power lines (overhead or cable) out of service"
    fields = {"lines": ids("Lines", Line)}
    required = ("lines",)


@register
class TransformerOutage(ElementOutage):
    type = "transformer_outage"
    label = "Transformer outage"
    description = "Transformers out of service"
    fields = {"transformers": ids("Transformers", Transformer)}
    required = ("transformers",)
    model, field, out_key, noun = Transformer, "transformers", "trafos", "transformer"


@register
class SubstationOutage(ElementOutage):
    type = "substation_outage"
    label = "Substation outage"
    description = "A substation (bus) out of service with everything connected to it"
    fields = {"buses": ids("Substation buses", Bus)}
    required = ("buses",)
    model, field, out_key, noun = Bus, "buses", "substations", "bus"

    @classmethod
    def describe(cls, city, edit):
        rows = list(Bus.objects.filter(pk__in=edit["buses"][:1]))
        kv = f" ({rows[0].vn_kv:g} kV)" if rows else ""
        return f"Substation outage at {_names(Bus, edit['buses'], 'bus')}{kv}"


@register
class PowerDemandChange(EditType):
    type = "power_demand_change"
    label = "Change the electricity demand"
    description = "Scale the loads of the grid, or only those at buses inside a zone"
    fields = {
        "factor": number("Factor", "1", minimum=0, maximum=MAX_POWER_DEMAND_FACTOR, default=1.0),
        "zone": geometry("Polygon", "Zone", "Optional: only loads at buses inside it"),
    }
    required = ("factor",)

    @classmethod
    def describe(cls, city, edit):
        where = " in a zone" if "zone" in edit else ""
        return f"Electricity demand x {edit['factor']:g}{where}"

    @classmethod
    def apply_to_power(cls, grid_id: int, city, edit) -> dict:
        loads = Load.objects.filter(grid_id=grid_id)
        if "zone" in edit:
            import json

            from django.contrib.gis.geos import GEOSGeometry

            zone = GEOSGeometry(json.dumps(edit["zone"]), srid=4326)
            loads = loads.filter(bus__geom__within=zone)
        return {"scale_loads": [(edit["factor"], sorted(loads.values_list("pp_index", flat=True)))]}
