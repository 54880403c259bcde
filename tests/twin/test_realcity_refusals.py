"""What a real city without some data gets (Andorra has no EPANET model and no power grid
until one is built from OSM): runs refused at once with the field and the way out in words,
no run or job written."""

from __future__ import annotations

import pytest

from citytwin.scenarios.models import Run
from jobs.models import Job
from layers.models import City

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("simulator", "params", "field", "words"),
    [
        ("power_flow", {}, "params.grid_id", "build_power_grid_from_osm"),
        ("power_criticality", {}, "params.grid_id", "no power grid"),
        ("power_flow", {"grid_id": 999999}, "params.grid_id", "no power grid 999999"),
        ("water", {}, "simulator", "no water network"),
    ],
)
def test_utility_runs_without_a_network_are_refused_before_queueing(
    api, simulator, params, field, words
):
    city = City.objects.get(name="Kotka")
    baseline = api.get(f"/api/cities/{city.id}/baseline/").json()
    runs, jobs = Run.objects.count(), Job.objects.count()
    response = api.post(
        f"/api/scenarios/{baseline['id']}/runs",
        {"simulator": simulator, "params": params},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["field"] == field and words in body["error"] and "Kotka" in body["error"]
    assert (Run.objects.count(), Job.objects.count()) == (runs, jobs)
