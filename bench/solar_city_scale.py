"""One day of sun hours over a whole synthetic city, in tiles, within a memory budget.

Generates a synthetic city (:func:`simulators.synthetic.generate_city`, seeded), takes a square
of ``--area-km2`` around its centre as the output raster, lets the engine plan the tiles
(:func:`simulators.solar.tiling.plan_tiles`: cell size, tile side, halo, threads) and writes the
sun hours of one day into one COG (:func:`simulators.solar.tiling.sun_hours_cog`). Prints a
Markdown table: sizes, what the engine chose, seconds per stage (wall clock, and the CPU time
of the main stage, which other work on a shared machine does not inflate), and the peak
resident memory of the process (``ru_maxrss``: the whole Python process, city included).

    prlimit --as=6000000000 .venv/bin/python bench/solar_city_scale.py            # 100 km2, 1 m
    .venv/bin/python bench/solar_city_scale.py --area-km2 4 --cell-m 1 --step-min 30

Run it on 2 cores (``taskset -c 0,1``) to reproduce the figures in ``docs/solar.md``. The
first run also compiles the numba kernels (cached on disk afterwards); a warm-up tile on a tiny
city is timed apart so that the main figure is the engine's.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simulators.solar.sunhours import sun_positions
from simulators.solar.tiling import plan_tiles, sun_hours_cog
from simulators.synthetic import generate_city


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds (user + system) of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def links_for_area(area_km2: float) -> int:
    """Road links of a synthetic city covering about ``area_km2`` (120 m blocks: ~250/km2)."""
    return max(200, int(area_km2 * 250 * 1.15))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area-km2", type=float, default=100.0, help="output square (km2)")
    ap.add_argument("--cell-m", type=float, default=None, help="cell side (m); default: auto")
    ap.add_argument("--date", default="2026-03-20", help="day simulated (UTC day)")
    ap.add_argument("--step-min", type=float, default=10.0, help="time step (minutes)")
    ap.add_argument("--memory-mb", type=float, default=2000.0, help="tiles' memory budget (MB)")
    ap.add_argument("--threads", type=int, default=None, help="default: the CPUs allowed")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    # warm-up: compile (or load cached) kernels on a tiny city, timed apart
    tiny = generate_city(n_road_links=200, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        b = tiny.buildings
        plan = plan_tiles(tuple(b.total_bounds), float(b.height_m.max()), b.crs, cell_m=4.0)
        sun = sun_positions(plan.transform, b.crs, plan.shape, args.date,
                            pd.Timestamp(args.date) + pd.Timedelta("1D"), "60min")  # fmt: skip
        sun_hours_cog(b, plan, sun, Path(tmp) / "warm.tif")
    warm_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    city = generate_city(n_road_links=links_for_area(args.area_km2), seed=args.seed)
    buildings = city.buildings
    x0, y0, x1, y1 = buildings.total_bounds
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 500.0 * args.area_km2**0.5
    bounds = (cx - half, cy - half, cx + half, cy + half)
    generate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = plan_tiles(
        bounds, float(buildings["height_m"].max()), buildings.crs, cell_m=args.cell_m,
        memory_budget_mb=args.memory_mb, threads=args.threads,
    )  # fmt: skip
    start = pd.Timestamp(args.date, tz="UTC")
    sun = sun_positions(plan.transform, buildings.crs, plan.shape, start,
                        start + pd.Timedelta("1D"), f"{args.step_min}min")  # fmt: skip
    plan_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sun_hours.tif"
        t0, c0 = time.perf_counter(), cpu_s()
        summary = sun_hours_cog(buildings, plan, sun, out)
        run_s, run_cpu_s = time.perf_counter() - t0, cpu_s() - c0
        cog_mb = out.stat().st_size / 1e6
    chosen = summary["plan"]

    print(f"Machine: {platform.machine()}, Python {platform.python_version()}, "
          f"{len(os.sched_getaffinity(0))} CPUs allowed, load average "
          f"{load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after")  # fmt: skip
    print()
    print("| quantity | value |")
    print("|---|---|")
    rows = [
        ("output area", f"{(2 * half) ** 2 / 1e6:.1f} km2 ({2 * half / 1000:.2f} km square)"),
        ("buildings (whole city)", f"{len(buildings):,} (tallest {chosen['relief_m']:.1f} m)"),
        ("day, step", f"{args.date}, {args.step_min:g} min ({len(sun)} daylight steps)"),
        ("cell (chosen)" if args.cell_m is None else "cell (given)", f"{chosen['cell_m']:g} m"),
        ("cells", f"{chosen['cells']:,}"),
        ("tiles (side, chosen)", f"{chosen['tiles']} ({chosen['tile_cells']} cells)"),
        ("halo", f"{chosen['halo_m']:.0f} m (sun >= {chosen['min_sun_elevation_deg']:g} deg)"),
        ("threads", f"{chosen['threads']}"),
        ("memory budget of the tiles", f"{chosen['memory_budget_mb']:.0f} MB"),
        ("kernel warm-up (tiny city)", f"{warm_s:.1f} s"),
        ("city generation", f"{generate_s:.1f} s"),
        ("plan + sun positions", f"{plan_s:.1f} s"),
        ("**sun hours, all tiles + COG**", f"**{run_s:.1f} s**"),
        ("CPU time of that stage (all threads)", f"{run_cpu_s:.1f} s"),
        ("cells per second", f"{chosen['cells'] / run_s / 1e6:.2f} M"),
        ("**peak resident memory (process)**", f"**{peak_rss_mb():,.0f} MB**"),
        ("COG size", f"{cog_mb:.1f} MB"),
        (
            "mean / max sun hours",
            f"{summary['mean_sun_hours_h']:.2f} / {summary['max_sun_hours_h']:.2f} h",
        ),  # fmt: skip
    ]
    for name, value in rows:
        print(f"| {name} | {value} |")
    assert np.isfinite(summary["mean_sun_hours_h"]) and summary["max_sun_hours_h"] > 0


if __name__ == "__main__":
    main()
