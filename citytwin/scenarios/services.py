"""Scenario and run services: the logic behind the API views and the CLI."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q, QuerySet

from jobs.models import Job
from layers.models import City

from . import capabilities
from .capabilities import input_checksum
from .edits import EditRejected, validate_edits
from .models import Run, Scenario, ScenarioShare
from .tasks import run_simulation

log = logging.getLogger(__name__)


def scenarios_visible_to(user) -> QuerySet:
    """The user's own scenarios, those shared with the user, public ones and every baseline
    (staff see all). The one rule for every path: API, tiles, OGC, event streams."""
    queryset = Scenario.objects.select_related("city")
    open_to_all = Q(is_baseline=True) | Q(public=True)
    if user is not None and user.is_authenticated:
        if user.is_staff:
            return queryset
        shared = ScenarioShare.objects.filter(user=user).values("scenario_id")
        return queryset.filter(open_to_all | Q(owner=user) | Q(pk__in=shared))
    return queryset.filter(open_to_all)


def access_of(scenario: Scenario, user) -> str:
    """What ``user`` may do with a scenario they can see: "owner", "edit" or "read"."""
    if scenario.is_baseline or user is None or not user.is_authenticated:
        return "read"
    if scenario.owner_id == user.id or user.is_staff:
        return "owner"
    share = ScenarioShare.objects.filter(scenario=scenario, user=user).first()
    return share.access if share is not None else "read"


class ShareRejected(Exception):
    """A share request is refused: ``field`` names what is wrong; ``status`` the HTTP code."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


def share(scenario: Scenario, owner, username: str, access: str) -> ScenarioShare:
    """Share a scenario with a named user (``access`` "read" or "edit"); owner or staff only."""
    from django.contrib.auth import get_user_model

    if scenario.is_baseline:
        raise ShareRejected("scenario", "the baseline is visible to everyone already")
    if access_of(scenario, owner) != "owner":
        raise ShareRejected("scenario", "only the scenario's owner can share it", 403)
    if access not in ScenarioShare.Access.values:
        raise ShareRejected("access", f"{access!r} is not one of: read, edit")
    target = get_user_model().objects.filter(username=username).first()
    if target is None:
        raise ShareRejected("user", f"no user {username!r}")
    if target.pk == scenario.owner_id:
        raise ShareRejected("user", "that is the scenario's owner")
    row, _ = ScenarioShare.objects.update_or_create(
        scenario=scenario, user=target, defaults={"access": access}
    )
    return row


def unshare(scenario: Scenario, owner, username: str) -> bool:
    if access_of(scenario, owner) != "owner":
        raise ShareRejected("scenario", "only the scenario's owner can share it", 403)
    deleted, _ = ScenarioShare.objects.filter(scenario=scenario, user__username=username).delete()
    return bool(deleted)


def baseline_of(city: City) -> Scenario:
    """The city's baseline scenario (no edits), created on first use."""
    scenario, _ = Scenario.objects.get_or_create(
        city=city,
        is_baseline=True,
        defaults={"name": f"{city.name} baseline", "description": "the city as imported"},
    )
    return scenario


def _check_editable(scenario: Scenario) -> None:
    if scenario.is_baseline:
        raise EditRejected(None, "scenario", "the baseline is read-only; clone it to edit", 409)


@transaction.atomic
def set_edits(scenario: Scenario, edits: list) -> Scenario:
    """Replace the whole edit list (validated first; nothing stored when one is bad)."""
    _check_editable(scenario)
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    scenario.edits = validate_edits(scenario.city, edits)
    scenario.version += 1
    scenario.save(update_fields=["edits", "version", "updated_at"])
    return scenario


@transaction.atomic
def append_edit(scenario: Scenario, edit: dict) -> Scenario:
    _check_editable(scenario)
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    (normalised,) = validate_edits(scenario.city, [edit], start_index=len(scenario.edits))
    scenario.edits = [*scenario.edits, normalised]
    scenario.version += 1
    scenario.save(update_fields=["edits", "version", "updated_at"])
    return scenario


@transaction.atomic
def remove_edit(scenario: Scenario, index: int) -> Scenario:
    _check_editable(scenario)
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    if not 0 <= index < len(scenario.edits):
        raise EditRejected(
            index, "index", f"no edit {index} (the scenario has {len(scenario.edits)})", 404
        )
    scenario.edits = scenario.edits[:index] + scenario.edits[index + 1 :]
    scenario.version += 1
    scenario.save(update_fields=["edits", "version", "updated_at"])
    return scenario


def clone(scenario: Scenario, user, name: str | None = None) -> Scenario:
    return Scenario.objects.create(
        city=scenario.city,
        name=name or f"{scenario.name} (copy)",
        description=scenario.description,
        owner=user if user is not None and user.is_authenticated else None,
        edits=list(scenario.edits),
        version=0,
        cloned_from=scenario,
    )


def city_data_version(city: City) -> list:
    """What identifies the city's data for the input checksum: the import, plus counts and
    newest ids of the tables a run reads (a later file import into the city changes them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) FROM layers_building "
            "WHERE city_id = %(c)s), (SELECT count(*) || ':' || coalesce(max(id), 0) "
            "FROM layers_roadedge WHERE city_id = %(c)s), (SELECT count(*) || ':' || "
            "coalesce(max(id), 0) FROM layers_facility WHERE city_id = %(c)s)",
            {"c": city.id},
        )
        counts = list(cursor.fetchone())
    return [city.id, city.source_sha256, city.imported_at, *counts]


def city_data_of(spec, city: City) -> dict:
    """What identifies the city's data read by ``spec``'s runs (see :func:`run_checksum`)."""
    data = {"city": city_data_version(city)}
    if spec.data_version is not None:
        data["data"] = spec.data_version(city)
    return data


def run_checksum(spec, params: dict, edits: list[dict], city_data: dict) -> str:
    """The input checksum of a run: simulator, clean parameters, engine version, edits and
    the city's data (``city_data_of``): equal checksums give equal results."""
    return input_checksum(
        {
            "simulator": spec.name,
            "params": params,
            "engine_version": spec.engine_version,
            "edits": edits,
            **city_data,
        }
    )


def start_run(
    scenario: Scenario,
    simulator: str,
    params: dict,
    user,
    reuse: bool = True,
    enqueue: bool = True,
):
    """Queue a run of ``simulator`` on the scenario as it is now.

    Returns ``(run, reused)``: with ``reuse``, an earlier succeeded run that the user may see
    with the same input checksum (same edits, parameters, engine version and city data) is
    returned instead of computing again. Raises ParamsRejected (400) on bad parameters.
    With ``enqueue=False`` no Celery task is sent (the caller runs it in its own process).
    """
    spec = capabilities.get(simulator)
    params = spec.clean_params(params, scenario.edits)
    city = scenario.city
    if spec.preflight is not None:
        spec.preflight(city, params)  # e.g. a raster too large for the city: 400 now
    version = spec.engine_version
    checksum = run_checksum(spec, params, scenario.edits, city_data_of(spec, city))
    if reuse:
        visible = Scenario.objects.all() if user is None else scenarios_visible_to(user)
        earlier = (
            Run.objects.filter(
                input_checksum=checksum,
                scenario__in=visible,
                job__status=Job.Status.SUCCEEDED,
            )
            .select_related("job", "scenario")
            .first()
        )
        if earlier is not None:
            return earlier, True
    with transaction.atomic():
        job = Job.objects.create(
            kind=f"run_{simulator}",
            owner=user if user is not None and user.is_authenticated else None,
            params={"scenario": scenario.pk, "simulator": simulator, **params},
            stage="queued",
        )
        run = Run.objects.create(
            job=job,
            scenario=scenario,
            scenario_version=scenario.version,
            edits=scenario.edits,
            simulator=simulator,
            params=params,
            engine_version=version,
            input_checksum=checksum,
        )

        def send():
            result = run_simulation.delay(str(job.id))
            Job.objects.filter(pk=job.id).update(celery_task_id=result.id or "")

        if enqueue:
            transaction.on_commit(send)
    return run, False


def cancel_run(run: Run) -> Run:
    """Cancel a queued or running run; the worker stops at its next progress report."""
    run.job.cancel("cancelled by the user", field="run")
    run.job.refresh_from_db()
    return run
