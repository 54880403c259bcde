"""``python manage.py run_scenario <scenario> <simulator> [key=value ...]`` with a progress bar.

``<scenario>`` is a scenario id, or ``baseline:<city name or id>``. Parameters are
``key=value`` pairs (values parsed as JSON when they can be: ``gap=1e-5 pv=true``). The run
goes through the Celery worker like one started from the API (``--wait`` follows it with a
progress bar, the default); ``--inline`` runs it in this process instead, with no worker.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from django.core.management.base import BaseCommand, CommandError

from jobs.models import Job
from jobs.progress import ConsoleProgress
from layers.models import City

from ... import capabilities, services
from ...capabilities import ParamsRejected
from ...edits import EditRejected
from ...models import Run, Scenario


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class Command(BaseCommand):
    help = (
        "Run a registered simulator (see GET /api/simulators/) on a scenario, with a progress bar."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenario", help="scenario id, or baseline:<city name or id>")
        parser.add_argument("simulator", choices=capabilities.names())
        parser.add_argument("params", nargs="*", help="key=value parameters")
        parser.add_argument("--inline", action="store_true", help="run here, not on a worker")
        parser.add_argument("--no-reuse", action="store_true", help="compute even if cached")
        parser.add_argument("--json", action="store_true", help="print the run as JSON at the end")

    def _scenario(self, ref: str) -> Scenario:
        if ref.startswith("baseline:"):
            key = ref.split(":", 1)[1]
            city = City.objects.filter(pk=int(key)).first() if key.isdigit() else None
            city = city or City.objects.filter(name__iexact=key).first()
            if city is None:
                raise CommandError(f"scenario: no city {key!r}")
            return services.baseline_of(city)
        if not ref.isdigit() or not Scenario.objects.filter(pk=int(ref)).exists():
            raise CommandError(f"scenario: no scenario {ref!r} (an id, or baseline:<city>)")
        return Scenario.objects.get(pk=int(ref))

    def handle(self, *args, **options):
        scenario = self._scenario(options["scenario"])
        params = {}
        for item in options["params"]:
            if "=" not in item:
                raise CommandError(f"params: {item!r} is not key=value")
            key, text = item.split("=", 1)
            params[key] = _value(text)
        try:
            run, reused = services.start_run(
                scenario,
                options["simulator"],
                params,
                None,
                reuse=not options["no_reuse"],
                enqueue=not options["inline"],
            )
            if not reused and options["inline"]:
                from ...tasks import run_simulation

                # here, in this process: no broker, no worker; a thread draws the progress bar
                stop = threading.Event()
                bar = threading.Thread(target=self._draw, args=(run, stop), daemon=True)
                bar.start()
                try:
                    run_simulation(str(run.pk))
                finally:
                    stop.set()
                    bar.join(timeout=5)
            elif not reused:
                self._follow(run)
        except (ParamsRejected, EditRejected) as exc:
            raise CommandError(exc.api_error()[0]["error"]) from None
        run = Run.objects.select_related("job").get(pk=run.pk)
        if reused:
            self.stderr.write(f"reused the earlier identical run {run.pk}")
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "id": str(run.pk),
                        "status": run.job.status,
                        "kpis": run.kpis,
                        "error": run.job.error,
                        "seconds": run.job.seconds,
                    },
                    default=str,
                )  # fmt: skip
            )
        else:
            self.stdout.write(f"run {run.pk}: {run.job.status}")
            for name, value in run.kpis.items():
                self.stdout.write(f"  {name}: {value}")
        if run.job.status != Job.Status.SUCCEEDED:
            message = (run.job.error or {}).get("message", run.job.status)
            raise CommandError(f"run {run.pk} {run.job.status}: {message}")

    def _draw(self, run: Run, stop: threading.Event) -> None:
        """Progress bar of an inline run, read from its job row (own DB connection)."""
        from django.db import connection

        bar = ConsoleProgress(sys.stderr)
        try:
            while not stop.wait(0.3):
                job = Job.objects.filter(pk=run.pk).values("progress_percent", "stage").first()
                if job:
                    bar(min(job["progress_percent"], 99.9) / 100.0, job["stage"] or "")
            bar(1.0, "done")
        finally:
            connection.close()

    def _follow(self, run: Run) -> None:
        bar = ConsoleProgress(sys.stderr)
        while True:
            job = Job.objects.get(pk=run.pk)
            bar(job.progress_percent / 100.0, job.stage or job.status)
            if job.status in Job.FINISHED:
                if job.progress_percent < 100:
                    sys.stderr.write("\n")
                return
            time.sleep(0.3)
