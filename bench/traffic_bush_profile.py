"""Profile of the bush solver on synthetic cities: CPU seconds per sweep and per phase.

Where does a bush (Algorithm B) iteration spend its time, and how does that grow with
the city? For each size: the city and the twin's demand as in
``bench/traffic_city_scale.py``, then ``--sweeps`` serial sweeps (one thread, so that the
figures are CPU seconds: the other users of a shared machine do not count), the gap
evaluation (all-or-nothing over every origin), and one more sweep with each phase
timed (see :func:`phase_times`). Figures in docs/traffic.md ("Profile").

Usage::

    NUMBA_NUM_THREADS=1 .venv/bin/python bench/traffic_bush_profile.py --sizes 20000 50000
    NUMBA_NUM_THREADS=1 .venv/bin/python bench/traffic_bush_profile.py --sizes 20000 --gap 1e-4

``--gap``: sweep until that relative gap (sweeps and CPU seconds to get there, sweeps and
gap evaluations together in "CPU s in all").
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
    """One serial sweep with each phase timed (CPU s), on a copy of the solver's state.

    Mirrors ``bush._bush_origin``: the kept topological order read back (``order``), the
    bush's in-links gathered in that order (``compact``), labels with the links without
    flow dropped (``labels+drop``), Dial's candidate links (``add``), the order and in-links
    updated for them (``reorder``), the equilibration passes' labels (``labels``) and
    Newton shifts (``shifts``).
    """
    from simulators.traffic import bush as B
    from simulators.traffic.costs import link_cost_derivatives, link_costs

    t0, al, be, cap, fx = (net.free_flow_time, net.alpha, net.beta, net.capacity,
                           net.fixed_cost)  # fmt: skip
    in_bush, bush_flow, vol, orders, n_order = (a.copy() for a in state)
    ins, inl = B.in_links_csr(net)
    m, n = net.n_links, net.n_nodes
    cost, der = np.empty(m), np.empty(m)
    link_costs(t0, al, be, cap, fx, vol, cost)
    link_cost_derivatives(t0, al, be, cap, vol, der)
    indeg, order, pos, pmin, pmax, seg_min, seg_max = (np.empty(n, np.int64) for _ in range(7))
    low, high, longest = np.empty(n), np.empty(n), np.empty(n)
    reach = np.empty(n, bool)
    b_start, b_links = np.empty(n + 1, np.int64), np.empty(m, np.int64)
    b_start2, b_links2, added = (
        np.empty(n + 1, np.int64),
        np.empty(m, np.int64),
        np.empty(m, np.int64),
    )
    names = ("order", "compact", "labels+drop", "add", "reorder", "labels", "shifts")
    times = dict.fromkeys(names, 0.0)
    clock = time.process_time

    def timed(name, fn, *args):
        started = clock()
        out = fn(*args)
        times[name] += clock() - started
        return out

    def restore(k):
        c = int(n_order[k])
        order[:c] = orders[k, :c]
        pos[order[:c]] = np.arange(c)
        return c

    for k in range(len(loaded.origins)):
        o, row, flow = loaded.origins[k], in_bush[k], bush_flow[k]
        eps = B.FLOW_EPS * loaded.flow[loaded.start[k] : loaded.start[k + 1]].sum()
        c = timed("order", restore, k)
        timed("compact", B._bush_in_links, order, c, ins, inl, row, b_start, b_links)
        timed("labels+drop", B._labels_drop, order, c, b_start, b_links, net.tail, cost, row,
              flow, vol, low, pmin, high, pmax, longest, eps)  # fmt: skip
        n_added = timed("add", B._update_bush, o, net.first_thru_node, n, net.tail, net.head,
                        net.open, cost, row, order, c, low, longest, reach, added)  # fmt: skip
        if n_added:
            started = clock()
            in_order = (pos[net.tail[added[:n_added]]] < pos[net.head[added[:n_added]]]).all()
            B._insert_links(order, c, pos, net.head, b_start, b_links, added, n_added, b_start2,
                            b_links2)  # fmt: skip
            if not in_order:
                B._reorder_local(order, c, pos, net.tail, b_start, b_links, indeg, b_start2,
                                 b_links2)  # fmt: skip
            times["reorder"] += clock() - started
        b_tail = timed("labels", net.tail.__getitem__, b_links[: b_start[c]])
        for _ in range(5):
            timed("labels", B._labels_compact, order, c, b_start, b_links, b_tail, cost, flow,
                  low, pmin, high, pmax, eps)  # fmt: skip
            largest = timed("shifts", B._equilibrate_bush, order, c, pos, net.tail, cost, der,
                            t0, al, be, cap, fx, flow, vol, low, pmin, high, pmax, seg_min,
                            seg_max, 1e-9)  # fmt: skip
            if largest <= 1e-9:
                break
    return times


def profile(size: int, seed: int, sweeps: int, gap: float | None, passes: int) -> None:
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
        # in_bush, bush_flow, volume, kept topological orders and their lengths
        state["last"] = (args[16], args[17], args[18], args[24], args[25])

    def timed_aon(*args):
        started = time.process_time()
        out = aon(*args)
        spent["aon"] += time.process_time() - started
        return out

    B.solve_bush_based(net, loaded, gap=1e-3, max_iter=1, threads=1)  # compile
    B._bush_sweep, B.all_or_nothing = timed_sweep, timed_aon
    try:
        result = B.solve_bush_based(
            net,
            loaded,
            gap=gap or 1e-12,
            max_iter=sweeps if gap is None else 2000,
            threads=1,
            inner_passes=passes,
        )
        sweeps = result.iterations
    finally:
        B._bush_sweep, B.all_or_nothing = sweep, aon
    phases = phase_times(net, loaded, state["last"])
    print(
        f"| {net.n_links:,} | {len(loaded.origins)} | {spent['sweep'] / sweeps:.2f} | "
        f"{spent['aon'] / (sweeps + 1):.2f} | {result.relative_gap:.1e} after {sweeps} | "
        f"{spent['sweep'] + spent['aon']:.1f} | "
        + ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
        + " |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000])
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gap", type=float, help="sweep until this gap instead of --sweeps")
    parser.add_argument("--inner-passes", type=int, default=5)
    args = parser.parse_args()
    print("| links | origins | CPU s per sweep | CPU s per gap (AON) | relative gap | "
          "CPU s in all | CPU s by phase, next sweep |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        profile(size, args.seed, args.sweeps, args.gap, args.inner_passes)


if __name__ == "__main__":
    main()
