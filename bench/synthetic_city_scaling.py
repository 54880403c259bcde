"""Scaling of the synthetic city generator: city size vs. seconds.

Prints a Markdown table (copied into docs/synthetic_city.md): for each size, the
directed road links and buildings produced, the time of ``generate_city`` (best of
``--repeat`` runs), of ``SyntheticCity.to_networkx`` and, up to ``--write-max`` links,
of writing the GeoPackage with the CLI's layers. Ends with the log-log slope of
generation time against buildings (1.0 = linear).

    .venv/bin/python bench/synthetic_city_scaling.py            # full table, about a minute
    .venv/bin/python bench/synthetic_city_scaling.py --quick    # small sizes only
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# run from a checkout without installing the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simulators.synthetic import generate_city  # noqa: E402

#: (directed road links, buildings): 5 buildings per link, up to the issue's 200k / 1M
SIZES: list[tuple[int, int]] = [
    (1_000, 5_000),
    (5_000, 25_000),
    (20_000, 100_000),
    (50_000, 250_000),
    (100_000, 500_000),
    (200_000, 1_000_000),
]


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the three smallest sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (best kept)")
    parser.add_argument("--write-max", type=int, default=50_000, help="largest size written")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = SIZES[:3] if args.quick else SIZES

    print(f"python {platform.python_version()}, {platform.machine()}, seed {args.seed}")
    print()
    print(
        "| target links | links | nodes | buildings | residents "
        "| generate (s) | to_networkx (s) | write GPKG (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    n_buildings, seconds = [], []
    for n_links, n_bldg in sizes:
        gen_s, city = best_time(
            lambda n_links=n_links, n_bldg=n_bldg: generate_city(
                n_road_links=n_links, seed=args.seed, n_buildings=n_bldg
            ),
            args.repeat,
        )
        nx_s, _ = best_time(city.to_networkx, 1)
        write = "-"
        if n_links <= args.write_max:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "city.gpkg"
                start = time.perf_counter()
                city.nodes.reset_index().to_file(path, layer="nodes", engine="pyogrio")
                city.edges.to_file(path, layer="edges", engine="pyogrio")
                city.buildings.to_file(path, layer="buildings", engine="pyogrio")
                write = f"{time.perf_counter() - start:.2f}"
        n_buildings.append(len(city.buildings))
        seconds.append(gen_s)
        print(
            f"| {n_links:,} | {len(city.edges):,} | {len(city.nodes):,} "
            f"| {len(city.buildings):,} | {int(city.buildings['residents'].sum()):,} "
            f"| {gen_s:.2f} | {nx_s:.2f} | {write} |",
            flush=True,
        )
    slope = np.polyfit(np.log(n_buildings[-3:]), np.log(seconds[-3:]), 1)[0]
    print()
    print(f"log-log slope of generate time vs buildings (three largest sizes): {slope:.2f}")


if __name__ == "__main__":
    main()
