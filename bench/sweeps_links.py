"""Link-closure sweeps on a synthetic city: variants per minute with 1 and 2 workers, warm
(variants from the base's equilibrium and inputs) and cold (each variant a plain run).

Loads a synthetic city (``load_synthetic_city``, once), then for each mode and worker count
starts that many workers exactly as docs/sweeps.md starts remote ones (``bin/citytwin worker
--broker --database``, each in a temporary folder of its own; cold ones with
``CITYTWIN_SWEEP_REUSE=0``), runs a ``close_busiest_links`` sweep of the traffic simulator and
prints a markdown table: variants, seconds from the start of the first chunk's first variant
to the last result (the base run excluded: it is the same for every count and reused after
the first sweep; each worker's one-off build of the base equilibrium and inputs included),
variants per minute, the ratios, and the time 1,000 variants would take at that rate. Each
sweep is deleted after it is measured, so the next one computes its variants again instead
of reusing them. The issue's bench is ``--links 20000 --variants 1000 --cold-variants 1000``;
``uptime`` is printed before and after (the machine's load, for the reader of the figures).

Needs PostGIS and Redis (``DATABASE_URL``, ``CELERY_BROKER_URL``; ``bin/citytwin up`` gives
both) and no other worker on the broker's default queue (stop the one ``up`` starts, or give
this script a broker database of its own: ``CELERY_BROKER_URL=redis://127.0.0.1:63790/5``).

Usage: ``.venv/bin/python bench/sweeps_links.py [--links 2000] [--variants 100]
[--cold-variants 20] [--workers 1,2] [--modes warm,cold] [--gap 1e-4] [--chunk 5]``
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


def _start_worker(
    folder: Path, name: str, broker: str, database: str, warm: bool
) -> subprocess.Popen:
    log = open(folder / "worker.log", "w")  # noqa: SIM115 (open while the worker runs)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["CITYTWIN_SWEEP_REUSE"] = "1" if warm else "0"
    proc = subprocess.Popen(
        [str(ROOT / "bin" / "citytwin"), "worker", "--broker", broker, "--database", database,
         "--name", name],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
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


def measure(
    city, mode: str, workers: int, variants: int, gap: float, chunk: int, broker: str,
    database: str,
) -> dict:  # fmt: skip
    from datetime import timedelta

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
                name = f"bench{i}-{mode}-{os.getpid()}"
                procs.append(_start_worker(folder, name, broker, database, mode == "warm"))
            sweep = services.create_sweep(
                baseline_of(city),
                "traffic",
                {"gap": gap},
                {"kind": "close_busiest_links", "n": variants},
                None,
                chunk_size=chunk,
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
    results = list(
        VariantResult.objects.filter(sweep=sweep, reused=False).values(
            "created_at", "seconds", "worker", "kpis", "error"
        )
    )
    failed = [r["error"] for r in results if r["error"]]
    if failed:
        raise RuntimeError(f"{len(failed)} variants failed: {failed[0]}")
    # from the start of the first variant (its result's time less its own duration) to the
    # last result
    first = min(r["created_at"] - timedelta(seconds=r["seconds"]) for r in results)
    elapsed = (max(r["created_at"] for r in results) - first).total_seconds()
    seconds_each = sorted(r["seconds"] for r in results)
    n = len(results)
    by_worker = {r["worker"].split("@")[0] for r in results}
    warm_started = sum(bool(r["kpis"].get("warm_started")) for r in results)
    Sweep.objects.filter(pk=sweep.pk).delete()
    return {
        "mode": mode,
        "warm_started": warm_started,
        "workers": workers,
        "variants": n,
        "seconds": elapsed,
        "per_minute": 60.0 * n / elapsed,
        "median_variant_s": seconds_each[len(seconds_each) // 2],
        "workers_used": len(by_worker),
    }


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=100, help="warm sweeps' variants")
    parser.add_argument("--cold-variants", type=int, default=20, help="cold sweeps' variants")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--modes", default="warm,cold")
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--chunk", type=int, default=5, help="variants per chunk task")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # a SIGTERM (or a background job's SIGINT) stops the workers this script started too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from layers.models import City

    print(f"before: {_uptime()}", flush=True)
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
    rows = []
    for mode in args.modes.split(","):
        n = args.variants if mode == "warm" else args.cold_variants
        for w in args.workers.split(","):
            row = measure(city, mode, int(w), n, args.gap, args.chunk, broker, database)
            rows.append(row)
            print(f"{mode}, {w} worker(s): {row['variants']} variants in {row['seconds']:.1f} s "
                  f"({row['per_minute']:.1f}/min); {_uptime()}", flush=True)  # fmt: skip
    n_links = city.road_edges.count()
    print(f"\nclose_busiest_links sweeps, traffic at gap {args.gap:g}, synthetic city of "
          f"{n_links} links (seed {args.seed}), {os.cpu_count()} CPUs, chunks of "
          f"{args.chunk}\n")  # fmt: skip
    print("| mode | workers | variants | warm-started | seconds | variants/min | vs 1 worker "
          "| vs cold | median s/variant | 1,000 variants |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rate = {(r["mode"], r["workers"]): r["per_minute"] for r in rows}
    for r in rows:
        one = rate.get((r["mode"], 1))
        cold = rate.get(("cold", r["workers"]))
        vs_one = f"{r['per_minute'] / one:.2f}x" if one else "-"
        vs_cold = f"{r['per_minute'] / cold:.2f}x" if cold else "-"
        print(
            f"| {r['mode']} | {r['workers']} | {r['variants']} | {r['warm_started']} "
            f"| {r['seconds']:.1f} | {r['per_minute']:.1f} "
            f"| {vs_one} | {vs_cold} "
            f"| {r['median_variant_s']:.2f} | {1000 / r['per_minute']:.0f} min |"
        )
    print(f"\nafter: {_uptime()}")


if __name__ == "__main__":
    main()
