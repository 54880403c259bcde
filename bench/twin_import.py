"""Time the OSM import of the demo cities (Helsinki, Kotka) into PostGIS.

Imports each demo extract ``--repeat`` times into a scratch city (``bench-helsinki``,
``bench-kotka``), deletes the scratch city afterwards, and prints a Markdown table: city,
buildings, road edges, every run's seconds, best and median. The issue's goal is a Helsinki
import under 30 s. The real ``Helsinki`` city is never written: the scratch names are checked,
and the real city's id and ``imported_at`` are compared before and after.

    DATABASE_URL=postgis://citytwin@127.0.0.1:54329/citytwin \\
        .venv/bin/python bench/twin_import.py              # 3 runs per city
    .venv/bin/python bench/twin_import.py --repeat 5 --cities helsinki
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# run from a checkout without installing the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
os.environ.setdefault("DATABASE_URL", "postgis://citytwin@127.0.0.1:54329/citytwin")
# pyrosm logs every read at INFO; the table is the output that matters
os.environ.setdefault("CITYTWIN_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from layers.importers.osm import demo_pbf, import_osm  # noqa: E402
from layers.models import City  # noqa: E402

#: the issue's target for the Helsinki demo import, seconds
GOAL_HELSINKI_S = 30.0
#: every scratch city starts with this, so a typo can never hit a real city
SCRATCH_PREFIX = "bench-"


def real_city_state(name: str) -> tuple[int, object] | None:
    """(id, imported_at) of city ``name``, or None; used to prove the bench left it alone."""
    row = City.objects.filter(name=name).values_list("id", "imported_at").first()
    return None if row is None else (row[0], row[1])


def time_imports(demo: str, repeat: int) -> dict:
    """Import demo extract ``demo`` ``repeat`` times into a scratch city; return the figures.

    Returns
    -------
    dict
        ``seconds`` (wall-clock per run, including the commit), ``report_seconds`` (the
        importer's own figure, taken before the commit), ``buildings`` and ``road_edges``.
    """
    scratch = f"{SCRATCH_PREFIX}{demo}"
    # guard against an edited prefix: the real cities must stay untouched
    if not scratch.startswith(SCRATCH_PREFIX) or scratch.lower() == demo.lower():
        raise SystemExit(f"refusing to import into {scratch!r}")
    path = demo_pbf(demo)
    seconds: list[float] = []
    report_seconds: list[float] = []
    report: dict = {}
    try:
        # a leftover from an interrupted run would make the first import a replace
        City.objects.filter(name=scratch).delete()
        for _ in range(repeat):
            # replace=True so runs 2..n also pay the delete of the previous run's rows, as a
            # real re-import does; run 1 starts from an empty scratch city either way
            start = time.perf_counter()
            report = import_osm(path, scratch, replace=True)
            seconds.append(time.perf_counter() - start)
            report_seconds.append(float(report["seconds"]))
    finally:
        City.objects.filter(name=scratch).delete()
    return {
        "seconds": seconds,
        "report_seconds": report_seconds,
        "buildings": int(report.get("buildings", {}).get("imported", 0)),
        "road_edges": int(report.get("road_network", {}).get("edges", 0)),
        "pbf_kib": Path(path).stat().st_size / 1024,
    }


def main() -> None:
    """Parse arguments, run the imports, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="imports per city (default 3)")
    parser.add_argument(
        "--cities", nargs="+", default=["helsinki", "kotka"], choices=["helsinki", "kotka"]
    )
    args = parser.parse_args()

    before = real_city_state("Helsinki")
    print(
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs "
        f"(shared), {args.repeat} runs per city"
    )
    print()
    print(
        "| city | PBF KiB | buildings | road edges | runs (s) | best s | median s "
        "| importer's own s (median) |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    results: dict[str, dict] = {}
    for demo in args.cities:
        res = time_imports(demo, args.repeat)
        results[demo] = res
        runs = ", ".join(f"{s:.2f}" for s in res["seconds"])
        print(
            f"| {demo} | {res['pbf_kib']:.0f} | {res['buildings']} | {res['road_edges']} "
            f"| {runs} | {min(res['seconds']):.2f} | {statistics.median(res['seconds']):.2f} "
            f"| {statistics.median(res['report_seconds']):.2f} |",
            flush=True,
        )
    print()
    if "helsinki" in results:
        best = min(results["helsinki"]["seconds"])
        verdict = "met" if best < GOAL_HELSINKI_S else "NOT met"
        print(
            f"goal (issue): Helsinki import under {GOAL_HELSINKI_S:.0f} s -> {verdict} "
            f"(best {best:.2f} s, {GOAL_HELSINKI_S / best:.0f}x headroom)"
        )
    after = real_city_state("Helsinki")
    if before != after:
        raise SystemExit(f"the real Helsinki city changed: {before} -> {after}")
    print(f"real 'Helsinki' city untouched: {'absent' if after is None else f'id {after[0]}'}")


if __name__ == "__main__":
    main()
