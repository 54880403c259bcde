"""Run AequilibraE's optimal-strategy transit assignment on one network (in bench/.venv-transit).

Called by ``bench/transit_assignment.py`` in a subprocess with an ``.npz`` holding the strategy
network (tail, head, trav_time, freq) and the demand (origin, destination vertex, demand);
prints one JSON object: seconds of ``assign()`` (the hyperpaths and the loading) and the link
volumes. Usage: python transit_strategies_aequilibrae.py NETWORK.npz THREADS
"""

import json
import sys
import time

import numpy as np
import pandas as pd


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    from aequilibrae.paths.public_transport import HyperpathGenerating

    data = np.load(path)
    edges = pd.DataFrame(
        {"tail": data["tail"], "head": data["head"], "trav_time": data["trav_time"],
         "freq": data["freq"]}
    )  # fmt: skip
    n_vertices = int(max(edges["tail"].max(), edges["head"].max())) + 1
    started = time.perf_counter()
    hp = HyperpathGenerating(
        edges, o_vert_ids=data["zones_o"], d_vert_ids=data["zones_d"],
        nodes_to_indices=np.arange(n_vertices, dtype=np.int64),
    )  # fmt: skip
    built = time.perf_counter()
    hp.assign(data["origin"], data["destination"], data["demand"], threads=threads)
    done = time.perf_counter()
    print(json.dumps({"build_s": built - started, "assign_s": done - built,
                      "volume": hp._edges["volume"].tolist()}))  # fmt: skip


if __name__ == "__main__":
    main()
