"""Benchmark: traffic assignment on synthetic cities of 20k-200k links, side by side with AequilibraE.

For each size, a city from ``simulators.synthetic.generate_city`` gets the twin's own
demand model (``simulators.traffic.demand.demand_from_buildings``: trips from its
buildings, hexagonal zones, gravity distribution). The network and the demand are
written as TNTP files (zones renumbered first) and *both* engines read those same
files, each in its own subprocess (``prlimit`` caps its address space; peak resident
memory comes from the child's ``ru_maxrss``). Ours runs every algorithm asked for to
the target gap; AequilibraE 1.7.2 (``bench/.venv-traffic``, make it with
``bench/setup_traffic_venv.sh``) runs its biconjugate Frank-Wolfe with the same number
of cores, up to ``--peer-max-links`` and within ``--peer-timeout`` seconds. Seconds are
solve time only (no file reading, kernels compiled beforehand); ratios are AequilibraE
seconds / ours, measured in the same run.

Usage::

    .venv/bin/python bench/traffic_city_scale.py                       # 20k..200k, ~1 h
    .venv/bin/python bench/traffic_city_scale.py --sizes 20000 --algorithms bfw bush
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

# numba's workqueue threads yield the CPU when idle; OpenMP's spin, which costs more than
# the second core brings on a shared, busy machine (measured: 1.5 s vs 2.8 s on Barcelona)
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PEER_PYTHON = ROOT / "bench" / ".venv-traffic" / "bin" / "python"
PEER_RUNNER = ROOT / "bench" / "traffic_aequilibrae_runner.py"
SIZES = (20_000, 50_000, 100_000, 200_000)
MEMORY_CAP_BYTES = 6_000_000_000


def build_city(n_links: int, seed: int, folder: Path) -> dict:
    """Synthetic city -> network + twin demand -> TNTP files; returns what was built."""
    from simulators.synthetic import generate_city
    from simulators.traffic.demand import demand_from_buildings
    from simulators.traffic.osm import network_from_graph
    from simulators.traffic.tntp import write_net, write_trips, zones_first

    started = time.perf_counter()
    city = generate_city(n_road_links=n_links, seed=seed)
    graph = city.to_networkx()
    network, _ = network_from_graph(graph)
    demand = demand_from_buildings(graph, city.buildings, network=network)
    build_s = time.perf_counter() - started
    network, demand = zones_first(network, demand)
    net_path, trips_path = folder / f"city{n_links}_net.tntp", folder / f"city{n_links}_trips.tntp"
    write_net(net_path, network)
    write_trips(trips_path, demand, network.n_zones)
    return {
        "net": str(net_path),
        "trips": str(trips_path),
        "links": network.n_links,
        "nodes": network.n_nodes,
        "zones": network.n_zones,
        "buildings": len(city.buildings),
        "trips_veh_h": demand.total,
        "build_s": build_s,
        "build_peak_mb": peak_mb(),
    }


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), MB.

    Not ``ru_maxrss``: Linux carries that across fork + exec, so a child would report
    its parent's size.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def solve_one(net_path: str, trips_path: str, algorithm: str, gap: float, limit_s: float) -> dict:
    """Child process: read the files, warm the kernels on a tiny problem, solve, report."""
    from simulators.traffic import assign
    from simulators.traffic.tntp import read_net, read_trips

    tntp = Path(os.environ.get("CITYTWIN_DATA", ROOT / ".." / "shared" / "data")) / "tntp"
    small_net, small_demand = (
        read_net(tntp / "SiouxFalls_net.tntp"),
        read_trips(tntp / "SiouxFalls_trips.tntp"),
    )
    assign(small_net, small_demand, algorithm=algorithm, gap=1e-3)  # compile / load cache
    if algorithm == "bush":
        # the parallel sweep runs from PARALLEL_MIN_LINKS on: compile it here, not in the timing
        from numba import get_num_threads

        from simulators.traffic.assignment import split_reachable_demand
        from simulators.traffic.bush import solve_bush_based

        loaded, _ = split_reachable_demand(small_net, small_demand)
        solve_bush_based(small_net, loaded, gap=1e-3, threads=get_num_threads())
    network, demand = read_net(net_path), read_trips(trips_path)
    started = time.perf_counter()
    result = assign(
        network, demand, algorithm=algorithm, gap=gap, max_iter=100_000, time_limit_s=limit_s
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "iterations": result.iterations,
        "relative_gap": result.relative_gap,
        "converged": result.converged,
        "objective": result.objective,
        "unassigned": result.unassigned_demand,
        "peak_mb": peak_mb(),
    }


def _capped(command: list[str]) -> list[str]:
    return ["prlimit", f"--as={MEMORY_CAP_BYTES}", *command]


def ours(case: dict, algorithm: str, gap: float, threads: int, limit_s: float) -> dict:
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--one", case["net"], case["trips"], algorithm]
    command += [str(gap), str(limit_s)]
    done = subprocess.run(_capped(command), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def peer(case: dict, gap: float, threads: int, timeout_s: float) -> dict:
    if not PEER_PYTHON.exists():
        raise SystemExit(f"{PEER_PYTHON} missing: run bench/setup_traffic_venv.sh first")
    env = {**os.environ, "AEQUILIBRAE_CORES": str(threads), "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            _capped([str(PEER_PYTHON), str(PEER_RUNNER), case["net"], case["trips"], "bfw"])
            + [str(gap)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"timeout_s": timeout_s}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    report = json.loads(lines[-1])
    report.pop("volume", None)
    report["wall_s"] = time.perf_counter() - started
    return report


def _fmt_ours(run: dict) -> str:
    if "error" in run:
        return f"failed: {run['error'][:60]}"
    mark = "" if run["converged"] else " (not converged)"
    return (
        f"{run['seconds']:.1f} s, {run['iterations']} it, gap {run['relative_gap']:.1e}{mark}, "
        f"{run['peak_mb']:.0f} MB"
    )


def _fmt_peer(run: dict | None) -> str:
    if run is None:
        return "not run"
    if "timeout_s" in run:
        return f"> {run['timeout_s']:.0f} s (stopped)"
    if "error" in run:
        return f"failed: {run['error'][:60]}"
    return f"{run['seconds']:.1f} s, {run['iterations']} it, gap {run['relative_gap']:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--algorithms", nargs="+", default=["bfw", "bush"])
    parser.add_argument("--gap", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2, help="cores for both engines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=900.0, help="our time limit, s")
    parser.add_argument("--peer-max-links", type=int, default=200_000)
    parser.add_argument("--peer-timeout", type=float, default=900.0)
    parser.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        size, seed, folder = args.build
        print(json.dumps(build_city(int(size), int(seed), Path(folder))))
        return
    if args.one:
        net, trips, algorithm, gap, limit = args.one
        print(json.dumps(solve_one(net, trips, algorithm, float(gap), float(limit))))
        return
    print(
        f"gap {args.gap:g}, {args.threads} threads for both engines, seed {args.seed}, "
        f"memory cap {MEMORY_CAP_BYTES / 1e9:.0f} GB per process; seconds = solve only\n"
    )
    header = (
        "| links | nodes | zones | buildings | trips veh/h | engine | result | vs AequilibraE |"
    )
    print(header)
    print("|---" * 8 + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            # in a child too, so that each figure is the peak of that step alone
            command = [sys.executable, __file__, "--build", str(size), str(args.seed), tmp]
            built = subprocess.run(_capped(command), capture_output=True, text=True, check=True)
            case = json.loads(built.stdout.strip().splitlines()[-1])
            runs = {
                alg: ours(case, alg, args.gap, args.threads, args.limit) for alg in args.algorithms
            }
            theirs = (
                peer(case, args.gap, args.threads, args.peer_timeout)
                if case["links"] <= args.peer_max_links
                else None
            )
            first = (
                f"| {case['links']} | {case['nodes']} | {case['zones']} | {case['buildings']} | "
                f"{case['trips_veh_h']:.0f} "
            )
            blank = "| | | | | "
            for i, (alg, run) in enumerate(runs.items()):
                ratio = ""
                if run.get("converged") and theirs and "seconds" in theirs:
                    ratio = f"{theirs['seconds'] / run['seconds']:.2f}x"
                elif run.get("converged") and theirs and "timeout_s" in theirs:
                    ratio = f"> {theirs['timeout_s'] / run['seconds']:.2f}x"
                elif theirs:
                    ratio = "n/a (ours not converged)"
                print(f"{first if i == 0 else blank}| ours {alg} | {_fmt_ours(run)} | {ratio} |")
            print(f"{blank}| AequilibraE bfw | {_fmt_peer(theirs)} | |", flush=True)
            print(
                f"{blank}| (city, graph, twin demand) | {case['build_s']:.1f} s, "
                f"{case['build_peak_mb']:.0f} MB | |",
                flush=True,
            )


if __name__ == "__main__":
    main()
