"""Command line: generate a synthetic city and write it to a GeoPackage.

Example
-------
    python -m simulators.synthetic --links 20000 --buildings 100000 --seed 1 -o city.gpkg

The GeoPackage gets three layers, ``nodes``, ``edges`` and ``buildings``, with the
columns of :class:`simulators.synthetic.SyntheticCity` (the nodes layer keeps
``node_id`` as a column).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simulators.synthetic.city import generate_city


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.synthetic",
        description="Generate a synthetic grid city and write it to a GeoPackage.",
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="GeoPackage path")
    parser.add_argument("--links", type=int, default=2000, help="directed road links (target)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--crs", default="EPSG:32635", help="projected CRS in metres")
    parser.add_argument(
        "--origin",
        type=float,
        nargs=2,
        metavar=("X", "Y"),
        default=(385000.0, 6672000.0),
        help="city centre in CRS units (default: central Helsinki, UTM 35N)",
    )
    parser.add_argument("--block-size", type=float, default=120.0, help="block size, metres")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--buildings", type=int, default=None, help="total buildings (exact)")
    group.add_argument("--buildings-per-block", type=int, default=None)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output file if it exists"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.output.exists():
        if not args.overwrite:
            raise SystemExit(f"{args.output} exists; pass --overwrite to replace it")
        args.output.unlink()
    start = time.perf_counter()
    city = generate_city(
        n_road_links=args.links,
        seed=args.seed,
        crs=args.crs,
        origin_xy=tuple(args.origin),
        block_size_m=args.block_size,
        buildings_per_block=args.buildings_per_block,
        n_buildings=args.buildings,
    )
    generated = time.perf_counter() - start
    city.nodes.reset_index().to_file(args.output, layer="nodes", driver="GPKG", engine="pyogrio")
    city.edges.to_file(args.output, layer="edges", driver="GPKG", engine="pyogrio")
    city.buildings.to_file(args.output, layer="buildings", driver="GPKG", engine="pyogrio")
    print(
        f"{len(city.nodes)} nodes, {len(city.edges)} links, {len(city.buildings)} buildings "
        f"({int(city.buildings['residents'].sum())} residents) in {city.crs}; "
        f"generated in {generated:.2f} s, written to {args.output} "
        f"in {time.perf_counter() - start - generated:.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
