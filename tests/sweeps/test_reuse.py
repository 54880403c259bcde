"""Sweep variants reuse their base's unchanged inputs: evacuation variants give the same KPIs as
the same scenario run on its own, with the base's roads, buildings, shelters and hazards built
once per worker; traffic variants build the base's demand model once. Job errors have one shape.

The chunks run in this process (``sweeps.run_chunk`` called as the worker calls it), so the
worker's own build counters (:mod:`citytwin.scenarios.capabilities.reuse`) are read directly.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command

from citytwin.scenarios.capabilities import evacuation, traffic
from citytwin.scenarios.edits import validate_edits
from citytwin.scenarios.models import Run, Scenario
from citytwin.scenarios.services import start_run
from citytwin.scenarios.tasks import _simulate
from citytwin.sweeps import services, tasks
from citytwin.sweeps.models import Sweep, Variant, VariantResult
from jobs.models import Job
from jobs.runner import run_job
from layers.models import Building, City, RoadEdge


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username=f"reuse-{uuid.uuid4().hex[:6]}")


def _city(name: str, links: int, seed: int) -> City:
    call_command("load_synthetic_city", name, "--links", str(links), "--seed", str(seed))
    return City.objects.get(name=name)


def _box(city: City, x0: float, y0: float, x1: float, y1: float) -> dict:
    """A lon/lat polygon over the share ``x0..x1``, ``y0..y1`` of the city's road extent."""
    from django.contrib.gis.db.models import Extent

    w, s, e, n = RoadEdge.objects.filter(city=city).aggregate(Extent("geom"))["geom__extent"]
    a, b = w + (e - w) * x0, s + (n - s) * y0
    c, d = w + (e - w) * x1, s + (n - s) * y1
    return {"type": "Polygon", "coordinates": [[[a, b], [c, b], [c, d], [a, d], [a, b]]]}


def _run_sweep_here(sweep: Sweep) -> list[VariantResult]:
    """What ``sweeps.prepare`` and the ``sweeps.run_chunk`` tasks do, in this process."""
    sweep = Sweep.objects.select_related("job", "job__owner", "scenario__city").get(pk=sweep.pk)
    sweep.job.start("test", "")
    tasks.base_run(sweep)
    if not Variant.objects.filter(sweep=sweep).exists():
        services.make_variants(sweep)
    ids = list(Variant.objects.filter(sweep=sweep).order_by("index").values_list("id", flat=True))
    for i in range(0, len(ids), sweep.chunk_size):
        tasks.run_chunk(sweep.pk, str(sweep.job_id), ids[i : i + sweep.chunk_size])
    assert Job.objects.get(pk=sweep.job_id).status == Job.Status.SUCCEEDED
    return list(VariantResult.objects.filter(sweep=sweep).select_related("variant"))


def _plain_run(city, owner, edits: list[dict], simulator: str, params: dict) -> Run:
    """The variant as a scenario of its own, run as any run is (no cache, rows stored)."""
    scenario = Scenario.objects.create(city=city, name="plain", owner=owner, edits=edits)
    run, reused = start_run(scenario, simulator, params, owner, reuse=False, enqueue=False)
    assert not reused
    run_job(run.job_id, _simulate)
    return Run.objects.select_related("job").get(pk=run.pk)


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_evacuation_variants_reuse_the_base_inputs_and_equal_plain_runs(owner):
    city = _city("ReuseEvac", links=120, seed=6)
    base_edits = validate_edits(
        city,
        [
            {"type": "hazard_zone", "polygon": _box(city, 0.0, 0.0, 0.45, 0.5), "name": "flood"},
            # a base edit on the roads: the variants get the base's closed road too
            {"type": "close_road", "edge_ids": [RoadEdge.objects.filter(city=city).first().pk]},
        ],
    )
    scenario = Scenario.objects.create(city=city, name="base", owner=owner, edits=base_edits)
    candidates = list(
        Building.objects.filter(city=city).order_by("-residents").values_list("id", flat=True)[:2]
    )
    builds, hits = evacuation.BASE_INPUTS.builds, evacuation.BASE_INPUTS.hits
    # a grid over the mobilisation time, shelters at candidate sites, roads closed in an area
    sweeps = [
        services.create_sweep(scenario, "evacuation", {}, generator, owner, chunk_size=2)
        for generator in (
            {"kind": "parameter_grid", "axes": {"mobilisation_scale_min": [5, 20, 40]}},
            {"kind": "shelter_sites", "candidates": candidates, "capacity": 80},
            {"kind": "close_links_in_area", "bbox": _bbox(city, 0.4, 0.0, 0.6, 0.5)},
        )
    ]
    results = [r for sweep in sweeps for r in _run_sweep_here(sweep)]
    assert len(results) >= 6 and all(r.error is None for r in results), results
    # the base's inputs were built once in this worker, for all three sweeps' variants
    assert evacuation.BASE_INPUTS.builds - builds == 1
    assert evacuation.BASE_INPUTS.hits - hits == len(results) - 1
    # shelters and closures changed the result (the base was not run for every variant)
    assert len({r.value for r in results}) > 3
    for r in results:
        sweep = next(s for s in sweeps if s.pk == r.sweep_id)
        plain = _plain_run(
            city, owner, base_edits + r.variant.edits, "evacuation",
            {**sweep.params, **r.variant.params},
        )  # fmt: skip
        assert plain.job.status == "succeeded", plain.job.error
        assert r.kpis == plain.kpis, r.variant.label
        assert r.warnings == plain.warnings, r.variant.label


def _bbox(city: City, x0: float, y0: float, x1: float, y1: float) -> list[float]:
    ring = _box(city, x0, y0, x1, y1)["coordinates"][0]
    return [ring[0][0], ring[0][1], ring[2][0], ring[2][1]]


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_traffic_variants_build_the_demand_model_once(owner):
    city = _city("ReuseTraffic", links=120, seed=7)
    scenario = Scenario.objects.create(city=city, name="base", owner=owner)
    demand, graphs = traffic.MODEL_DEMAND.builds, traffic.BASE_GRAPHS.builds
    sweep = services.create_sweep(
        scenario, "traffic", {"gap": 1e-6}, {"kind": "close_links_in_area",
                                             "bbox": _bbox(city, 0.3, 0.3, 0.6, 0.6)}, owner,
        chunk_size=3,
    )  # fmt: skip

    results = _run_sweep_here(sweep)
    assert len(results) >= 3 and all(r.error is None for r in results)
    # the base equilibrium and every variant: one demand model, one base graph
    assert traffic.MODEL_DEMAND.builds - demand == 1
    assert traffic.BASE_GRAPHS.builds - graphs == 1
    assert all(r.kpis["warm_started"] for r in results)
    for r in results[:3]:
        plain = _plain_run(city, owner, r.variant.edits, "traffic", sweep.params)
        assert plain.job.status == "succeeded", plain.job.error
        assert r.kpis["trips"] == plain.kpis["trips"]  # the same demand, exactly
        assert r.kpis["vehicle_hours"] == pytest.approx(plain.kpis["vehicle_hours"], rel=1e-4)


@pytest.mark.django_db(transaction=True, databases=["default", "progress"])
def test_a_parameter_a_run_refuses_is_stored_as_every_job_error(owner):
    """``{"field", "message"}``, as ``Job.fail`` stores a lost or failed job's error."""
    city = _city("ReuseErrors", links=40, seed=8)
    zone = _box(city, 0, 0, 0.3, 0.3)
    edits = validate_edits(city, [{"type": "hazard_zone", "polygon": zone}])
    from django.contrib.gis.geos import GEOSGeometry

    inside = GEOSGeometry(str(zone).replace("'", '"'))
    one = [
        next(b.pk for b in Building.objects.filter(city=city) if not b.footprint.intersects(inside))
    ]
    plain = _plain_run(
        city, owner, edits, "shelter_siting",
        {"candidates": "buildings", "candidate_buildings": list(one), "p": 2},
    )  # fmt: skip
    assert plain.job.status == "failed"
    assert set(plain.job.error) == {"field", "message"}
    assert plain.job.error["field"] == "params.p"
    assert "cannot open 2 of 1 candidate sites" in plain.job.error["message"]
    lost = Job.objects.create(kind="run_traffic", status=Job.Status.RUNNING)
    lost.fail({"field": "run", "message": "the worker was lost"})
    assert set(Job.objects.get(pk=lost.pk).error) == set(plain.job.error)
