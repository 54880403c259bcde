"""Full single-pipe-break sweep of Net6 (3,829 pipes) on 1 and 2 Celery worker processes.

Imports Net6 from the wntr wheel into a city of its own (once), then for each worker count
starts that many real Celery workers (one process each) on this checkout's database and broker,
queues the sweep through ``utilities.water.tasks.start_sweep`` (chunks of 100 pipes, one EPANET
project per chunk in its own temporary folder) and times it from queueing to the job reading
``succeeded``. Prints a markdown table: pipes, solver errors, wall time, speed-up.
``--pipes N`` sweeps an evenly spaced subset of N pipes (every k-th by id), the same on every
worker count (said in the table's title).

Needs this checkout's PostgreSQL and Redis up (``bin/citytwin up``, or ``bin/citytwin manage
migrate`` starts them); they are found like bin/citytwin finds them. Usage: ``.venv/bin/python bench/water_criticality.py [--workers 1 2] [--network Net6]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
# the servers bin/citytwin starts for this checkout (ports from CITYTWIN_PG_PORT/_REDIS_PORT)
os.environ.setdefault(
    "DATABASE_URL",
    f"postgis://citytwin@127.0.0.1:{os.environ.get('CITYTWIN_PG_PORT', '54329')}/citytwin",
)
os.environ.setdefault(
    "CELERY_BROKER_URL", f"redis://127.0.0.1:{os.environ.get('CITYTWIN_REDIS_PORT', '63790')}/0"
)


def _setup():
    import django

    django.setup()


def _network(name: str):
    import wntr

    from layers.importers.files import run_import
    from layers.models import City
    from utilities.water.models import WaterNetwork

    city, _ = City.objects.get_or_create(name="Water bench", defaults={"local_epsg": 32635})
    found = WaterNetwork.objects.filter(city=city, name=f"bench-{name}").first()
    if found is not None:
        return found
    path = Path(os.path.dirname(wntr.__file__)) / "library" / "networks" / f"{name}.inp"
    crs = "+proj=tmerc +lat_0=60.17 +lon_0=24.94 +k=1 +x_0=0 +y_0=0 +to_meter=10"
    report = run_import(
        path, {"target": "water", "city": city.name, "crs": crs, "name": f"bench-{name}"}
    )
    return WaterNetwork.objects.get(pk=report["network_id"])


def _workers(count: int) -> list[subprocess.Popen]:
    procs = []
    for i in range(count):
        log = open(ROOT / ".run" / f"bench-water-{i}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "citytwin",
                    "worker",
                    "--concurrency",
                    "1",
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "WARNING",
                    "-Q",
                    "celery",
                    "--hostname",
                    f"bench{i}-{uuid.uuid4().hex[:6]}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--prefetch-multiplier",
                    "1",
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        )
    time.sleep(8)  # workers connect to the broker
    return procs


def _stop(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--network", default="Net6")
    parser.add_argument("--pipes", type=int, default=0, help="an evenly spaced subset (0: all)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # the workers are stopped on the way out
    _setup()
    from jobs.models import Job
    from utilities.water.tasks import start_sweep

    network = _network(args.network)
    every = list(network.links.filter(kind="pipe").order_by("id").values_list("id", flat=True))
    subset = every[:: max(1, len(every) // args.pipes)][: args.pipes] if args.pipes else every
    rows = []
    for count in args.workers:
        procs = _workers(count)
        try:
            started = time.perf_counter()
            sweep = start_sweep(network, required_pressure_m=20.0, pipes=subset)
            loads = []  # 1-minute load average while the sweep runs: other work on the machine
            while True:
                job = Job.objects.get(pk=sweep.job_id)
                if job.status in Job.FINISHED:
                    break
                loads.append(os.getloadavg()[0])
                time.sleep(0.5)
            wall = time.perf_counter() - started
        finally:
            _stop(procs)
        load = (sum(loads) / len(loads), max(loads)) if loads else (float("nan"),) * 2
        rows.append(
            (count, job.status, job.report.get("pipes"), job.report.get("solver_errors"), wall)
            + load
        )
        print(f"{count} worker(s): {job.status} {job.report} in {wall:.1f} s", flush=True)
    rows.sort()
    # speed-up against one worker (the table is meaningless without a 1-worker row)
    base = rows[0][4] if rows[0][0] == 1 else float("nan")
    which = (
        f"{len(subset)} of its {len(every)} pipes (every {max(1, len(every) // args.pipes)}-th "
        "by id)"
        if args.pipes
        else f"all {len(every)} pipes"
    )
    print(
        f"\n{args.network}: single-pipe-break sweep of {which} (PDD steady state per break, "
        "chunks of 100), "
        f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{os.cpu_count()} CPUs\n"
    )
    print(
        "| worker processes | status | pipes | solver errors | wall time (s) | speed-up vs 1 "
        "| load average during the sweep (mean / max) |"
    )
    print("|---|---|---|---|---|---|---|")
    for count, status, pipes, errors, wall, mean, peak in rows:
        print(
            f"| {count} | {status} | {pipes} | {errors} | {wall:.1f} | {base / wall:.2f}x "
            f"| {mean:.1f} / {peak:.1f} |"
        )


if __name__ == "__main__":
    main()
