"""A calibration run on Helsinki with a known truth, then a traffic run on the calibrated demand.

The truth is the model's own demand with 40 % more trips (a scenario with a demand change);
its equilibrium volumes on a third of the loaded roads become five-minute counts of 5
weekdays at 16:00-17:00 Helsinki time, stored as observations of counters linked to those road
edges. Calibrating the baseline (40 % short) must fit them and move the trips toward the truth.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from citytwin.scenarios.models import EdgeResult, Run, RunSeries
from sensors.analysis.models import CalibratedDemand
from sensors.ingest import store_observations
from simulators.calibration import geh
from tests.sensors.conftest import make_datastream

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "progress"]),
    pytest.mark.slow,
]

HELSINKI = ZoneInfo("Europe/Helsinki")


def _inline(ref: str, simulator: str, *params: str, capsys) -> dict:
    call_command("run_scenario", ref, simulator, *params, "--inline", "--json", "--no-reuse")
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "succeeded", out
    return out


def _counters(city, volumes: dict[int, float]) -> None:
    """One counter per edge: veh per 5 min at 16:00-17:00 local time on the last 5 weekdays."""
    from layers.models import RoadEdge

    today = timezone.now().astimezone(HELSINKI).date()
    days = [today - timedelta(days=k) for k in range(1, 20)]
    days = [d for d in days if d.weekday() < 5][:5]
    for edge_id, volume in volumes.items():
        ds = make_datastream(f"counter {edge_id}")
        ds.road_edge = RoadEdge.objects.get(pk=edge_id)
        ds.unit_of_measurement = {"name": "vehicles", "symbol": "veh", "definition": ""}
        ds.save()
        ds.thing.city = city
        ds.thing.save()
        rows = [
            {"phenomenon_time": datetime(d.year, d.month, d.day, 16, m, tzinfo=HELSINKI),
             "result": volume / 12}
            for d in days for m in range(0, 60, 5)
        ]  # fmt: skip
        store_observations(ds, rows)


def test_calibration_fits_counts_and_feeds_traffic_runs(api, committed_city, capsys):
    city = committed_city("Helsinki")
    response = api.post(
        "/api/scenarios/",
        {"city": city.id, "name": "truth", "edits": [{"type": "demand_change", "factor": 1.4}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    # before any calibration, a traffic run on calibrated demand is refused, naming the field
    refused = api.post(
        f"/api/scenarios/{response.json()['id']}/runs/",
        {"simulator": "traffic", "params": {"demand": "calibrated"}}, format="json",
    )  # fmt: skip
    assert refused.status_code == 400 and refused.json()["field"] == "params.demand"
    truth = _inline(str(response.json()["id"]), "traffic", "gap=1e-5", "peak_hour_factor=1",
                    capsys=capsys)  # fmt: skip
    loaded = EdgeResult.objects.filter(run_id=truth["id"], volume_veh_h__gt=100).order_by("edge_id")
    volumes = {e.edge_id: e.volume_veh_h for e in loaded[::3]}
    assert len(volumes) >= 10
    _counters(city, volumes)

    out = _inline("baseline:Helsinki", "calibration", "gap=1e-4", "outer_iterations=4",
                  capsys=capsys)  # fmt: skip
    k = out["kpis"]
    with capsys.disabled():
        print("\ncalibration KPIs:", {key: round(v, 3) for key, v in k.items()}, flush=True)
    assert k["counted_links"] == len(volumes) and k["hour_local"] == 16.0
    assert k["share_geh_below_5_prior"] < 0.85 <= k["share_geh_below_5"]
    assert k["rmse_veh_h"] < 0.3 * k["rmse_prior_veh_h"]
    truth_trips = truth["kpis"]["trips"]
    assert abs(k["calibrated_trips"] - truth_trips) < 0.5 * abs(k["prior_trips"] - truth_trips)
    stored = CalibratedDemand.objects.get(run_id=out["id"])
    assert stored.total_veh_h == pytest.approx(k["calibrated_trips"])
    series = {s.name: s.values for s in RunSeries.objects.filter(run_id=out["id"])}
    assert sorted(series["observed_veh_h"]) == pytest.approx(sorted(volumes.values()), rel=1e-9)
    run = Run.objects.get(pk=out["id"])
    assert run.warnings == [] and run.meta["time_zone"] == "Europe/Helsinki"

    # a later traffic run of the city on the calibrated demand reproduces the counts
    calibrated = _inline("baseline:Helsinki", "traffic", "gap=1e-5", "peak_hour_factor=1",
                         "demand=calibrated", capsys=capsys)  # fmt: skip
    assert Run.objects.get(pk=calibrated["id"]).params["calibrated_demand"] == stored.pk
    modelled = dict(
        EdgeResult.objects.filter(run_id=calibrated["id"], edge_id__in=list(volumes))
        .values_list("edge_id", "volume_veh_h")
    )  # fmt: skip
    ids = sorted(volumes)
    g = geh(np.array([modelled[i] for i in ids]), np.array([volumes[i] for i in ids]))
    assert np.mean(g < 5) >= 0.85
