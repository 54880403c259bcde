"""Sweep services: create, cancel, resume, the variants, the ranking (behind the API and CLI)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from citytwin.scenarios import capabilities
from citytwin.scenarios.capabilities import ParamsRejected
from citytwin.scenarios.edits import EditRejected, validate_edits
from citytwin.scenarios.models import Run
from citytwin.scenarios.services import city_data_of, run_checksum, scenarios_visible_to
from jobs.models import Job

from . import generators
from .generators import Context, SweepRejected
from .models import Sweep, Variant, VariantResult

#: variants per Celery task: a chunk should take well under the broker's visibility timeout
#: (settings.CELERY_BROKER_TRANSPORT_OPTIONS) and a few seconds at least, so that the cost of
#: a task (a database read of the sweep, the city data version) is paid rarely
DEFAULT_CHUNK = 10


def sweeps_visible_to(user) -> QuerySet:
    """Sweeps whose base scenario the user may see (the scenarios' one rule)."""
    return Sweep.objects.filter(scenario__in=scenarios_visible_to(user)).select_related(
        "job", "job__owner", "scenario__city"
    )


def metric_of(spec) -> capabilities.SweepMetric:
    if spec.sweep_metric is None:
        raise SweepRejected("simulator", f"{spec.label} has no sweep metric: it cannot be swept")
    return spec.sweep_metric


def create_sweep(
    scenario,
    simulator: str,
    params,
    generator,
    user,
    name: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> Sweep:
    """Check the request, store the sweep (and its variants when they do not depend on the base
    run) in one transaction, and queue it. Raises :class:`SweepRejected` naming the field."""
    try:
        spec = capabilities.get(simulator)
    except ParamsRejected as exc:
        raise SweepRejected("simulator", exc.message) from None
    metric_of(spec)
    if params is not None and not isinstance(params, dict):
        raise SweepRejected("params", "must be an object of run parameters")
    try:
        clean = spec.clean_params(params if params is not None else {}, scenario.edits)
        if spec.preflight is not None:
            spec.preflight(scenario.city, clean)
    except ParamsRejected as exc:
        body, _ = exc.api_error()
        raise SweepRejected(body["field"], exc.message) from None
    gen = generators.get(generator)
    gen_spec = gen.clean(generator)
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise SweepRejected("name", "must be text of at most 200 characters")
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int)
        or not 1 <= chunk_size <= 1000
    ):
        raise SweepRejected("chunk_size", "must be an integer from 1 to 1000")
    owner = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        job = Job.objects.create(
            kind="sweep",
            owner=owner,
            params={"scenario": scenario.pk, "simulator": simulator},
            stage="queued",
        )
        sweep = Sweep.objects.create(
            scenario=scenario,
            name=name or f"{gen.label} ({spec.label})",
            simulator=simulator,
            params=clean,
            generator=gen_spec,
            base_edits=list(scenario.edits),
            scenario_version=scenario.version,
            job=job,
            chunk_size=chunk_size,
        )
        if generators.needs_base_run(gen_spec):
            sweep.variants_total = gen.expected_count(gen_spec) or 0
            sweep.save(update_fields=["variants_total"])
        else:
            make_variants(sweep)
        transaction.on_commit(lambda: _send_prepare(sweep))
    return sweep


def _send_prepare(sweep: Sweep) -> None:
    from .tasks import prepare

    result = prepare.delay(sweep.pk, str(sweep.job_id))
    Job.objects.filter(pk=sweep.job_id).update(celery_task_id=result.id or "")


def make_variants(sweep: Sweep) -> int:
    """Generate, validate and store the sweep's variants (again: nothing twice); returns how
    many. Each variant's edits pass the edit registry's checks like any scenario's."""
    spec = capabilities.get(sweep.simulator)
    city = sweep.scenario.city
    ctx = Context(
        city=city,
        base_edits=sweep.base_edits,
        simulator=spec,
        params=sweep.params,
        base_run=sweep.base_run,
        user=sweep.job.owner,
    )
    made = generators.get(sweep.generator).generate(ctx, sweep.generator)
    if not made:
        raise SweepRejected("generator", "the generator made no variant")
    city_data = city_data_of(spec, city)
    start = len(sweep.base_edits)
    rows = []
    for index, variant in enumerate(made):
        try:
            edits = validate_edits(city, variant.edits, start_index=start)
            params = spec.clean_params({**sweep.params, **variant.params}, sweep.base_edits + edits)
        except EditRejected as exc:
            words = f"variant {index} ({variant.label}): edits.{exc.field}: {exc.message}"
            raise SweepRejected("generator", words) from None
        except ParamsRejected as exc:
            words = f"variant {index} ({variant.label}): params.{exc.field}: {exc.message}"
            raise SweepRejected("generator", words) from None
        rows.append(
            Variant(
                sweep=sweep,
                index=index,
                label=variant.label[:300],
                edits=edits,
                params=variant.params,
                feature_kind=variant.feature_kind,
                feature_ids=variant.feature_ids,
                geom=variant.geom,
                input_checksum=run_checksum(spec, params, sweep.base_edits + edits, city_data),
            )
        )
    Variant.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    Sweep.objects.filter(pk=sweep.pk).update(variants_total=len(rows))
    sweep.variants_total = len(rows)
    return len(rows)


def cancel_sweep(sweep: Sweep, user) -> Sweep:
    """Cancel a queued or running sweep: no further variant starts (409 when it has ended)."""
    _check_starter(sweep, user)
    if not sweep.job.cancel("cancelled by the user", field="sweep"):
        raise SweepRejected("sweep", f"the sweep is {sweep.job.status_in_db()}", 409)
    sweep.job.refresh_from_db()
    return sweep


def resume_sweep(sweep: Sweep, user) -> Sweep:
    """Run the variants a cancelled or failed sweep has no result for, under a new job."""
    _check_starter(sweep, user)
    with transaction.atomic():
        # the row lock makes two resumes at once (a double click) one resume: the second sees
        # the first's new job, not the cancelled one, and is refused (it would otherwise leave
        # a job queued forever that no task runs, the sweep pointing at the other one)
        locked = Sweep.objects.select_for_update().select_related("job").get(pk=sweep.pk)
        status = locked.job.status_in_db()
        if status not in (Job.Status.CANCELLED, Job.Status.FAILED):
            raise SweepRejected(
                "sweep", f"the sweep is {status}: only a cancelled or failed sweep resumes", 409
            )
        job = Job.objects.create(
            kind="sweep", owner=sweep.job.owner, params=sweep.job.params, stage="queued"
        )
        Sweep.objects.filter(pk=sweep.pk).update(job=job)
        sweep.job = job
        transaction.on_commit(lambda: _send_prepare(sweep))
    return sweep


def _check_starter(sweep: Sweep, user) -> None:
    if user is None or not user.is_authenticated:
        raise SweepRejected("sweep", "sign in to change a sweep", 403)
    if sweep.job.owner_id != user.id and not user.is_staff:
        raise SweepRejected("sweep", "only the user who started the sweep can change it", 403)


def progress_of(sweep: Sweep) -> dict:
    done = VariantResult.objects.filter(sweep=sweep)
    return {
        "done": done.count(),
        "total": sweep.variants_total,
        "failed": done.filter(error__isnull=False).count(),
    }


def ranking(sweep: Sweep, limit: int | None = None, user=None) -> dict:
    """The variants ranked by the simulator's sweep metric.

    A variant's ``run`` (a reused run of some scenario) is named only when ``user`` may see
    that run's scenario: a sweep's audience is its base scenario's, not the reused run's.

    Closures and outages put the most harmful first (largest change in the direction that is
    worse for people); generators of options (shelter sites, parameters) put the best first.
    Variants without a result value (failed) come last.
    """
    spec = capabilities.get(sweep.simulator)
    metric = metric_of(spec)
    best_first = generators.get(sweep.generator).best_first
    rows = list(
        VariantResult.objects.filter(sweep=sweep)
        .select_related("variant")
        .order_by("variant__index")
    )
    sign = 1.0 if metric.worse == "higher" else -1.0
    if best_first:
        sign = -sign

    def key(r):
        return (r.value is None, -sign * (r.delta if r.delta is not None else 0.0), r.variant.index)

    rows.sort(key=key)
    run_ids = {r.run_id for r in rows if r.run_id}
    visible_runs = {
        str(pk)
        for pk in Run.objects.filter(
            pk__in=run_ids, scenario__in=scenarios_visible_to(user)
        ).values_list("pk", flat=True)
    }
    out = []
    for rank, r in enumerate(rows[:limit] if limit else rows, start=1):
        v = r.variant
        out.append(
            {
                "rank": rank,
                "variant": v.index,
                "label": v.label,
                "value": r.value,
                "delta": r.delta,
                "kpis": r.kpis,
                "run": str(r.run_id) if str(r.run_id) in visible_runs else None,
                "reused": r.reused,
                "error": r.error,
                "feature": {"kind": v.feature_kind or None, "ids": v.feature_ids},
                "edits": v.edits,
                "params": v.params,
                "geometry": v.geom.json if v.geom is not None else None,
            }
        )
    return {
        "sweep": sweep.pk,
        "metric": metric.describe(),
        "order": "best first" if best_first else "most harmful first",
        "base_run": str(sweep.base_run_id) if sweep.base_run_id else None,
        "rows": out,
    }
