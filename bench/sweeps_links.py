"""Link-closure sweeps on a synthetic city: variants per minute with 1 and 2 workers.

Loads a synthetic city (``load_synthetic_city``, once), then for each worker count starts that
many workers exactly as docs/sweeps.md starts remote ones (``bin/citytwin worker --broker
--database``, each in a temporary folder of its own), runs a ``close_busiest_links`` sweep of
the traffic simulator and prints a markdown table: variants, seconds from the first variant
result to the last (the base run excluded: it is the same for every count), variants per
minute, and the ratio to one worker. Each sweep is deleted after it is measured, so the next
one computes its variants again instead of reusing them.

Needs PostGIS and Redis (``DATABASE_URL``, ``CELERY_BROKER_URL``; ``bin/citytwin up`` gives
both) and no other worker on the broker's default queue (stop the one ``up`` starts, or give
this script a broker database of its own: ``CELERY_BROKER_URL=redis://127.0.0.1:63790/5``).

Usage: ``.venv/bin/python bench/sweeps_links.py [--links 2000] [--variants 100]
[--workers 1,2] [--gap 1e-4]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")


def _start_worker(folder: Path, name: str, broker: str, database: str) -> subprocess.Popen:
    log = open(folder / "worker.log", "w")  # noqa: SIM115 (open while the worker runs)
    proc = subprocess.Popen(
        [str(ROOT / "bin" / "citytwin"), "worker", "--broker", broker, "--database", database,
         "--name", name],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while "ready." not in (folder / "worker.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((folder / "worker.log").read_text()[-2000:])
        time.sleep(0.2)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure(city, workers: int, variants: int, gap: float, broker: str, database: str) -> dict:
    from django.db.models import Max, Min

    from citytwin.scenarios.services import baseline_of
    from citytwin.sweeps import services
    from citytwin.sweeps.models import Sweep, VariantResult
    from jobs.models import Job

    with tempfile.TemporaryDirectory() as tmp:
        procs = []
        try:
            for i in range(workers):
                folder = Path(tmp) / f"w{i}"
                folder.mkdir()
                procs.append(_start_worker(folder, f"bench{i}-{os.getpid()}", broker, database))
            sweep = services.create_sweep(
                baseline_of(city),
                "traffic",
                {"gap": gap},
                {"kind": "close_busiest_links", "n": variants},
                None,
                chunk_size=5,
            )
            while True:
                job = Job.objects.get(sweep__pk=sweep.pk)
                if job.status in Job.FINISHED:
                    break
                time.sleep(0.5)
            if job.status != Job.Status.SUCCEEDED:
                raise RuntimeError(f"sweep {sweep.pk}: {job.status} {job.error}")
        finally:
            for proc in procs:
                _stop(proc)
    results = VariantResult.objects.filter(sweep=sweep, reused=False)
    span = results.aggregate(first=Min("created_at"), last=Max("created_at"))
    seconds_each = sorted(results.values_list("seconds", flat=True))
    n = results.count()
    # from the first result to the last: n - 1 intervals, plus one variant's own time
    elapsed = (span["last"] - span["first"]).total_seconds() + seconds_each[len(seconds_each) // 2]
    by_worker = {w.split("@")[0] for w in results.values_list("worker", flat=True)}
    Sweep.objects.filter(pk=sweep.pk).delete()
    return {
        "workers": workers,
        "variants": n,
        "seconds": elapsed,
        "per_minute": 60.0 * n / elapsed,
        "median_variant_s": seconds_each[len(seconds_each) // 2],
        "workers_used": len(by_worker),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from layers.models import City

    name = f"Sweep bench {args.links} links seed {args.seed}"
    if not City.objects.filter(name=name).exists():
        call_command(
            "load_synthetic_city", name, "--links", str(args.links), "--seed", str(args.seed)
        )
    city = City.objects.get(name=name)
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    database = f"postgis://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    broker = settings.CELERY_BROKER_URL
    rows = [
        measure(city, int(w), args.variants, args.gap, broker, database)
        for w in args.workers.split(",")
    ]
    n_links = city.road_edges.count()
    print(f"\nclose_busiest_links sweeps, traffic at gap {args.gap:g}, synthetic city of "
          f"{n_links} links (seed {args.seed}), {os.cpu_count()} CPUs\n")  # fmt: skip
    print("| workers | variants | seconds | variants/min | vs 1 worker | median s/variant |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ratio = r["per_minute"] / rows[0]["per_minute"]
        print(
            f"| {r['workers']} | {r['variants']} | {r['seconds']:.1f} | {r['per_minute']:.1f} "
            f"| {ratio:.2f}x | {r['median_variant_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
