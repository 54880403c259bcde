"""What-if sweeps: variants through the edit registry, fanned out over real Celery workers
started as the documented remote workers (``bin/citytwin worker``), a worker killed with
SIGKILL mid-sweep, and a ranking with a known answer (one bridge between two halves)."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from jobs.models import Job
from layers.models import RoadEdge

from .cities import tiny_city
from .conftest import REPO_ROOT, wait_for_job


def _db_url() -> str:
    base = settings.DATABASES["default"]
    return f"postgis://{base['USER']}@{base['HOST']}:{base['PORT']}/{base['NAME']}"


def start_remote_workers(folders: list[Path], names: list[str], **env_extra: str):
    """``bin/citytwin worker`` as docs/sweeps.md starts it on another machine: the URLs on the
    command line, a working folder of its own, none of the test process's settings. Started
    together, returned once each one is ready."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CITYTWIN_MEDIA_ROOT")
        and not k.startswith("PYTEST_")
    }
    env.update(env_extra)
    procs = []
    for folder, name in zip(folders, names, strict=True):
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "worker.log", "w")  # noqa: SIM115 (the worker writes it while it runs)
        procs.append(
            subprocess.Popen(
                [
                    str(REPO_ROOT / "bin" / "citytwin"),
                    "worker",
                    "--broker",
                    settings.CELERY_BROKER_URL,
                    "--database",
                    _db_url(),
                    "--name",
                    name,
                ],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        )
    deadline = time.monotonic() + 180
    for proc, folder in zip(procs, folders, strict=True):
        while "ready." not in (folder / "worker.log").read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                for other in procs:
                    stop_remote_worker(other)
                raise RuntimeError((folder / "worker.log").read_text()[-3000:])
            time.sleep(0.2)
    return procs


def stop_remote_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def remote_workers(tmp_path_factory, django_db_setup, django_db_blocker):
    """Three workers started as remote ones, each in a temporary folder of its own, on the test
    database and broker; a visibility timeout of 8 s so a killed worker's chunk comes back
    quickly (chunks take about a second). ``(names, processes, folders)``."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    root = tmp_path_factory.mktemp("remote")
    names = [f"remote{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    folders = [root / n for n in names]
    procs = start_remote_workers(folders, names, CITYTWIN_VISIBILITY_TIMEOUT_S="8")
    yield names, procs, folders
    for proc in procs:  # all told at once, then waited for
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        stop_remote_worker(proc)


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username=f"planner-{uuid.uuid4().hex[:6]}")


def _client(user):
    """A client signed in by API token (as the DRF views, the plain ranking view and the OGC
    views all read it)."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _scenario(city, owner):
    from citytwin.scenarios.models import Scenario

    return Scenario.objects.create(city=city, name="base", owner=owner)


# -- without a worker: generators, validation, API errors ------------------------------------


@pytest.mark.django_db
def test_generators_make_validated_compact_variants_and_bad_input_names_the_field(owner):
    from citytwin.sweeps.models import Sweep, Variant

    city = tiny_city("SweepGen", links=40, seed=2, bridge=True)
    scenario = _scenario(city, owner)
    api = _client(owner)
    listed = api.get("/api/sweeps/generators/").json()["generators"]
    assert {g["kind"] for g in listed} >= {
        "close_busiest_links", "close_links_in_area", "close_bridges", "shelter_sites",
        "utility_outages", "parameter_grid", "random_combinations",
    }  # fmt: skip
    assert all(g["schema"]["properties"]["kind"]["const"] == g["kind"] for g in listed)

    def post(body):
        return api.post("/api/sweeps/", {"scenario": scenario.pk, **body}, format="json")

    bad = [
        ({"simulator": "traffic", "generator": {"kind": "close_busiest_links"}}, "generator.n"),
        ({"simulator": "traffic", "generator": {"kind": "close_busiest_links", "n": 0}},
         "generator.n"),
        ({"simulator": "traffic", "generator": {"kind": "nope"}}, "generator.kind"),
        ({"simulator": "traffic", "generator": {"kind": ["close_bridges"]}}, "generator.kind"),
        ({"simulator": "traffic", "generator": {"kind": "close_bridges", "factor": 2}},
         "generator.factor"),
        ({"simulator": "nope", "generator": {"kind": "close_bridges"}}, "simulator"),
        ({"simulator": "traffic", "params": [1], "generator": {"kind": "close_bridges"}},
         "params"),
        ({"simulator": "solar", "generator": {"kind": "close_bridges"}}, "simulator"),
        ({"simulator": "traffic", "params": {"gap": -1}, "generator": {"kind": "close_bridges"}},
         "params.gap"),
        ({"simulator": "traffic", "generator": {"kind": "parameter_grid",
                                               "axes": {"gap": [1e-4, -3]}}},
         "generator.axes.gap"),
        ({"simulator": "traffic", "generator": {"kind": "close_links_in_area",
                                               "bbox": [0, 0, 0.001, 0.001]}},
         "generator.bbox"),
        ({"simulator": "traffic", "generator": {"kind": "shelter_sites", "candidates": [-5]}},
         "generator.candidates"),
        ({"simulator": "traffic", "generator": {"kind": "random_combinations", "size": 2,
                                               "count": 3, "of": {"kind": "close_bridges",
                                                                  "wrong": 1}}},
         "generator.of.wrong"),
    ]  # fmt: skip
    for body, field in bad:
        response = post(body)
        assert response.status_code == 400, (body, response.content)
        assert response.json()["field"] == field, (body, response.json())
    assert api.post("/api/sweeps/", {"scenario": 10**9, "simulator": "traffic",
                                     "generator": {"kind": "close_bridges"}},
                    format="json").json()["field"] == "scenario"  # fmt: skip
    assert not Sweep.objects.exists()  # nothing half-written

    # the one bridge is the one road that cuts the network in two
    response = post({"simulator": "traffic", "generator": {"kind": "close_bridges"}})
    assert response.status_code == 201, response.content
    sweep = Sweep.objects.get(pk=response.json()["id"])
    (variant,) = Variant.objects.filter(sweep=sweep)
    assert variant.feature_ids == city.bridge_ids
    assert [(e["type"], e["edge_ids"]) for e in variant.edits] == [("close_road", city.bridge_ids)]
    assert variant.label.startswith("Close ")

    # seeded combinations: the same seed gives the same variants, each two links closed
    spec = {"kind": "random_combinations", "size": 2, "count": 5, "seed": 4,
            "of": {"kind": "close_links_in_area", "bbox": [-180, -90, 180, 90]}}  # fmt: skip
    first = post({"simulator": "traffic", "generator": spec}).json()
    second = post({"simulator": "traffic", "generator": spec}).json()
    a = list(Variant.objects.filter(sweep=first["id"]).values_list("input_checksum", flat=True))
    b = list(Variant.objects.filter(sweep=second["id"]).values_list("input_checksum", flat=True))
    assert a == b and len(set(a)) == 5
    assert all(len(v.feature_ids) == 2 for v in Variant.objects.filter(sweep=first["id"]))
    # a parameter grid: parameters only, no edits
    grid = post(
        {
            "simulator": "traffic",
            "generator": {
                "kind": "parameter_grid",
                "axes": {"peak_hour_factor": [0.8, 1.0], "gap": [1e-3, 1e-4]},
            },
        }
    ).json()
    assert grid["variants_total"] == 4  # fmt: skip
    made = Variant.objects.filter(sweep=grid["id"])
    assert {(v.params["peak_hour_factor"], v.params["gap"]) for v in made} == {
        (0.8, 1e-3), (0.8, 1e-4), (1.0, 1e-3), (1.0, 1e-4)
    }  # fmt: skip
    assert all(v.edits == [] for v in made)
    # someone who may not see the base scenario sees no sweep of it
    from django.contrib.auth import get_user_model

    stranger = get_user_model().objects.create_user(username=f"x-{uuid.uuid4().hex[:6]}")
    assert _client(stranger).get(f"/api/sweeps/{sweep.pk}/").status_code == 404
    assert _client(stranger).get("/api/sweeps/").json()["sweeps"] == []
    assert _client(stranger).get(f"/api/sweeps/{sweep.pk}/ranking/").status_code == 404
    assert api.get(f"/api/sweeps/?city={city.pk}").json()["sweeps"][0]["scenario"] == scenario.pk


@pytest.mark.django_db
def test_two_resumes_at_once_make_one_job(owner):
    """Two resume requests that both read the cancelled sweep before either wrote (a double
    click): one resumes, the other is a 409, and no job is left queued that nothing runs."""
    from citytwin.sweeps import services
    from citytwin.sweeps.generators import SweepRejected
    from citytwin.sweeps.models import Sweep

    city = tiny_city("SweepResume", links=40, seed=3, bridge=True)
    api = _client(owner)
    made = api.post(
        "/api/sweeps/",
        {"scenario": _scenario(city, owner).pk, "simulator": "traffic",
         "generator": {"kind": "close_bridges"}},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    pk = made.json()["id"]
    assert api.post(f"/api/sweeps/{pk}/cancel/").status_code == 200
    first, second = Sweep.objects.get(pk=pk), Sweep.objects.get(pk=pk)
    resumed = services.resume_sweep(first, owner)
    with pytest.raises(SweepRejected) as refused:
        services.resume_sweep(second, owner)
    assert refused.value.status == 409
    assert Sweep.objects.get(pk=pk).job_id == resumed.job_id
    assert Job.objects.filter(kind="sweep", params__scenario=made.json()["scenario"]).count() == 2


@pytest.mark.django_db
def test_a_sweep_without_its_starter_reuses_no_private_run(owner):
    """A sweep whose starter was deleted must not copy a private run's id into a ranking that
    everyone who sees the base scenario reads."""
    from django.contrib.auth import get_user_model

    from citytwin.scenarios.models import Run, Scenario
    from citytwin.sweeps.models import Sweep, Variant
    from citytwin.sweeps.tasks import VariantRunner

    city = tiny_city("SweepOrphan", links=40, seed=4, bridge=True)
    base = Scenario.objects.create(city=city, name="open", owner=owner, public=True)
    made = _client(owner).post(
        "/api/sweeps/",
        {"scenario": base.pk, "simulator": "traffic", "generator": {"kind": "close_bridges"}},
        format="json",
    )
    assert made.status_code == 201, made.content
    sweep = Sweep.objects.get(pk=made.json()["id"])
    (variant,) = Variant.objects.filter(sweep=sweep)

    def succeeded_run(scenario, checksum):
        job = Job.objects.create(kind="run_traffic", status=Job.Status.SUCCEEDED)
        return Run.objects.create(
            job=job, scenario=scenario, scenario_version=scenario.version, edits=[],
            simulator="traffic", params={}, engine_version="x", input_checksum=checksum,
            kpis={"vehicle_hours": 10.0, "unassignable_trips": 0},
        )  # fmt: skip

    Sweep.objects.filter(pk=sweep.pk).update(base_run=succeeded_run(base, "base"))
    stranger = get_user_model().objects.create_user(username=f"p-{uuid.uuid4().hex[:6]}")
    private = Scenario.objects.create(city=city, name="mine", owner=stranger)
    secret = succeeded_run(private, variant.input_checksum)
    Job.objects.filter(pk=sweep.job_id).update(owner=None)  # the starter's account deleted
    sweep = Sweep.objects.select_related("job", "base_run").get(pk=sweep.pk)
    assert VariantRunner(sweep, "test")._reuse(variant) is None
    private.public = True
    private.save(update_fields=["public"])
    assert VariantRunner(sweep, "test")._reuse(variant)["run"] == secret.pk


def test_a_reused_private_run_is_named_in_the_ranking_only_to_who_may_see_it(owner):
    """A variant may reuse a run of its starter's private scenario: the ranking (read by all
    who see the base scenario) names that run only to those who may see its scenario."""
    from django.contrib.auth import get_user_model

    from citytwin.scenarios.models import Run, Scenario
    from citytwin.sweeps import services
    from citytwin.sweeps.models import Sweep, Variant, VariantResult

    city = tiny_city("SweepRunIds", links=40, seed=5, bridge=True)
    base = Scenario.objects.create(city=city, name="open", owner=owner, public=True)
    made = _client(owner).post(
        "/api/sweeps/",
        {"scenario": base.pk, "simulator": "traffic", "generator": {"kind": "close_bridges"}},
        format="json",
    )
    assert made.status_code == 201, made.content
    sweep = Sweep.objects.get(pk=made.json()["id"])
    (variant,) = Variant.objects.filter(sweep=sweep)
    private = Scenario.objects.create(city=city, name="mine", owner=owner)
    job = Job.objects.create(kind="run_traffic", status=Job.Status.SUCCEEDED)
    mine = Run.objects.create(
        job=job, scenario=private, scenario_version=private.version, edits=[],
        simulator="traffic", params={}, engine_version="x", input_checksum="c",
        kpis={"vehicle_hours": 12.0, "unassignable_trips": 0},
    )  # fmt: skip
    VariantResult.objects.create(
        sweep=sweep, variant=variant, kpis=mine.kpis, value=12.0, delta=2.0, run=mine,
        reused=True,
    )  # fmt: skip
    reader = get_user_model().objects.create_user(username=f"r-{uuid.uuid4().hex[:6]}")
    assert services.ranking(sweep, user=owner)["rows"][0]["run"] == str(mine.pk)
    (row,) = services.ranking(sweep, user=reader)["rows"]
    assert row["run"] is None and row["value"] == 12.0
    got = _client(reader).get(f"/api/sweeps/{sweep.pk}/ranking/?format=csv")
    assert got.status_code == 200 and str(mine.pk) not in got.content.decode()
    bad = _client(reader).get(f"/api/sweeps/{sweep.pk}/ranking/?limit=0")
    assert bad.status_code == 400 and bad.json()["field"] == "limit"


# -- with workers ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_bridge_closure_ranks_first_and_the_ranking_downloads(owner, tmp_path, remote_workers):
    from citytwin.sweeps.models import VariantResult

    city = tiny_city("SweepBridge", links=40, seed=2, bridge=True)
    scenario = _scenario(city, owner)
    api = _client(owner)
    created = api.post(
        "/api/sweeps/",
        {"scenario": scenario.pk, "simulator": "traffic", "chunk_size": 8,
         "generator": {"kind": "close_links_in_area", "bbox": [-180, -90, 180, 90]}},
        format="json",
    ).json()  # fmt: skip
    n_links = RoadEdge.objects.filter(city=city).count()
    assert created["variants_total"] == n_links
    from jobs.models import Job

    job = wait_for_job(Job.objects.get(sweep__pk=created["id"]).pk, timeout_s=180)
    assert job.status == "succeeded", job.error
    detail = api.get(f"/api/sweeps/{created['id']}/").json()
    assert detail["progress"] == {"done": n_links, "total": n_links, "failed": 0}
    assert detail["metric"]["unit"] == "h" and detail["base_run"]
    ranking = api.get(f"/api/sweeps/{created['id']}/ranking/").json()
    rows = ranking["rows"]
    assert len(rows) == n_links and ranking["order"] == "most harmful first"
    # each direction of the bridge strands the trips crossing that way: the top two
    assert sorted(r["feature"]["ids"][0] for r in rows[:2]) == city.bridge_ids
    # cut, the bridge strands more trips than any other closure (a dead end strands its own)
    stranded = [r["kpis"]["unassignable_trips"] for r in rows]
    assert min(stranded[:2]) > max(stranded[2:])
    # every closure keeps the base's links and demand: each re-assigned from the base
    # equilibrium (simulators.traffic.warm), the bridge's stranded trips included
    assert all(r["kpis"]["warm_started"] is True for r in rows)
    assert rows[1]["delta"] > rows[2]["delta"] >= rows[-1]["delta"]
    assert [r["rank"] for r in rows] == list(range(1, n_links + 1))
    # the delta is the change from the base run, in the metric's unit
    from citytwin.scenarios.models import Run

    base = Run.objects.get(pk=detail["base_run"])
    top = VariantResult.objects.get(sweep_id=created["id"], variant__index=rows[0]["variant"])
    assert top.delta == pytest.approx(
        top.value - (base.kpis["vehicle_hours"] + base.kpis["unassignable_trips"])
    )
    # downloads: CSV, GeoJSON (geometry = the closed link), GeoPackage; the OGC collection
    text = api.get(f"/api/sweeps/{created['id']}/ranking/?format=csv").content.decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert table[0]["label"] == rows[0]["label"] and "delta_h" in table[0]
    geo = api.get(f"/api/sweeps/{created['id']}/ranking/?format=geojson").json()
    assert geo["features"][0]["geometry"]["type"] == "LineString"
    gpkg = api.get(f"/api/sweeps/{created['id']}/ranking/?format=gpkg")
    path = tmp_path / "ranking.gpkg"
    path.write_bytes(gpkg.content)
    import geopandas as gpd

    assert len(gpd.read_file(path)) == n_links
    assert api.get(f"/api/sweeps/{created['id']}/ranking/?format=xls").json()["field"] == "format"
    items = api.get(
        f"/ogc/collections/sweep-results/items?sweep={created['id']}&limit=100&f=json"
    ).json()
    assert items["numberMatched"] == n_links
    # a finished sweep neither cancels nor resumes
    assert api.post(f"/api/sweeps/{created['id']}/cancel/").status_code == 409
    assert api.post(f"/api/sweeps/{created['id']}/resume/").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_sweep_and_resume_runs_only_what_is_missing(owner, remote_workers):
    from citytwin.sweeps.models import VariantResult
    from jobs.models import Job

    city = tiny_city("SweepCancel", links=30, seed=3)
    api = _client(owner)
    values = [round(0.25 + 0.05 * i, 2) for i in range(16)]  # 0.25 ... 1.0
    created = api.post(
        "/api/sweeps/",
        {"scenario": _scenario(city, owner).pk, "simulator": "traffic", "chunk_size": 2,
         "generator": {"kind": "parameter_grid", "axes": {"peak_hour_factor": values}}},
        format="json",
    ).json()  # fmt: skip
    sweep_id = created["id"]
    deadline = time.monotonic() + 120
    while not VariantResult.objects.filter(sweep_id=sweep_id).exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = api.post(f"/api/sweeps/{sweep_id}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    time.sleep(3)  # a variant that was running when the cancel came may still end
    stopped = VariantResult.objects.filter(sweep_id=sweep_id).count()
    time.sleep(2)
    assert VariantResult.objects.filter(sweep_id=sweep_id).count() == stopped < 16
    assert api.post(f"/api/sweeps/{sweep_id}/cancel/").status_code == 409
    resumed = api.post(f"/api/sweeps/{sweep_id}/resume/")
    assert resumed.status_code == 202 and resumed.json()["status"] == "queued"
    job = wait_for_job(Job.objects.get(sweep__pk=sweep_id).pk, timeout_s=180)
    assert job.status == "succeeded", job.error
    assert VariantResult.objects.filter(sweep_id=sweep_id).count() == 16
    ranking = api.get(f"/api/sweeps/{sweep_id}/ranking/").json()
    assert ranking["order"] == "best first"
    # demand is divided by the peak hour factor: the highest one (fewest trips) ranks best
    assert ranking["rows"][0]["params"] == {"peak_hour_factor": 1.0}
    assert ranking["rows"][-1]["params"] == {"peak_hour_factor": 0.25}


@pytest.mark.django_db(transaction=True)
def test_sigkilled_worker_loses_nothing_and_three_remote_workers_share_the_sweep(
    owner, remote_workers
):
    """200 variants over 3 workers started as remote workers in folders of their own; one is
    killed with SIGKILL (its whole process group) after its first results: its chunk comes back
    after the broker's visibility timeout, and every variant ends with exactly one result."""
    from citytwin.sweeps.models import Variant, VariantResult
    from jobs.models import Job

    city = tiny_city("SweepKill", links=30, seed=5)
    scenario = _scenario(city, owner)
    names, workers, folders = remote_workers
    try:
        created = _client(owner).post(
            "/api/sweeps/",
            {"scenario": scenario.pk, "simulator": "traffic", "chunk_size": 4,
             "generator": {"kind": "random_combinations", "size": 2, "count": 200, "seed": 7,
                           "of": {"kind": "close_links_in_area", "bbox": [-180, -90, 180, 90]}}},
            format="json",
        ).json()  # fmt: skip
        assert created["variants_total"] == 200
        sweep_id = created["id"]
        victim = names[0]
        deadline = time.monotonic() + 120
        while not VariantResult.objects.filter(sweep_id=sweep_id, worker__startswith=victim):
            assert time.monotonic() < deadline, "the first worker never got a chunk"
            time.sleep(0.05)
        before = VariantResult.objects.filter(sweep_id=sweep_id).count()
        stop_remote_worker(workers[0], signal.SIGKILL)
        assert before < 200  # killed in the middle
        job = wait_for_job(Job.objects.get(sweep__pk=sweep_id).pk, timeout_s=240)
        assert job.status == "succeeded", job.error
    finally:
        stop_remote_worker(workers[0], signal.SIGKILL)
    results = VariantResult.objects.filter(sweep_id=sweep_id)
    assert results.count() == 200
    assert set(results.values_list("variant_id", flat=True)) == set(
        Variant.objects.filter(sweep_id=sweep_id).values_list("id", flat=True)
    )
    assert not results.filter(error__isnull=False).exists()
    did = {n: results.filter(worker__startswith=n + "@").count() for n in names}
    assert all(count > 0 for count in did.values()), did
    # no shared files: each worker worked in its own folder, and wrote nowhere in the clone
    assert not (REPO_ROOT / "citytwin-media").exists()
    for folder in folders:
        assert folder.parent != REPO_ROOT and list(folder.iterdir()) == [folder / "worker.log"]
        assert (folder / "worker.log").read_text().count("sweeps.run_chunk") > 0
