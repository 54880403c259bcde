"""N-1 on every line of pandapower's mv_oberrhein (and case118): the twin's engine
(simulators.power.flow.n_minus_1) side by side with pandapower.contingency.run_contingency,
in one run. Prints a Markdown table (docs/utilities.md quotes it) with the wall times, their
ratio and the largest differences of the aggregates both compute (max/min line loading, max/min
bus voltage over all cases).

    .venv/bin/python bench/power_contingency.py [--workers 2] [--nets mv_oberrhein case118]

The twin's cases re-solve pandapower's internal case of the base flow with one branch out
(``n_minus_1(method="recycled")``, the default); the CPU seconds of the 1-process run and of
pandapower.contingency are printed beside the wall times (the machine is shared: CPU time
says what the code costs, wall time what a user waits at that load).

A third column runs the cases on the topology alone (``power_flow=False``: who loses supply,
no loadings), checked to find the same buses cut off as the power-flow cases.
``--workers N`` also runs the twin's cases in N processes (chunks of lines, as the Celery
fan-out of the what-if sweeps issue would); the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandapower as pp  # noqa: E402
import pandapower.networks as pn  # noqa: E402
from pandapower.contingency import run_contingency  # noqa: E402

from simulators.power.flow import n_minus_1  # noqa: E402

NETS = {"mv_oberrhein": pn.mv_oberrhein, "case118": pn.case118}


def _chunk(args):
    name, lines = args
    net = NETS[name]()
    cases, agg = n_minus_1(net, lines)
    return cases, agg


def _merge(parts):
    agg = None
    cases = []
    for c, a in parts:
        cases += c
        if agg is None:
            agg = a
            continue
        for table in agg:
            for key in agg[table]:
                f = np.fmax if key.startswith("max") else np.fmin
                agg[table][key] = f(agg[table][key], a[table][key])
    return cases, agg


def bench(name: str, workers: int) -> dict:
    net = NETS[name]()
    lines = net.line.index[net.line.in_service.astype(bool)].tolist()
    # one power flow first: pandapower's numba functions compile once per process, timed
    # for neither side
    pp.runpp(NETS[name]())
    t0, c0 = time.perf_counter(), time.process_time()
    cases, agg = n_minus_1(net, lines)
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    topo, _ = n_minus_1(net, lines, power_flow=False)
    topo_s = time.perf_counter() - t0
    # the topology alone finds the same buses cut off as the power-flow cases
    assert [c.unsupplied for c in topo] == [c.unsupplied for c in cases]
    par_s = None
    if workers > 1:
        chunks = [(name, lines[i::workers]) for i in range(workers)]
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            par_cases, par_agg = _merge(list(pool.map(_chunk, chunks)))
        par_s = time.perf_counter() - t0
        assert len(par_cases) == len(cases)
    ref = NETS[name]()
    for table in ("line", "trafo"):
        ref[table]["max_loading_percent"] = 100.0
    t0, c0 = time.perf_counter(), time.process_time()
    res = run_contingency(ref, {"line": {"index": np.array(lines)}})
    pp_s, pp_cpu = time.perf_counter() - t0, time.process_time() - c0
    diff_loading = max(
        float(np.nanmax(np.abs(agg["line"][k] - res["line"][k])))
        for k in ("max_loading_percent", "min_loading_percent")
    )
    diff_vm = max(
        float(np.nanmax(np.abs(agg["bus"][k] - res["bus"][k]))) for k in ("max_vm_pu", "min_vm_pu")
    )
    return {
        "net": name,
        "lines": len(lines),
        "cases_cutting_supply": sum(len(c.unsupplied) > 0 for c in cases),
        "ours_s": ours_s,
        "ours_cpu": ours_cpu,
        "pp_cpu": pp_cpu,
        "topo_s": topo_s,
        "par_s": par_s,
        "pp_s": pp_s,
        "diff_loading": diff_loading,
        "diff_vm": diff_vm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nets", nargs="+", choices=list(NETS), default=list(NETS))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    loads = [os.getloadavg()[0]]
    rows = [bench(name, args.workers) for name in args.nets]
    loads.append(os.getloadavg()[0])
    print(
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
        f"CPUs, 1-minute load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end\n"
    )
    print(
        f"| network | lines out (N-1) | cases cutting supply | twin, 1 process (s) | twin, "
        f"1 process, CPU (s) | twin, {args.workers} processes (s) | twin, topology only (s) "
        "| pandapower.contingency (s) | pandapower.contingency, CPU (s) "
        "| pandapower / twin (1 process) | max diff loading (%) | max diff voltage (p.u.) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        par = f"{r['par_s']:.1f}" if r["par_s"] is not None else "-"
        print(
            f"| {r['net']} | {r['lines']} | {r['cases_cutting_supply']} | {r['ours_s']:.1f} | "
            f"{r['ours_cpu']:.1f} | {par} | {r['topo_s']:.2f} | {r['pp_s']:.1f} | "
            f"{r['pp_cpu']:.1f} | {r['pp_s'] / r['ours_s']:.2f} | "
            f"{r['diff_loading']:.1e} | {r['diff_vm']:.1e} |"
        )


if __name__ == "__main__":
    main()
