"""Shelter siting at scale: 2,000 demand points x 200 candidate sites, the engine beside spopt.

The same synthetic instance as bench/siting_vs_spopt.py (a 20,000-link synthetic city by
default), capacitated p-median with single assignment, both asked for the proven optimum
(``mip_rel_gap=0``; spopt's CBC ``gapRel=0``) within a time limit, in one run so the ratio is
fair. Prints instance building time, each solver's wall time, objective and (ours) the proven
lower bound and gap in words, the engine's phases (LP with pricing, heuristic, MIP) and model
sizes.

Run: ``prlimit --as=6000000000 .venv/bin/python bench/siting_scale.py [--demand 2000 --sites 200
--p 20] [--method reduced|full] [--nearest-k 20] [--split] [--strong-k 20] [--gap 0]
[--time-limit 60] [--no-spopt] [--spopt-time-limit 600]``
(``--split``: people of a demand point may split between sites, ``single_assignment=False``;
``--strong-k``: with ``--method full``, strong linking rows for each demand point's k nearest
sites only.) HiGHS runs on one thread; the load average and the CPU time are printed beside
the wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from siting_vs_spopt import run_ours, run_spopt, synthetic_instance  # noqa: E402

from simulators.siting import SitingParams  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--p", type=int, default=20)
    parser.add_argument("--links", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-spopt", action="store_true")
    parser.add_argument("--uncapacitated", action="store_true")
    parser.add_argument("--split", action="store_true", help="single_assignment=False")
    parser.add_argument("--strong-k", type=int, default=0, help="strong rows: k nearest only")
    parser.add_argument("--gap", type=float, default=0.0, help="HiGHS mip_rel_gap")
    parser.add_argument("--time-limit", type=float, default=60.0, help="engine limit (s)")
    parser.add_argument("--method", default="reduced", choices=("reduced", "full"))
    parser.add_argument("--nearest-k", type=int, default=20, help="reduced: pairs per point")
    parser.add_argument("--spopt-time-limit", type=float, default=600.0, help="CBC limit (s)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    instance = synthetic_instance(args.demand, args.sites, args.p, args.seed, args.links)
    build = time.perf_counter() - started
    capacitated = not args.uncapacitated
    print(
        f"instance: {args.demand} demand points ({instance['weights'].sum():.0f} people) x "
        f"{args.sites} candidates ({instance['capacities'].sum():.0f} places), p={args.p}, "
        f"{args.links}-link synthetic city, {'capacitated' if capacitated else 'uncapacitated'}; "
        f"travel-time matrix built in {build:.1f} s",
        flush=True,
    )
    params = SitingParams(
        single_assignment=not args.split, strong_link_k=args.strong_k, mip_rel_gap=args.gap,
        time_limit_s=args.time_limit, threads=1, method=args.method, nearest_k=args.nearest_k,
    )  # fmt: skip
    load = os.getloadavg()[0]
    started = time.perf_counter()

    def log(line: str) -> None:
        print(f"  [{time.perf_counter() - started:6.1f} s] {line}", flush=True)

    ours = run_ours(instance, capacitated, params, log=log)
    setting = (
        f"nearest_k={args.nearest_k}"
        if args.method == "reduced"
        else f"strong_link_k={args.strong_k}"
    )
    print(
        f"engine ({args.method}, {setting}, {'split' if args.split else 'single assignment'}, "
        f"mip_rel_gap={args.gap}, time limit {args.time_limit:.0f} s): "
        f"{ours['objective_person_s']:.6f} person-s in {ours['seconds']:.1f} s wall, "
        f"{ours['cpu_seconds']:.1f} s CPU; optimal={ours['optimal']}, gap {ours['mip_gap']:.2e}: "
        f"{ours['gap_words']}; heuristic incumbent {ours['heuristic_person_s']:.1f} person-s; "
        f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    stats = ", ".join(
        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in ours["stats"].items()
    )
    print(f"engine stats: {stats}", flush=True)
    if args.no_spopt:
        return 0
    try:
        peer = run_spopt(instance, capacitated, args.spopt_time_limit)
    except subprocess.CalledProcessError as exc:
        print(f"spopt failed: {exc.stderr[-500:]}")
        return 1
    if peer["objective_person_s"] is None:
        print(
            f"spopt {peer['spopt']} ({peer['solver']}): no solution in {peer['seconds']:.1f} s "
            f"(CBC limit {args.spopt_time_limit:.0f} s), status {peer['status']}"
        )
        return 0
    diff = abs(ours["objective_person_s"] - peer["objective_person_s"])
    print(
        f"spopt {peer['spopt']} ({peer['solver']}): {peer['objective_person_s']:.6f} person-s "
        f"in {peer['seconds']:.1f} s (CBC limit {args.spopt_time_limit:.0f} s), status "
        f"{peer['status']}; |diff| {diff:.2e} person-s; time ratio spopt/engine "
        f"{peer['seconds'] / ours['seconds']:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
