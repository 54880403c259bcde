"""Run AequilibraE's traffic assignment on one TNTP network (inside bench/.venv-traffic).

Called by ``bench/traffic_vs_aequilibrae.py`` in a subprocess; prints one JSON object
per requested gap with seconds (``execute()`` only, single core), iterations,
the final relative gap and the link volumes in net-file order.
Usage: python traffic_aequilibrae_runner.py NET TRIPS ALGORITHM GAP [GAP ...]
Cores: ``AEQUILIBRAE_CORES`` (default 1); ``AEQUILIBRAE_MAX_ITER`` caps the iterations.
"""

import json
import logging
import os
import re
import sys
import time

import numpy as np
import pandas as pd


def read_net(path):
    text = open(path).read()
    meta = dict(re.findall(r"<([^>]+)>\s*([^\n<]*)", text.split("<END OF METADATA>")[0]))
    rows = []
    for line in text.split("<END OF METADATA>")[1].splitlines():
        line = line.strip()
        if line and not line.startswith("~"):
            fields = line.rstrip(";").split()
            if len(fields) >= 7:
                rows.append([float(f) for f in fields[:10]])
    cols = ["a", "b", "capacity", "length", "fft", "alpha", "beta", "speed", "toll", "type"]
    return {k.strip(): v.strip() for k, v in meta.items()}, pd.DataFrame(
        rows, columns=cols[: len(rows[0])]
    )


def read_trips(path, zones):
    matrix = np.zeros((zones, zones))
    origin = None
    for line in open(path).read().split("<END OF METADATA>")[1].splitlines():
        if line.strip().lower().startswith("origin"):
            origin = int(line.split()[1]) - 1
            continue
        for dest, flow in re.findall(r"(\d+)\s*:\s*([-+0-9.eE]+)", line):
            matrix[origin, int(dest) - 1] = float(flow)
    np.fill_diagonal(matrix, 0.0)
    return matrix


def main():
    net_path, trips_path, algorithm, *gaps = sys.argv[1:]
    logging.getLogger("aequilibrae").setLevel(logging.ERROR)
    from aequilibrae.matrix import AequilibraeMatrix
    from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass

    meta, links = read_net(net_path)
    zones = int(meta["NUMBER OF ZONES"])
    first_thru = int(meta.get("FIRST THRU NODE", 1))
    network = pd.DataFrame(
        {
            "link_id": np.arange(1, len(links) + 1),
            "a_node": links["a"].astype(np.int64),
            "b_node": links["b"].astype(np.int64),
            "direction": 1,
            "free_flow_time": links["fft"],
            "capacity": links["capacity"],
            "alpha": links["alpha"],
            "beta": links["beta"],
        }
    )
    demand = read_trips(trips_path, zones)
    for gap in map(float, gaps):
        graph = Graph()
        graph.network = network.copy()
        graph.prepare_graph(np.arange(1, zones + 1, dtype=np.int64), remove_dead_ends=False)
        graph.set_graph("free_flow_time")
        graph.set_skimming(["free_flow_time"])
        graph.set_blocked_centroid_flows(first_thru > 1)
        matrix = AequilibraeMatrix()
        matrix.create_empty(zones=zones, matrix_names=["matrix"], memory_only=True)
        matrix.index[:] = np.arange(1, zones + 1)
        matrix.matrices[:, :, 0] = demand
        matrix.computational_view(["matrix"])
        assignment = TrafficAssignment()
        assignment.set_classes([TrafficClass("car", graph, matrix)])
        assignment.set_vdf("BPR")
        assignment.set_vdf_parameters({"alpha": "alpha", "beta": "beta"})
        assignment.set_capacity_field("capacity")
        assignment.set_time_field("free_flow_time")
        assignment.set_algorithm(algorithm)
        assignment.set_cores(int(os.environ.get("AEQUILIBRAE_CORES", "1")))
        assignment.max_iter = int(os.environ.get("AEQUILIBRAE_MAX_ITER", "100000"))
        assignment.rgap_target = gap
        started = time.perf_counter()
        assignment.execute()
        seconds = time.perf_counter() - started
        report = pd.DataFrame(assignment.assignment.convergence_report)
        results = assignment.results()
        column = [c for c in results.columns if c.endswith("_tot")][0]
        volume = results[column].reindex(network["link_id"]).fillna(0.0).to_numpy()
        print(
            json.dumps(
                {
                    "gap_target": gap,
                    "seconds": seconds,
                    "iterations": int(report["iteration"].max()),
                    "relative_gap": float(report["rgap"].iloc[-1]),
                    "volume": volume.tolist(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
