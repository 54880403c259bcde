"""Solve a p-median instance with PySAL spopt (runs in bench/.venv-siting, not the project venv).

Usage: ``bench/.venv-siting/bin/python bench/siting_spopt_runner.py INSTANCE.npz`` where the
file holds ``weights`` (people), ``cost_s`` (n_demand x n_sites, s), ``p`` and optionally
``capacities`` (people); an optional second argument is CBC's time limit (s). Prints one JSON line: objective (person-seconds), sites, seconds,
spopt's version and the solver (CBC, through PuLP).
"""

import json
import sys
import time
from importlib.metadata import version

import numpy as np
import pulp
from spopt.locate import PMedian


def main(path: str, time_limit_s: float | None = None) -> None:
    data = np.load(path)
    capacities = data["capacities"] if "capacities" in data.files else None
    started = time.perf_counter()
    model = PMedian.from_cost_matrix(
        data["cost_s"],
        data["weights"],
        p_facilities=int(data["p"]),
        facility_capacities=capacities,
        name="siting",
    )
    try:
        model = model.solve(
            pulp.PULP_CBC_CMD(msg=False, gapRel=0.0, timeLimit=time_limit_s), results=False
        )
    except RuntimeError:  # spopt raises when CBC stops without a proven optimum
        pass
    seconds = time.perf_counter() - started
    sites = [j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    print(
        json.dumps(
            {
                # only an integer solution counts (CBC stopped early leaves LP values behind)
                "objective_person_s": pulp.value(model.problem.objective)
                if model.problem.sol_status
                in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
                else None,
                "status": pulp.LpStatus[model.problem.status]
                + f" ({pulp.LpSolution[model.problem.sol_status]})",
                "sites": sites,
                "seconds": seconds,
                "spopt": version("spopt"),
                "solver": f"CBC through PuLP {version('pulp')}",
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else None)
