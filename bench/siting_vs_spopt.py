"""Shelter siting (capacitated p-median, HiGHS) against PySAL spopt on the same instance.

The instance: demand points = residential buildings of a seeded synthetic city (people =
residents), candidate sites = other buildings (capacity = a share of the total demand),
travel times (s) on its roads by car at free-flow speed (:func:`simulators.siting.travel_times_s`).
Both solvers get the same matrix; spopt (``PMedian.from_cost_matrix`` with CBC) runs in
``bench/.venv-siting`` (``bash bench/setup_siting_venv.sh``) through a subprocess.

``--write`` stores the small instance and spopt's objectives as
``tests/simulators/data/siting_spopt_reference.json``, which ``tests/simulators/test_siting.py``
checks the engine against (so CI needs no spopt).

Run: ``.venv/bin/python bench/siting_vs_spopt.py [--demand 60 --sites 12 --p 3] [--write]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.siting import (  # noqa: E402
    SitingParams,
    network_for,
    snap_to_nodes,
    solve_p_median,
    travel_times_s,
)
from simulators.synthetic import generate_city  # noqa: E402

SPOPT_PYTHON = ROOT / "bench" / ".venv-siting" / "bin" / "python"
REFERENCE = ROOT / "tests" / "simulators" / "data" / "siting_spopt_reference.json"


def synthetic_instance(
    n_demand: int, n_sites: int, p: int, seed: int = 0, n_road_links: int = 2000, slack=1.1
) -> dict:
    """A siting instance on a synthetic city: weights (people), capacities (people), cost_s.

    Capacities: ``slack`` x total demand / p, times a uniform factor in [0.7, 1.2], so that
    capacity binds (some people do not go to their nearest open site).
    """
    rng = np.random.default_rng(seed)
    city = generate_city(n_road_links=n_road_links, seed=seed)
    b = city.buildings
    homes = np.flatnonzero(b["residents"].to_numpy() > 0)
    chosen = rng.choice(len(b), size=n_demand + n_sites, replace=False)
    demand = rng.choice(homes, size=n_demand, replace=n_demand > len(homes))
    others = np.setdiff1d(chosen, demand)[:n_sites]
    pts = b.geometry.representative_point()
    net = network_for(city.to_networkx(), "car")
    o = snap_to_nodes(net, pts.x.to_numpy()[demand], pts.y.to_numpy()[demand])
    d = snap_to_nodes(net, pts.x.to_numpy()[others], pts.y.to_numpy()[others], into=True)
    cost = travel_times_s(net, o, d)
    weights = np.ceil(b["residents"].to_numpy()[demand])
    capacities = np.round(slack * weights.sum() / p * rng.uniform(0.7, 1.2, n_sites))
    return {"weights": weights, "capacities": capacities, "cost_s": cost, "p": p}


def run_spopt(instance: dict, capacitated: bool, time_limit_s: float | None = None) -> dict:
    """spopt's result (JSON from bench/siting_spopt_runner.py in the bench venv); CBC stops at
    ``time_limit_s`` when given."""
    if not SPOPT_PYTHON.exists():
        raise SystemExit("spopt is missing: run `bash bench/setup_siting_venv.sh` first")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "instance.npz"
        arrays = {k: instance[k] for k in ("weights", "cost_s", "p")}
        if capacitated:
            arrays["capacities"] = instance["capacities"]
        np.savez(path, **arrays)
        out = subprocess.run(
            [str(SPOPT_PYTHON), str(ROOT / "bench" / "siting_spopt_runner.py"), str(path)]
            + ([str(time_limit_s)] if time_limit_s else []),
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(
    instance: dict, capacitated: bool, params: SitingParams | None = None, log=None
) -> dict:
    started = time.perf_counter()
    cpu = time.process_time()
    result = solve_p_median(
        instance["weights"], instance["cost_s"], instance["p"],
        instance["capacities"] if capacitated else None, params or SitingParams(mip_rel_gap=0.0),
        log=log,
    )  # fmt: skip
    return {
        "lower_bound_person_s": result.lower_bound_person_s,
        "gap_words": result.gap_words,
        "heuristic_person_s": result.heuristic_person_s,
        "stats": result.stats,
        "cpu_seconds": time.process_time() - cpu,
        "mip_gap": result.mip_gap,
        "objective_person_s": result.objective_person_s,
        "sites": result.sites.tolist(),
        "seconds": time.perf_counter() - started,
        "solve_seconds": result.solve_seconds,
        "optimal": result.optimal,
    }


def compare(instance: dict) -> dict:
    rows = {}
    for capacitated in (False, True):
        kind = "capacitated" if capacitated else "uncapacitated"
        ours, peer = run_ours(instance, capacitated), run_spopt(instance, capacitated)
        diff = abs(ours["objective_person_s"] - peer["objective_person_s"])
        rows[kind] = {"ours": ours, "spopt": peer, "abs_diff_person_s": diff}
        print(
            f"{kind:>14}: HiGHS {ours['objective_person_s']:.6f} person-s in "
            f"{ours['seconds']:.3f} s (sites {ours['sites']}); spopt {peer['spopt']} "
            f"({peer['solver']}) {peer['objective_person_s']:.6f} person-s in "
            f"{peer['seconds']:.3f} s (sites {peer['sites']}); |diff| {diff:.2e}; "
            f"time ratio spopt/ours {peer['seconds'] / ours['seconds']:.1f}"
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demand", type=int, default=60)
    parser.add_argument("--sites", type=int, default=12)
    parser.add_argument("--p", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"store {REFERENCE.name}")
    args = parser.parse_args(argv)
    instance = synthetic_instance(args.demand, args.sites, args.p, args.seed)
    print(
        f"instance: {args.demand} demand points ({instance['weights'].sum():.0f} people), "
        f"{args.sites} candidate sites ({instance['capacities'].sum():.0f} places), p={args.p}"
    )
    rows = compare(instance)
    if args.write:
        REFERENCE.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE.write_text(json.dumps({
            "about": "written by bench/siting_vs_spopt.py --write; spopt's objectives on this "
                     "instance (PMedian.from_cost_matrix, CBC)",
            "weights": instance["weights"].tolist(),
            "capacities": instance["capacities"].tolist(),
            "cost_s": instance["cost_s"].tolist(),
            "p": instance["p"],
            "spopt": {k: {"objective_person_s": v["spopt"]["objective_person_s"],
                          "sites": v["spopt"]["sites"], "version": v["spopt"]["spopt"]}
                      for k, v in rows.items()},
        }, indent=1))  # fmt: skip
        print(f"wrote {REFERENCE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
