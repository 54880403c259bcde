"""Command line: ``python -m simulators.evacuation run --graph G.graphml --population P.geojson
--hazard Z.geojson [--shelters S.geojson] [--json]``."""

from __future__ import annotations

import argparse
import json
import sys

from simulators.evacuation.engine import run_evacuation
from simulators.evacuation.params import EvacuationParams


def _load(args):
    import geopandas as gpd
    import osmnx as ox

    graph = ox.load_graphml(args.graph)
    if not graph.graph.get("crs") or ox.projection.is_projected(graph.graph["crs"]) is False:
        graph = ox.project_graph(graph)
    crs = graph.graph["crs"]
    population = gpd.read_file(args.population).to_crs(crs)
    hazard = gpd.read_file(args.hazard).to_crs(crs)
    shelters = gpd.read_file(args.shelters).to_crs(crs) if args.shelters else None
    return graph, population, hazard, shelters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.evacuation")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate an evacuation")
    run.add_argument("--graph", required=True, help="road network as OSMnx GraphML")
    run.add_argument("--population", required=True, help="points with a 'count' property")
    run.add_argument("--hazard", required=True, help="hazard polygon(s); optional 'start_s'")
    run.add_argument("--shelters", help="points with a 'capacity' property")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--dt", type=float, default=5.0, help="time step (s)")
    run.add_argument(
        "--horizon-h",
        type=float,
        default=4.0,
        help="first simulated hours (doubled while evacuees are on the way)",
    )
    run.add_argument("--max-horizon-h", type=float, default=48.0, help="hard cap (hours)")
    run.add_argument("--no-lower-bound", action="store_true", help="skip the lower bound")
    run.add_argument("--mobilisation-min", type=float, default=15.0,
                     help="Rayleigh scale of departures (min); 0 = all leave at once")  # fmt: skip
    run.add_argument("--walk-share", type=float, default=0.0)
    run.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    graph, population, hazard, shelters = _load(args)
    params = EvacuationParams(
        dt_s=args.dt,
        horizon_s=args.horizon_h * 3600.0,
        max_horizon_s=args.max_horizon_h * 3600.0,
        compute_lower_bound=not args.no_lower_bound,
        mobilisation="rayleigh" if args.mobilisation_min > 0 else "none",
        mobilisation_scale_min=args.mobilisation_min,
        walk_share=args.walk_share,
        seed=args.seed,
    )
    result = run_evacuation(graph, population, hazard, shelters, params)
    if args.json:
        print(json.dumps(result.summary()))
        return 0

    def fmt(v):
        return "not reached" if v is None else f"{v / 60:.1f} min ({v:.0f} s)"

    print(f"evacuees      {result.evacuees:.0f} persons "
          f"({result.vehicles} vehicles, {result.walkers} walkers)")  # fmt: skip
    print(f"T50           {fmt(result.t50_s)}")
    print(f"T90           {fmt(result.t90_s)}")
    print(f"T100          {fmt(result.t100_s)}")
    print(f"lower bound   {fmt(result.lower_bound_s)}")
    ratio = result.efficiency_ratio
    print(f"T100 / T*     {'n/a' if ratio is None else f'{ratio:.2f}'}")
    print(f"not arrived   {result.not_arrived:.0f} persons")
    for code, info in result.unroutable_by_reason().items():
        print(f"no route      {info['persons']:.0f} persons ({code}: {info['text']})")
    if result.t100_reason:
        print(f"T100 missing  {result.t100_reason}")
    print(f"runtime       {result.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
