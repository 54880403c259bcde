"""Shelter siting at scale: 2,000 demand points x 200 candidate sites, HiGHS beside spopt.

The same synthetic instance as bench/siting_vs_spopt.py (a 20,000-link synthetic city by
default), capacitated p-median with single assignment, both solved to the proven optimum
(HiGHS ``mip_rel_gap=0``; spopt's CBC ``gapRel=0``), in one run so the ratio is fair.
Prints instance building time, each solver's wall time and objective, their difference.

Run: ``prlimit --as=6000000000 .venv/bin/python bench/siting_scale.py [--demand 2000 --sites 200
--p 20] [--no-spopt] [--peer-timeout 900]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from siting_vs_spopt import run_ours, run_spopt, synthetic_instance  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=2000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--p", type=int, default=20)
    parser.add_argument("--links", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-spopt", action="store_true")
    parser.add_argument("--uncapacitated", action="store_true")
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
    ours = run_ours(instance, capacitated)
    print(
        f"HiGHS: {ours['objective_person_s']:.6f} person-s in {ours['seconds']:.1f} s "
        f"(solver {ours['solve_seconds']:.1f} s, optimal={ours['optimal']})",
        flush=True,
    )
    if args.no_spopt:
        return 0
    try:
        peer = run_spopt(instance, capacitated)
    except subprocess.CalledProcessError as exc:
        print(f"spopt failed: {exc.stderr[-500:]}")
        return 1
    diff = abs(ours["objective_person_s"] - peer["objective_person_s"])
    print(
        f"spopt {peer['spopt']} ({peer['solver']}): {peer['objective_person_s']:.6f} person-s "
        f"in {peer['seconds']:.1f} s, status {peer['status']}; |diff| {diff:.2e} person-s; "
        f"time ratio spopt/HiGHS {peer['seconds'] / ours['seconds']:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
