"""Benchmark: warm-started what-ifs (``simulators.traffic.warm.reassign``) vs from scratch.

A synthetic city (``simulators.synthetic.generate_city``, the twin's demand model, as in
``bench/traffic_city_scale.py``) is assigned once with the bush solver to ``--gap``,
keeping its bushes. Then, for each of the ``--variants`` busiest links, the network with
that link closed (or its capacity multiplied by ``--factor``) is assigned twice to the
same gap: from scratch (``assign(algorithm="bush")``) and warm from the base
(``reassign``). Printed per variant: seconds and sweeps of each, the ratio, and the
objective difference between the two (both are the same equilibrium to within the gap).
CPU seconds are printed too: the machine may be shared.

Usage::

    .venv/bin/python bench/traffic_warm_start.py                 # 20k links, 20 closures
    .venv/bin/python bench/traffic_warm_start.py --size 20000 --variants 5 --factor 0.5
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    from traffic_city_scale import build_city

    from simulators.traffic import assign
    from simulators.traffic.scenarios import close_links, set_capacity
    from simulators.traffic.tntp import read_net, read_trips
    from simulators.traffic.warm import reassign

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="road links of the city")
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--factor", type=float, default=0.0, help="0 closes; else capacity x")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = build_city(args.size, args.seed, Path(tmp))
        network, demand = read_net(case["net"]), read_trips(case["trips"])
    assign(network, demand, algorithm="bush", gap=1e-1, max_iter=2)  # compile
    base, base_s, base_cpu = timed(
        assign, network, demand, algorithm="bush", gap=args.gap, keep_bushes=True
    )
    print(
        f"city: {network.n_links:,} links, {network.n_zones} zones, {demand.total:,.0f} veh/h; "
        f"base to gap {args.gap:g}: {base_s:.1f} s ({base_cpu:.1f} CPU s), {base.iterations} sweeps"
    )
    # busiest links that are not zone connectors (closing a connector strands a zone)
    thru = network.tail >= network.first_thru_node
    thru &= network.head >= network.first_thru_node
    candidates = np.flatnonzero(thru)[np.argsort(-base.volume[thru])][: args.variants]
    edit = "closed" if args.factor == 0 else f"capacity x{args.factor:g}"
    print(f"| link ({edit}) | volume veh/h | cold s (CPU) | sweeps | warm s (CPU) | sweeps | "
          "cold/warm | bushes repaired / rebuilt | objective diff |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    ratios, cpu_ratios = [], []
    for link in candidates:
        edited = (
            close_links(network, [link])
            if args.factor == 0
            else set_capacity(network, [link], factor=args.factor)
        )
        cold, cold_s, cold_cpu = timed(assign, edited, demand, algorithm="bush", gap=args.gap)
        warm, warm_s, warm_cpu = timed(reassign, base, edited, gap=args.gap)
        diff = (warm.objective - cold.objective) / cold.objective
        ratios.append(cold_s / warm_s)
        cpu_ratios.append(cold_cpu / warm_cpu)
        print(
            f"| {link} | {base.volume[link]:,.0f} | {cold_s:.1f} ({cold_cpu:.1f}) | "
            f"{cold.iterations} | {warm_s:.1f} ({warm_cpu:.1f}) | {warm.iterations} | "
            f"{ratios[-1]:.1f}x | {warm.history['repaired_bushes'][0]} / "
            f"{warm.history['rebuilt_bushes'][0]} | {diff:+.1e} |",
            flush=True,
        )
    print(
        f"median cold/warm over {len(ratios)} variants: {np.median(ratios):.1f}x wall, "
        f"{np.median(cpu_ratios):.1f}x CPU (min {min(ratios):.1f}x, max {max(ratios):.1f}x)"
    )


if __name__ == "__main__":
    main()
