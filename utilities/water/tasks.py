"""Criticality sweeps: every pipe of a network out once, in chunks on the Celery workers.

A sweep is one ``water_criticality`` job; its pipes are cut into chunks, each one Celery task
(``acks_late``: a chunk whose worker died is delivered again). A chunk's results are written
with ``ON CONFLICT DO NOTHING`` on (sweep, pipe), so a chunk done twice writes once; the chunk
that writes the last pipe marks the job succeeded. Each chunk runs EPANET in a temporary folder
of its own (:mod:`simulators.water.criticality`).
"""

from __future__ import annotations

import functools
import logging

from celery import shared_task
from django.db import transaction

from jobs.models import Job
from jobs.runner import Heartbeat, JobKind, register_kind, worker_name
from simulators.water import criticality

from .models import CriticalityRun, PipeCriticality, ServicePoint, WaterLink, WaterNetwork

log = logging.getLogger(__name__)

SWEEP = register_kind(
    JobKind(prefix="water_criticality", field="network", retry_hint="start the sweep again")
)
#: pipes per chunk: small enough to spread over the workers, big enough that opening the
#: EPANET project (a fraction of a second on Net6) is paid rarely
CHUNK_PIPES = 100


@functools.lru_cache(maxsize=4)
def _model(network_id: int, created_at: str):
    """The network's WNTR model and people per junction, once per worker process."""
    from .export import water_model

    network = WaterNetwork.objects.get(pk=network_id)
    people: dict[str, float] = {}
    for name, value in ServicePoint.objects.filter(network=network).values_list(
        "node__name", "people"
    ):
        people[name] = people.get(name, 0.0) + value
    return water_model(network), people


def start_sweep(
    network: WaterNetwork,
    user=None,
    required_pressure_m: float = 20.0,
    minimum_pressure_m: float = 0.0,
    chunk_pipes: int = CHUNK_PIPES,
    pipes: list[int] | None = None,
) -> CriticalityRun:
    """Queue a single-pipe-break sweep of ``network``; returns it (its ``job`` to poll).
    ``pipes``: only these pipe ids (a stated subset, e.g. for a benchmark); default every
    pipe."""
    every = network.links.filter(kind="pipe").order_by("id").values_list("id", flat=True)
    if pipes is not None:
        every = every.filter(id__in=pipes)
    pipes = list(every)
    chunks = [pipes[i : i + chunk_pipes] for i in range(0, len(pipes), chunk_pipes)]
    with transaction.atomic():
        job = Job.objects.create(
            kind="water_criticality",
            owner=user if user is not None and user.is_authenticated else None,
            params={"network": network.pk, "required_pressure_m": required_pressure_m},
            stage="queued",
        )
        sweep = CriticalityRun.objects.create(
            network=network,
            job=job,
            required_pressure_m=required_pressure_m,
            minimum_pressure_m=minimum_pressure_m,
            chunks=len(chunks),
            pipes=len(pipes),
        )
    for chunk in chunks:
        sweep_chunk.delay(sweep.pk, chunk)
    return sweep


@shared_task(name="water.sweep_chunk", acks_late=True, bind=True)
def sweep_chunk(self, sweep_id: int, link_ids: list[int]) -> int:
    """Break each pipe of the chunk once; store what was not stored yet. Returns rows written."""
    sweep = CriticalityRun.objects.select_related("network", "job").filter(pk=sweep_id).first()
    if sweep is None or sweep.job.status in (Job.Status.CANCELLED, Job.Status.FAILED):
        return 0
    job = sweep.job
    if job.status == Job.Status.QUEUED:
        job.start(worker_name(self))
    done = set(
        PipeCriticality.objects.filter(sweep=sweep, link_id__in=link_ids).values_list(
            "link_id", flat=True
        )
    )
    todo = [i for i in link_ids if i not in done]
    heartbeat = Heartbeat(job)  # the reaper must not take a long chunk for a dead worker
    heartbeat.start()
    try:
        _solve(sweep, todo)
    except Exception as exc:  # the sweep cannot complete: say so on the job, log the trace
        log.exception("water sweep %s: chunk failed", sweep.pk)
        job.fail({"field": "network", "message": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        heartbeat.stop()
    _finish_if_complete(sweep)
    return len(todo)


def _solve(sweep: CriticalityRun, todo: list[int]) -> None:
    if todo:
        names = dict(WaterLink.objects.filter(pk__in=todo).values_list("id", "name"))
        network = sweep.network
        wn, people = _model(network.pk, network.created_at.isoformat())
        results = criticality.sweep(
            wn,
            [names[i] for i in todo],
            people,
            sweep.required_pressure_m,
            sweep.minimum_pressure_m,
        )
        ids = {names[i]: i for i in todo}
        PipeCriticality.objects.bulk_create(
            [
                PipeCriticality(
                    sweep=sweep,
                    link_id=ids[r.pipe],
                    people_without_water=r.people_without_water,
                    people_below_required=r.people_below_required,
                    nodes_without_water=r.nodes_without_water,
                    error=r.error,
                )
                for r in results
            ],
            ignore_conflicts=True,
        )


def _finish_if_complete(sweep: CriticalityRun) -> None:
    stored = PipeCriticality.objects.filter(sweep=sweep).count()
    job = sweep.job
    job.write_progress(100.0 * stored / max(sweep.pipes, 1), f"{stored} of {sweep.pipes} pipes")
    if stored < sweep.pipes:
        return
    errors = PipeCriticality.objects.filter(sweep=sweep, error__isnull=False).count()
    with transaction.atomic():
        job.succeed({"pipes": sweep.pipes, "solver_errors": errors, "chunks": sweep.chunks})


def ranking(sweep: CriticalityRun, limit: int = 50) -> list[dict]:
    """Pipes ranked by people without water when they break (then by people at low pressure)."""
    rows = (
        PipeCriticality.objects.filter(sweep=sweep)
        .select_related("link")
        .order_by("-people_without_water", "-people_below_required", "link__name")[:limit]
    )
    return [
        {
            "rank": i + 1,
            "link": r.link.name,
            "link_id": r.link_id,
            "people_without_water": r.people_without_water,
            "people_below_required": r.people_below_required,
            "nodes_without_water": r.nodes_without_water,
            "error": r.error,
        }
        for i, r in enumerate(rows)
    ]
