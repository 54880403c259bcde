"""Benchmark: one road-upgrades evaluation, warm-started vs from scratch, side by side.

A synthetic city (``simulators.synthetic.generate_city`` and the twin's demand model, as in
``bench/traffic_city_scale.py``) is assigned once with the bush solver to ``--gap``. Then the
``road_upgrades`` engine (:mod:`simulators.road_upgrades`) evaluates the ``--closures`` busiest
road segments closed and the ``--candidates`` most delayed links with two options each (+1
lane, +25 % capacity), twice: warm-started from the base's bushes (what the twin runs) and
from scratch (the base without its bushes: each what-if a cold bush assignment). Printed: wall
and CPU seconds of each, the ratio, and how far the two rankings' values differ (both are the
same equilibria to within the gap). CPU seconds are printed too: the machine may be shared.

Usage::

    .venv/bin/python bench/road_upgrades_scale.py                  # 2,000 links
    .venv/bin/python bench/road_upgrades_scale.py --size 20000 --closures 20 --candidates 10
"""

from __future__ import annotations

import argparse
import dataclasses
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

    from simulators.road_upgrades import (
        busiest_segments,
        congested_links,
        evaluate_closures,
        evaluate_upgrades,
        options_from,
    )
    from simulators.traffic import assign
    from simulators.traffic.tntp import read_net, read_trips

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2_000, help="road links of the city")
    parser.add_argument("--closures", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = build_city(args.size, args.seed, Path(tmp))
        network, demand = read_net(case["net"]), read_trips(case["trips"])
    assign(network, demand, algorithm="bush", gap=1e-1, max_iter=2, keep_bushes=True)  # compile
    base, base_s, base_cpu = timed(
        assign, network, demand, algorithm="bush", gap=args.gap, keep_bushes=True
    )
    cold_base = dataclasses.replace(base, bushes=None)  # same equilibrium, nothing to start from
    print(
        f"city: {network.n_links:,} links, {network.n_zones} zones, {demand.total:,.0f} veh/h; "
        f"base to gap {args.gap:g}: {base_s:.1f} s ({base_cpu:.1f} CPU s)"
    )
    thru = (network.tail >= network.first_thru_node) & (network.head >= network.first_thru_node)
    segments = busiest_segments(base, thru, args.closures)
    links = congested_links(base, thru, args.candidates)
    options = options_from(1, 25.0)
    rows, results = [], {}
    for name, start in (("warm", base), ("cold", cold_base)):
        closures, c_s, c_cpu = timed(evaluate_closures, start, segments, args.gap, 1000, 1.0)
        upgrades, u_s, u_cpu = timed(evaluate_upgrades, start, links, options, args.gap, 1000, 1.0)
        results[name] = (closures, upgrades)
        n = len(segments) + len(links) * len(options)
        rows.append((name, n, c_s + u_s, c_cpu + u_cpu))
    print(
        f"{len(segments)} closures + {len(links)} links x {len(options)} options, gap {args.gap:g}"
    )
    print("| start | re-assignments | seconds (CPU) | re-assignments/min |")
    print("|---|---:|---:|---:|")
    for name, n, wall, cpu in rows:
        print(f"| {name} | {n} | {wall:.1f} ({cpu:.1f}) | {60 * n / wall:.1f} |")
    print(f"cold/warm: {rows[1][2] / rows[0][2]:.2f}x wall, {rows[1][3] / rows[0][3]:.2f}x CPU")
    (wc, wu), (cc, cu) = results["warm"], results["cold"]
    by_links = {tuple(c.links): c.added_h for c in cc}
    diff_c = max(abs(c.added_h - by_links[tuple(c.links)]) for c in wc) if wc else 0.0
    by_link = {u.link: u.saving_veh_h_per_h for u in cu}
    diff_u = max(abs(u.saving_veh_h_per_h - by_link[u.link]) for u in wu) if wu else 0.0
    print(
        f"largest difference warm vs cold: closures {diff_c:.4f} h, upgrades {diff_u:.4f} veh·h/h; "
        f"same first closure: {bool(wc) and np.array_equal(wc[0].links, cc[0].links)}, "
        f"same first upgrade: {bool(wu) and wu[0].link == cu[0].link}"
    )


if __name__ == "__main__":
    main()
