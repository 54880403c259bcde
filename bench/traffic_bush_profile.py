"""Profile of the bush solver on synthetic cities: CPU seconds per sweep and per phase.

Where does a bush (Algorithm B) iteration spend its time, and how does that grow with
the city? For each size: the city and the twin's demand as in
``bench/traffic_city_scale.py``, then ``--sweeps`` serial sweeps (one thread, so that the
figures are CPU seconds: the other users of a shared machine do not count), the gap
evaluation (all-or-nothing over every origin), and one more sweep with each phase
timed (topological sorts, labels, dropping unused links, adding shortcuts, Newton
shifts). Figures in docs/traffic.md ("Profile").

Usage::

    NUMBA_NUM_THREADS=1 .venv/bin/python bench/traffic_bush_profile.py --sizes 20000 50000
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


def phase_times(net, loaded, state) -> dict[str, float]:
    """One serial sweep with each phase timed (CPU s), on a copy of the solver's state."""
    from simulators.traffic import bush as B
    from simulators.traffic.costs import link_cost_derivatives, link_costs

    t0, al, be, cap, fx = (net.free_flow_time, net.alpha, net.beta, net.capacity,
                           net.fixed_cost)  # fmt: skip
    in_bush, bush_flow, vol = (a.copy() for a in state)
    ins, inl = B.in_links_csr(net)
    m, n = net.n_links, net.n_nodes
    cost, der = np.empty(m), np.empty(m)
    link_costs(t0, al, be, cap, fx, vol, cost)
    link_cost_derivatives(t0, al, be, cap, vol, der)
    ints = [np.empty(n, np.int64) for _ in range(7)]
    indeg, order, pos, pmin, pmax, seg_min, seg_max = ints
    low, high, longest = np.empty(n), np.empty(n), np.empty(n)
    reach = np.empty(n, bool)
    b_start, b_links = np.empty(n + 1, np.int64), np.empty(m, np.int64)
    times = dict.fromkeys(("topological", "labels", "drop", "add", "shifts"), 0.0)
    clock = time.process_time

    def timed(name, fn, *args):
        started = clock()
        out = fn(*args)
        times[name] += clock() - started
        return out

    for k in range(len(loaded.origins)):
        o, row, flow = loaded.origins[k], in_bush[k], bush_flow[k]
        eps = B.FLOW_EPS * loaded.flow[loaded.start[k] : loaded.start[k + 1]].sum()
        topo = (o, row, net.out_start, net.out_links, net.head, indeg, order, pos)
        labels = (ins, inl, net.tail, cost, row, flow, low, pmin, high, pmax, longest, eps)
        c = timed("topological", B._topological_order, *topo)
        timed("labels", B._labels, order, c, *labels)
        timed("drop", B._drop_unused, m, net.head, row, flow, pmin, vol, eps)
        timed("labels", B._labels, order, c, *labels)
        timed("add", B._update_bush, o, net.first_thru_node, n, net.tail, net.head, net.open,
              cost, row, flow, order, c, low, pmin, longest, reach)  # fmt: skip
        c = timed("topological", B._topological_order, *topo)
        timed("labels", B._bush_in_links, order, c, ins, inl, row, b_start, b_links)
        for _ in range(5):
            timed("labels", B._labels_compact, order, c, b_start, b_links, net.tail, cost, flow,
                  low, pmin, high, pmax, eps)  # fmt: skip
            largest = timed("shifts", B._equilibrate_bush, order, c, pos, net.tail, cost, der,
                            t0, al, be, cap, fx, flow, vol, low, pmin, high, pmax, seg_min,
                            seg_max, 1e-9)  # fmt: skip
            if largest <= 1e-9:
                break
    return times


def profile(size: int, seed: int, sweeps: int) -> None:
    from simulators.traffic import bush as B
    from simulators.traffic.assignment import split_reachable_demand
    from simulators.traffic.tntp import read_net, read_trips

    sys.path.insert(0, str(ROOT / "bench"))
    from traffic_city_scale import build_city

    with tempfile.TemporaryDirectory() as tmp:
        case = build_city(size, seed, Path(tmp))
        net, demand = read_net(case["net"]), read_trips(case["trips"])
    loaded, _ = split_reachable_demand(net, demand)
    spent = {"sweep": 0.0, "aon": 0.0}
    sweep, aon = B._bush_sweep, B.all_or_nothing
    state = {}

    def timed_sweep(*args):
        started = time.process_time()
        sweep(*args)
        spent["sweep"] += time.process_time() - started
        state["last"] = (args[16], args[17], args[18])  # in_bush, bush_flow, volume

    def timed_aon(*args):
        started = time.process_time()
        out = aon(*args)
        spent["aon"] += time.process_time() - started
        return out

    B.solve_bush_based(net, loaded, gap=1e-3, max_iter=1, threads=1)  # compile
    B._bush_sweep, B.all_or_nothing = timed_sweep, timed_aon
    try:
        result = B.solve_bush_based(net, loaded, gap=1e-12, max_iter=sweeps, threads=1)
    finally:
        B._bush_sweep, B.all_or_nothing = sweep, aon
    phases = phase_times(net, loaded, state["last"])
    print(
        f"| {net.n_links:,} | {len(loaded.origins)} | {spent['sweep'] / sweeps:.2f} | "
        f"{spent['aon'] / (sweeps + 1):.2f} | {result.relative_gap:.1e} after {sweeps} | "
        + ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
        + " |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000])
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("| links | origins | CPU s per sweep | CPU s per gap (AON) | relative gap | "
          "CPU s by phase, next sweep |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        profile(size, args.seed, args.sweeps)


if __name__ == "__main__":
    main()
