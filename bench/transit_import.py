"""GTFS import of the Cairns feed: CityTwin's importer beside AequilibraE's, in one run.

Runs are interleaved (ours, AequilibraE, ours, ...) so that the shared machine's load falls
on both alike; prints a Markdown table (best and median seconds, what each wrote) and the
ratio of the medians. The two do not do the same work, and the table says so:

- CityTwin imports the whole feed (every service day: all 1,339 trips, 37,790 stop times,
  calendars, shapes, stop patterns with distances along the shapes) into PostGIS, in one
  transaction, into a scratch city ``bench-cairns`` that is deleted afterwards;
- AequilibraE's GTFS importer (``Transit.new_gtfs_builder`` + ``load_date`` +
  ``save_to_disk``, map matching off) loads the trips of one date into a new SpatiaLite
  project (the empty project is made outside the timing), in its own virtualenv
  (``bench/setup_transit_venv.sh``), as a subprocess.

    bash bench/setup_transit_venv.sh        # once: AequilibraE 1.7.2 + mod_spatialite
    DATABASE_URL=postgis://citytwin@127.0.0.1:54329/citytwin \\
        .venv/bin/python bench/transit_import.py --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
os.environ.setdefault(
    "DATABASE_URL",
    f"postgis://citytwin@127.0.0.1:{os.environ.get('CITYTWIN_PG_PORT', '54329')}/citytwin",
)
os.environ.setdefault("CITYTWIN_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import shapely  # noqa: E402

from layers.geo import to_geos  # noqa: E402
from layers.models import City  # noqa: E402
from transit.importer import run_gtfs_import  # noqa: E402

DATA = Path(os.environ.get("CITYTWIN_DATA", ROOT / ".." / "shared" / "data")).resolve()
FEED = DATA / "gtfs" / "cairns_gtfs.zip"
PEER_PYTHON = ROOT / "bench" / ".venv-transit" / "bin" / "python"
RUNNER = ROOT / "bench" / "transit_aequilibrae_runner.py"
SCRATCH = "bench-cairns"
#: a Tuesday inside the feed's service period
DATE = "2014-06-10"


def ours(workdir: Path) -> tuple[float, dict]:
    path = workdir / FEED.name
    shutil.copy(FEED, path)
    start = time.perf_counter()
    report = run_gtfs_import(path, {"city": SCRATCH, "visibility": "private"}, None)
    seconds = time.perf_counter() - start
    City.objects.get(name=SCRATCH).transit_feeds.all().delete()
    return seconds, report["counts"]


def peer(workdir: Path) -> tuple[float, dict]:
    run_dir = Path(tempfile.mkdtemp(dir=workdir))
    try:
        out = subprocess.run(
            [str(PEER_PYTHON), str(RUNNER), str(FEED), DATE, str(run_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["seconds"], result["counts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not PEER_PYTHON.exists():
        raise SystemExit("run bash bench/setup_transit_venv.sh first (AequilibraE's virtualenv)")
    City.objects.filter(name=SCRATCH).delete()
    City.objects.create(
        name=SCRATCH,
        local_epsg=32755,
        boundary=to_geos(shapely.MultiPolygon([shapely.box(145.60, -17.15, 145.85, -16.70)])),
    )
    times: dict[str, list[float]] = {"citytwin": [], "aequilibrae": []}
    counts: dict[str, dict] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-transit-"))
    try:
        for _ in range(args.repeat):
            for name, run in (("citytwin", ours), ("aequilibrae", peer)):
                seconds, found = run(workdir)
                times[name].append(seconds)
                counts[name] = found
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        City.objects.filter(name=SCRATCH).delete()
    ct, aq = counts["citytwin"], counts["aequilibrae"]
    print(f"GTFS import of {FEED.name} ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {args.repeat} runs each, interleaved)\n")  # fmt: skip
    print("| importer | loads | runs (s) | best (s) | median (s) |")
    print("|---|---|---|---|---|")
    rows = [
        (
            "CityTwin (PostGIS, COPY)",
            f"whole feed: {ct['trips']} trips, {ct['stop_times']:,} stop times, "
            f"{ct['stops']} stops, {ct['patterns']} patterns, {ct['shapes']} shapes",
            times["citytwin"],
        ),
        (
            "AequilibraE 1.7.2 (SpatiaLite)",
            f"one date ({DATE}): {aq.get('trips')} trips, {aq.get('trips_schedule')} "
            f"scheduled departures, {aq.get('stops')} stops, {aq.get('routes')} routes",
            times["aequilibrae"],
        ),
    ]
    for label, loads, runs in rows:
        print(
            f"| {label} | {loads} | {', '.join(f'{s:.2f}' for s in runs)} | {min(runs):.2f} "
            f"| {statistics.median(runs):.2f} |"
        )
    ratio = statistics.median(times["aequilibrae"]) / statistics.median(times["citytwin"])
    print(f"\nmedian AequilibraE / median CityTwin = {ratio:.2f}")


if __name__ == "__main__":
    main()
