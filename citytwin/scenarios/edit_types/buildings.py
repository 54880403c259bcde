"""Building edits: add, remove, heighten."""

from __future__ import annotations

import json

import pandas as pd
import shapely

from layers.models import Building
from simulators.common.occupancy import USES, floor_area_m2, residents_and_workers

from ..edits import EditType, choice, geometry, ids, number, register

# physical upper bounds (docs/scenarios.md): the tallest building is 828 m; the importer
# refuses heights above 1000 m
HEIGHT_M = number("Height", "m", exclusive_minimum=0, maximum=1000)
#: the most people one building may house (the largest residential blocks hold ~20,000)
MAX_RESIDENTS = 50_000
USE_LABELS = {
    "residential": "homes",
    "commercial": "shops and offices",
    "industrial": "industry",
    "public": "public services",
    "other": "other",
}
assert tuple(USE_LABELS) == USES


def _names(city, building_ids: list[int]) -> str:
    """'Kiasma and 2 more buildings' or '3 buildings'."""
    names = [
        n
        for n in Building.objects.filter(city=city, pk__in=building_ids[:50])
        .order_by("id")
        .values_list("name", flat=True)
        if n
    ]
    count = len(building_ids)
    if not names:
        return f"{count} building{'s' if count != 1 else ''}"
    rest = count - 1
    return names[0] + (f" and {rest} more building{'s' if rest != 1 else ''}" if rest else "")


@register
class AddBuilding(EditType):
    type = "add_building"
    label = "Add a building"
    description = "A new building; residents and workers follow its use and floor area"
    fields = {
        "footprint": geometry("Polygon", "Footprint"),
        "height_m": HEIGHT_M,
        "use": choice("Use", USE_LABELS, default="residential"),
        "residents": number("Residents", "persons", minimum=0, maximum=MAX_RESIDENTS),
    }
    required = ("footprint", "height_m")

    @classmethod
    def describe(cls, city, edit):
        return f"Add a {edit['height_m']:g} m building ({USE_LABELS[edit['use']]})"

    @classmethod
    def apply_to_buildings(cls, frame, city, index, edit):
        from .. import inputs

        wgs = shapely.from_geojson(json.dumps(edit["footprint"]))
        local = inputs.local_geometry(city, edit["footprint"])
        floor_area = floor_area_m2(local.area, edit["height_m"])
        residents, workers = residents_and_workers(edit["use"], floor_area)
        if edit.get("residents") is not None:
            residents = edit["residents"]
        row = {
            "id": f"add-{index}", "building_id": None, "height_m": edit["height_m"],
            "floor_area_m2": floor_area, "use": edit["use"], "residents": residents,
            "workers": workers, "wkb": shapely.to_wkb(local), "wgs": shapely.to_wkb(wgs),
            "added": True,
        }  # fmt: skip
        return pd.concat([frame, pd.DataFrame([row])], ignore_index=True)


@register
class RemoveBuilding(EditType):
    type = "remove_building"
    label = "Remove buildings"
    fields = {"building_ids": ids("Buildings", Building)}
    required = ("building_ids",)

    @classmethod
    def check(cls, check, out):
        check.existing(Building, out["building_ids"], "building_ids")

    @classmethod
    def describe(cls, city, edit):
        return f"Remove {_names(city, edit['building_ids'])}"

    @classmethod
    def apply_to_buildings(cls, frame, city, index, edit):
        return frame[~frame["building_id"].isin(edit["building_ids"])]


@register
class HeightenBuilding(EditType):
    type = "heighten_building"
    label = "Change building heights"
    fields = {
        "building_ids": ids("Buildings", Building),
        "height_m": {**HEIGHT_M, "title": "New height"},
    }
    required = ("building_ids", "height_m")

    @classmethod
    def check(cls, check, out):
        check.existing(Building, out["building_ids"], "building_ids")

    @classmethod
    def describe(cls, city, edit):
        return f"Make {_names(city, edit['building_ids'])} {edit['height_m']:g} m tall"

    @classmethod
    def apply_to_buildings(cls, frame, city, index, edit):
        frame = frame.copy()
        frame.loc[frame["building_id"].isin(edit["building_ids"]), "height_m"] = edit["height_m"]
        return frame
