"""Command line: ``python -m simulators.traffic tntp NET TRIPS [options]``.

Solves a TNTP benchmark network to user equilibrium and prints iterations,
relative gap, Beckmann objective, TSTT and seconds; with ``--flow`` also the
relative objective difference and the largest link-flow difference to the
best-known solution. ``--json`` prints one JSON object; ``--out`` writes link
flows in the TNTP best-known flow format (one row per link in net order).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .assignment import ALGORITHMS, assign
from .costs import beckmann_objective
from .tntp import flows_in_network_order, read_net, read_trips, write_flow


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.traffic", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tntp = sub.add_parser("tntp", help="solve a TNTP network (net + trips files)")
    tntp.add_argument("net", help="*_net.tntp file")
    tntp.add_argument("trips", help="*_trips.tntp file")
    tntp.add_argument("--flow", help="best-known *_flow.tntp file to compare with")
    tntp.add_argument("--algorithm", choices=ALGORITHMS, default="bfw")
    tntp.add_argument("--gap", type=float, default=1e-5, help="target relative gap")
    tntp.add_argument("--max-iter", type=int, default=10_000)
    tntp.add_argument("--time-limit", type=float, default=None, help="seconds")
    tntp.add_argument("--toll-weight", type=float, default=0.0, help="time units per toll unit")
    tntp.add_argument("--distance-weight", type=float, default=0.0, help="time per length unit")
    tntp.add_argument("--out", help="write link flows here (TNTP flow format)")
    tntp.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def run_tntp(args: argparse.Namespace) -> dict:
    """Solve one TNTP case and return the reported figures."""
    network = read_net(args.net, toll_weight=args.toll_weight, distance_weight=args.distance_weight)
    demand = read_trips(args.trips)
    started = time.perf_counter()
    result = assign(
        network,
        demand,
        algorithm=args.algorithm,
        gap=args.gap,
        max_iter=args.max_iter,
        time_limit_s=args.time_limit,
    )
    seconds = time.perf_counter() - started
    report = {
        "network": args.net,
        "algorithm": args.algorithm,
        "iterations": result.iterations,
        "relative_gap": result.relative_gap,
        "objective": result.objective,
        "tstt": result.tstt,
        "seconds": seconds,
        "converged": result.converged,
        "unassigned_demand": result.unassigned_demand,
        "objective_rel_diff": None,
        "max_abs_flow_diff": None,
    }
    if args.flow:
        best = flows_in_network_order(network, args.flow)
        best_objective = float(
            beckmann_objective(
                network.free_flow_time, network.alpha, network.beta, network.capacity,
                network.fixed_cost, best,
            )
        )  # fmt: skip
        report["best_objective"] = best_objective
        report["objective_rel_diff"] = (result.objective - best_objective) / best_objective
        report["max_abs_flow_diff"] = float(np.max(np.abs(result.volume - best)))
    if args.out:
        write_flow(args.out, network, result.volume, result.cost)
    return report


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = run_tntp(args)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"network            {report['network']}")
    print(f"algorithm          {report['algorithm']}")
    print(f"iterations         {report['iterations']}")
    print(f"relative gap       {report['relative_gap']:.3e}")
    print(f"Beckmann objective {report['objective']:.6f}")
    print(f"TSTT               {report['tstt']:.6f}")
    print(f"seconds            {report['seconds']:.3f}")
    if report["unassigned_demand"]:
        print(f"unassigned demand  {report['unassigned_demand']:.3f}")
    if report["objective_rel_diff"] is not None:
        print(f"objective rel diff {report['objective_rel_diff']:.3e}")
        print(f"max abs flow diff  {report['max_abs_flow_diff']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
