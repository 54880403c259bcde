"""Celery tasks of a sweep: ``sweeps.prepare`` (the base run, the variants that need it, the
chunks sent) and ``sweeps.run_chunk`` (variants run, one result each), see :mod:`.fanout`.

A variant runs the simulator's own runner (``Simulator.run``, or ``Simulator.run_variant``
when the capability can start from the base run's state) on the base's edits plus the
variant's, in a transaction that is rolled back: the runner writes its per-link or
per-building rows as for any run, and only the KPIs, the metric value and its change from the
base are kept (a 1,000-variant sweep of a 20k-link city would otherwise store 20 million edge
rows nobody reads; a variant worth a closer look is made a scenario and run). An identical
earlier run (same input checksum, visible to the sweep's starter) or an identical variant's
result is reused instead of computing again.
"""

from __future__ import annotations

import logging
import os
import time

from celery import shared_task
from django.db import transaction

from citytwin.scenarios import capabilities
from citytwin.scenarios.models import Run, Scenario
from citytwin.scenarios.services import scenarios_visible_to, start_run
from citytwin.scenarios.tasks import _simulate
from jobs.models import Job
from jobs.progress import JobCancelled
from jobs.runner import Heartbeat, JobKind, kind_of, register_kind, run_job, worker_name

from . import fanout, generators
from .generators import SweepRejected
from .models import Sweep, Variant, VariantResult

log = logging.getLogger(__name__)

SWEEP = register_kind(
    JobKind(prefix="sweep", field="sweep", retry_hint="resume the sweep", reap=False)
)


def _sweep(sweep_id: int, job_id: str) -> Sweep | None:
    """The sweep if ``job_id`` is still its job (a chunk of a job replaced by a resume, or of a
    deleted sweep, does nothing)."""
    sweep = (
        Sweep.objects.select_related("job", "job__owner", "scenario__city", "base_run")
        .filter(pk=sweep_id)
        .first()
    )
    if sweep is None or str(sweep.job_id) != str(job_id):
        return None
    return sweep


@shared_task(name="sweeps.prepare", acks_late=True, bind=True)
def prepare(self, sweep_id: int, job_id: str) -> int:
    """Start the sweep's job, get the base run (reused or run here), make the variants that
    need it, and send a chunk task for every chunk of variants without a result. Safe to run
    twice. Returns the number of chunks sent."""
    sweep = _sweep(sweep_id, job_id)
    if sweep is None:
        return 0
    job = sweep.job
    if job.status == Job.Status.QUEUED:
        job.start(worker_name(self), getattr(self.request, "id", "") or "")
    if job.status_in_db() != Job.Status.RUNNING:
        return 0
    heartbeat = Heartbeat(job)
    heartbeat.start()
    try:
        job.write_progress(0.0, "the base run", using="default")
        base = base_run(sweep)
        if base.job.status != Job.Status.SUCCEEDED:
            message = (base.job.error or {}).get("message", base.job.status)
            job.fail({"field": "scenario", "message": f"the base run failed: {message}"})
            return 0
        if not Variant.objects.filter(sweep=sweep).exists():
            with transaction.atomic():
                from .services import make_variants

                make_variants(sweep)
        sent = send_chunks(sweep)
    except SweepRejected as exc:
        job.fail({"field": exc.field, "message": exc.message})
        return 0
    except Exception as exc:
        log.exception("sweep %s: preparing failed", sweep.pk)
        job.fail({"field": "sweep", "message": f"{type(exc).__name__}: {exc}"})
        return 0
    finally:
        heartbeat.stop()
    finish_if_complete(sweep)
    return sent


def base_run(sweep: Sweep) -> Run:
    """The run of the simulator on the sweep's base (its edits as they were at the start):
    an identical succeeded run is reused, else it runs here, in this worker."""
    if sweep.base_run_id and sweep.base_run.job.status == Job.Status.SUCCEEDED:
        return sweep.base_run
    scenario = Scenario.objects.select_related("city").get(pk=sweep.scenario_id)
    scenario.edits, scenario.version = sweep.base_edits, sweep.scenario_version  # pinned
    run, reused = start_run(
        scenario, sweep.simulator, sweep.params, sweep.job.owner, reuse=True, enqueue=False
    )
    if not reused:
        run_job(run.job_id, _simulate)
    run = Run.objects.select_related("job").get(pk=run.pk)
    Sweep.objects.filter(pk=sweep.pk).update(base_run=run)
    sweep.base_run = run
    return run


def send_chunks(sweep: Sweep) -> int:
    """One ``run_chunk`` task per chunk of variants that have no result yet."""
    todo = list(
        Variant.objects.filter(sweep=sweep, result__isnull=True)
        .order_by("index")
        .values_list("id", flat=True)
    )
    chunks = fanout.chunked(todo, sweep.chunk_size)
    for chunk in chunks:
        run_chunk.delay(sweep.pk, str(sweep.job_id), chunk)
    return len(chunks)


@shared_task(name="sweeps.run_chunk", acks_late=True, bind=True)
def run_chunk(self, sweep_id: int, job_id: str, variant_ids: list[int]) -> int:
    """Run the chunk's variants that have no result yet; returns how many ran."""
    sweep = _sweep(sweep_id, job_id)
    if sweep is None:
        return 0
    runner = VariantRunner(sweep, worker_name(self))
    variants = list(Variant.objects.filter(pk__in=variant_ids).order_by("index"))
    count = fanout.run_chunk(
        sweep.job,
        variants,
        stored=lambda vs: set(
            VariantResult.objects.filter(sweep=sweep, variant__in=vs).values_list(
                "variant_id", flat=True
            )
        ),
        compute_and_store=lambda v: runner.store(v, runner.compute(v)),
        key=lambda v: v.pk,
    )
    finish_if_complete(sweep)
    return count


class VariantRunner:
    """Runs the variants of one sweep in this worker (see the module)."""

    def __init__(self, sweep: Sweep, worker: str):
        self.sweep, self.worker = sweep, worker
        self.spec = capabilities.get(sweep.simulator)
        self.metric = self.spec.sweep_metric
        self.owner = sweep.job.owner
        self.base = sweep.base_run
        self.base_value = self.metric.value(self.base.kpis)
        # CITYTWIN_SWEEP_REUSE=0 (benchmarks: bench/sweeps_links.py): every variant from
        # scratch, without the base's state or inputs, to measure what reuse saves
        self.reuse_base = os.environ.get("CITYTWIN_SWEEP_REUSE", "1") != "0"

    def compute(self, variant: Variant) -> dict:
        """``{"kpis", "warnings", "run", "reused", "error", "seconds"}`` of one variant."""
        started = time.perf_counter()
        try:
            out = self._reuse(variant) or self._run(variant)
        except JobCancelled:
            raise
        except Exception as exc:  # one variant's failure is its row, not the sweep's end
            log.warning("sweep %s variant %s failed: %s", self.sweep.pk, variant.index, exc)
            out = {"error": f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"}
        return {"seconds": time.perf_counter() - started, **out}

    def _reuse(self, variant: Variant) -> dict | None:
        # a sweep without a starter (the user deleted) reuses only what everyone may see: its
        # ranking names the reused run, and the ranking is open to all who see the base
        visible = scenarios_visible_to(self.owner)
        run = (
            Run.objects.filter(
                input_checksum=variant.input_checksum,
                scenario__in=visible,
                job__status=Job.Status.SUCCEEDED,
            )
            .only("pk", "kpis", "warnings")
            .first()
        )
        if run is not None:
            return {"kpis": run.kpis, "warnings": run.warnings, "run": run.pk, "reused": True}
        other = (
            VariantResult.objects.filter(
                variant__input_checksum=variant.input_checksum,
                error__isnull=True,
                sweep__scenario__in=visible,
            )
            .only("kpis", "warnings")
            .first()
        )
        if other is not None:
            return {"kpis": other.kpis, "warnings": other.warnings, "reused": True}
        return None

    def _run(self, variant: Variant) -> dict:
        sweep, spec = self.sweep, self.spec
        params = spec.clean_params({**sweep.params, **variant.params}, sweep.base_edits)
        job = sweep.job
        last = [time.monotonic()]

        def progress(fraction: float, stage: str) -> None:
            # the sweep's cancel is noticed inside a long variant too
            if time.monotonic() - last[0] > 1.0:
                last[0] = time.monotonic()
                if job.status_in_db("progress") != Job.Status.RUNNING:
                    raise JobCancelled(f"sweep {sweep.pk} is {job.status_in_db('progress')}")

        with transaction.atomic():
            run_job_row = Job.objects.create(
                kind=f"run_{spec.name}",
                status=Job.Status.RUNNING,
                owner=self.owner,
                params={"sweep": sweep.pk, "variant": variant.index},
                stage="sweep variant",
            )
            run = Run.objects.create(
                job=run_job_row,
                scenario=sweep.scenario,
                scenario_version=sweep.scenario_version,
                edits=sweep.base_edits + variant.edits,
                simulator=spec.name,
                params=params,
                engine_version=spec.engine_version,
                input_checksum=variant.input_checksum,
            )
            try:
                if spec.run_variant is not None:
                    base = self.base if self.reuse_base else None
                    kpis = spec.run_variant(run, base, progress)
                else:
                    kpis = spec.run(run, progress)
                warnings = list(run.warnings)
            finally:
                # the per-link/per-building rows go: a sweep keeps the KPIs (module docstring)
                transaction.set_rollback(True)
        kind_of(run_job_row.kind).discard(run_job_row)  # files the runner wrote (rasters)
        return {"kpis": kpis, "warnings": warnings, "reused": False}

    def store(self, variant: Variant, out: dict) -> None:
        """Write the variant's result once (a second write of the same variant does nothing)."""
        kpis = out.get("kpis") or {}
        value = delta = None
        if out.get("error") is None:
            value = self.metric.value(kpis)
            delta = value - self.base_value
        VariantResult.objects.bulk_create(
            [
                VariantResult(
                    sweep=self.sweep,
                    variant=variant,
                    kpis=kpis,
                    value=value,
                    delta=delta,
                    error=out.get("error"),
                    warnings=out.get("warnings") or [],
                    run_id=out.get("run"),
                    reused=bool(out.get("reused")),
                    geom=variant.geom,
                    worker=self.worker[:200],
                    seconds=out.get("seconds", 0.0),
                )
            ],
            ignore_conflicts=True,
        )


def finish_if_complete(sweep: Sweep) -> bool:
    """Write the progress; mark the job succeeded once every variant has its result."""
    from .services import progress_of

    sweep.refresh_from_db(fields=["variants_total"])
    p = progress_of(sweep)
    job = sweep.job
    if not Variant.objects.filter(sweep=sweep).exists():
        return False
    total = Variant.objects.filter(sweep=sweep).count()
    stage = f"{p['done']} of {total} variants" + (f" ({p['failed']} failed)" if p["failed"] else "")
    job.write_progress(100.0 * p["done"] / max(total, 1), stage, using="default")
    if p["done"] < total:
        return False
    reused = VariantResult.objects.filter(sweep=sweep, reused=True).count()
    order = "best first" if generators.get(sweep.generator).best_first else "most harmful first"
    with transaction.atomic():
        return job.succeed(
            {"variants": total, "failed": p["failed"], "reused": reused, "ranking": order}
        )
