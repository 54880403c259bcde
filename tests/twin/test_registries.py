"""The simulator registry as served to clients, and the rule that nothing outside it branches
on a simulator's name."""

from __future__ import annotations

import numpy as np
import pytest
from rest_framework.test import APIClient

from simulators.evacuation import EvacuationParams
from simulators.solar.params import SolarParams
from simulators.traffic.params import TrafficParams


@pytest.mark.django_db
def test_simulators_are_served_with_the_engines_ranges_units_and_defaults():
    response = APIClient().get("/api/simulators/")  # anonymous
    assert response.status_code == 200
    sims = {s["name"]: s for s in response.json()["simulators"]}
    assert list(sims) == [
        "traffic",
        "solar",
        "evacuation",
        "calibration",
        "transit",
        "water",
        "power_flow",
        "power_criticality",
        "shelter_siting",
        "pv_roofs",
        "road_upgrades",
    ]
    for sim in sims.values():
        assert set(sim) == {
            "name", "label", "description", "parameters", "requires_edits", "kpis", "results",
            "sweep_metric",
        }  # fmt: skip
        schema = sim["parameters"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert schema["x-order"] == list(schema["properties"])
        props = schema["properties"].values()
        assert all(p["title"] and "default" in p for p in props)
        # every number, nullable ones included, carries a unit and a range around its default
        numbers = [p for p in props if {"number", "integer"} & set(np.atleast_1d(p["type"]))]
        assert numbers
        for prop in numbers:
            low, high, default = prop["minimum"], prop["maximum"], prop["default"]
            assert prop["x-unit"] and low < high
            assert default is None or low <= default <= high
        assert set(sim["results"]) <= {"edges", "buildings", "rasters", "series"}
        assert all(k["label"] and "unit" in k for k in sim["kpis"])
    gap = sims["traffic"]["parameters"]["properties"]["gap"]
    # today's server defaults and the engine's ranges (not a table of the twin's own)
    assert gap["default"] == TrafficParams().gap == 1e-4
    assert gap["minimum"] == 1e-10 and gap["maximum"] == 1.0
    phf = sims["traffic"]["parameters"]["properties"]["peak_hour_factor"]
    assert phf["minimum"] == 0.25 and phf["default"] == 0.92
    algorithm = sims["traffic"]["parameters"]["properties"]["algorithm"]
    assert algorithm["enum"] == ["bfw", "cfw", "fw", "bush"]
    assert algorithm["x-enum-labels"]["bfw"] == "Biconjugate Frank-Wolfe"
    cell = sims["solar"]["parameters"]["properties"]["cell_m"]
    assert (cell["minimum"], cell["default"], cell["x-unit"]) == (0.25, SolarParams().cell_m, "m")
    evac = sims["evacuation"]
    assert evac["requires_edits"] == ["hazard_zone"]
    horizon = evac["parameters"]["properties"]["horizon_min"]
    # the engine's field is in seconds; the run parameter in minutes
    assert horizon["x-unit"] == "min"
    assert horizon["default"] * 60 == EvacuationParams().horizon_s
    assert horizon["maximum"] * 60 == 48 * 3600
    assert {k["key"]: k["unit"] for k in evac["kpis"]}["t90_s"] == "s"


@pytest.mark.django_db
def test_published_bounds_are_the_ones_a_run_is_checked_against(api):
    from layers.models import City

    from .test_scenarios import _scenario

    city = City.objects.get(name="Helsinki")
    scenario = _scenario(api, city)
    url = f"/api/scenarios/{scenario['id']}/runs/"
    sims = {s["name"]: s for s in api.get("/api/simulators/").json()["simulators"]}
    props = sims["traffic"]["parameters"]["properties"]
    for name in ("peak_hour_factor", "max_iter"):
        too_high = props[name]["maximum"] * 2
        response = api.post(
            url, {"simulator": "traffic", "params": {name: too_high}}, format="json"
        )
        assert response.status_code == 400, response.content
        assert response.json()["field"] == f"params.{name}"
        assert f"and {props[name]['maximum']:g}," in response.json()["error"]
    horizon = sims["evacuation"]["parameters"]["properties"]["horizon_min"]
    response = api.post(
        url,
        {"simulator": "traffic", "params": {"algorithm": "dijkstra"}},
        format="json",
    )
    assert response.json()["field"] == "params.algorithm"
    assert horizon["maximum"] == 2880
    # a JSON integer beyond a float's range is a 400 naming the field, not an OverflowError
    response = api.post(
        url, {"simulator": "solar", "params": {"bbox": [10**400, 60, 25, 61]}}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["field"] == "params.bbox"


def test_engine_parameter_classes_validate_themselves():
    with pytest.raises(ValueError, match="gap"):
        TrafficParams(gap=0.0)
    with pytest.raises(ValueError, match="dt_s"):
        EvacuationParams(dt_s=600.0)
    with pytest.raises(ValueError, match="cell_m"):
        SolarParams(cell_m=0.1)
    with pytest.raises(ValueError, match="bbox"):
        SolarParams(bbox=[10.0, 60.0, 9.0, 61.0])
