"""Transit assignment side by side with AequilibraE, and the mode-choice loop on a demo city.

Part 1 (``assignment``): synthetic cities of several sizes (simulators/synthetic) with a grid
of synthetic two-way bus lines (simulators/transit/synthetic.py); the strategy network and
the person trips from the buildings are assigned by our optimal-strategy kernel and by
AequilibraE's ``HyperpathGenerating`` (1.7.2, bench/.venv-transit, a subprocess) on the same
links, same thread count, one run. Prints seconds, their ratio and the largest difference of
link volumes. AequilibraE waits ``1/f``: its frequencies are ours divided by
``wait_weight x wait_factor``; its zones get separate origin and destination vertices so that
no strategy passes through a zone (our rule).

Part 2 (``loop``): the full mode-choice loop (transit skims, logit, car equilibrium, MSA or
self-regulated averaging) on the Helsinki demo extract in the worktree's database (imported
when missing) with a synthetic grid of lines over it, and with the city's imported lines when it
has some (``manage.py import_osm_transit Helsinki``: its OSM trams and buses); prints rounds,
convergence, shares and seconds.

    .venv/bin/python bench/transit_assignment.py [assignment|loop|all] [--threads 1]
    (AequilibraE's interpreter: env AEQUILIBRAE_PYTHON, default bench/.venv-transit/bin/python)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (2_000, 8_000, 20_000)


def _peer_python() -> str:
    return os.environ.get(
        "AEQUILIBRAE_PYTHON", str(ROOT / "bench" / ".venv-transit" / "bin" / "python")
    )


def _city(n_links: int):
    """Road network, node positions, zones and person trips of a synthetic city."""
    from simulators.synthetic import generate_city
    from simulators.traffic.demand import DemandParameters, demand_from_buildings
    from simulators.traffic.osm import network_from_graph

    city = generate_city(n_road_links=n_links, seed=1)
    G = city.to_networkx()
    network, _ = network_from_graph(G)
    persons = demand_from_buildings(
        G, city.buildings, DemandParameters(car_mode_share=1.0, car_occupancy=1.0), network
    )
    zones = np.asarray(persons.info["zone_nodes"], dtype=np.int64)
    index = {int(n): k for k, n in enumerate(zones)}
    trips = np.zeros((len(zones), len(zones)))
    for o, d, f in zip(persons.origin, persons.destination, persons.flow, strict=True):
        trips[index[int(o)], index[int(d)]] += f
    node_xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in network.node_ids])
    return network, node_xy, zones, trips


def _graph(network, node_xy, zones):
    from simulators.transit.graph import build_graph
    from simulators.transit.synthetic import grid_supply
    from simulators.transit.walk import street_access, walk_graph

    supply = grid_supply(node_xy)
    length_m = network.length * network.length_unit_km * 1000.0
    streets = walk_graph(network.tail, network.head, length_m, network.n_nodes)
    access = street_access(streets, node_xy, zones, [[s.x_m, s.y_m] for s in supply.stops], 1000.0)
    return build_graph(supply, node_xy[zones], access=access)


def _peer(graph, trips, threads: int) -> dict:
    """AequilibraE on the same strategy network (zones split into origin / destination)."""
    z, n = graph.n_zones, graph.n_nodes
    p = graph.params
    alpha = p.wait_weight * p.wait_factor
    tail, head = graph.tail.copy(), graph.head.copy()
    # egress links end at a zone's destination twin (vertex n + zone)
    into_zone = head < z
    head[into_zone] = n + head[into_zone]
    o, d = np.nonzero(trips)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "network.npz"
        np.savez(
            path, tail=tail, head=head, trav_time=graph.cost_s,
            freq=np.where(np.isfinite(graph.freq_per_s), graph.freq_per_s / alpha, np.inf),
            zones_o=np.arange(z), zones_d=n + np.arange(z), origin=o, destination=n + d,
            demand=trips[o, d],
        )  # fmt: skip
        out = subprocess.run(
            [_peer_python(), str(ROOT / "bench" / "transit_strategies_aequilibrae.py"), str(path),
             str(threads)], capture_output=True, text=True, check=True,
        )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def assignment(threads: int) -> None:
    import numba

    from simulators.transit.assignment import assign_transit

    numba.set_num_threads(threads)
    print(f"threads: {threads} (ours: numba; AequilibraE: its own)")
    print("| road links | zones | stops | lines | strategy links | trips/h | ours s | "
          "AequilibraE s | AequilibraE / ours | largest volume difference |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    warm = True
    for n_links in SIZES:
        network, node_xy, zones, trips = _city(n_links)
        graph = _graph(network, node_xy, zones)
        if warm:  # compile once outside the timing
            assign_transit(graph, trips)
            warm = False
        started = time.perf_counter()
        ours = assign_transit(graph, trips)
        ours_s = time.perf_counter() - started
        peer = _peer(graph, trips, threads)
        volume = np.asarray(peer["volume"])
        diff = float(np.max(np.abs(volume - ours.volume)) / max(ours.volume.max(), 1e-12))
        print(
            f"| {network.n_links:,} | {graph.n_zones} | {graph.n_stops} | "
            f"{len(graph.supply.lines)} | {graph.n_links:,} | {trips.sum():,.0f} | "
            f"{ours_s:.2f} | {peer['assign_s']:.2f} | {peer['assign_s'] / ours_s:.2f} | "
            f"{diff:.1e} |",
            flush=True,
        )


def loop() -> None:
    """Mode choice with the car equilibrium on the Helsinki demo extract, synthetic lines."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "citytwin.settings")
    os.environ.setdefault("CITYTWIN_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from citytwin.scenarios.capabilities.transit import model_inputs
    from citytwin.scenarios.inputs import transit_line_ids
    from layers.importers.osm import demo_pbf, import_osm
    from layers.models import City
    from simulators.transit.model import run_model
    from simulators.transit.params import TransitRunParams
    from simulators.transit.synthetic import grid_supply

    city = City.objects.filter(name="Helsinki").first()
    if city is None:
        import_osm(demo_pbf("helsinki"), "Helsinki")
        city = City.objects.get(name="Helsinki")
    print("| lines | averaging | zones | lines (directions) | rounds | share gap | relative gap "
          "| car | transit | walk | seconds |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = [("synthetic grid", "sra"), ("synthetic grid", "msa")]
    if transit_line_ids(city):
        runs.insert(1, ("OSM lines", "sra"))
    for source, averaging in runs:
        params = TransitRunParams(averaging=averaging, max_iter=40, share_tolerance=0.002)
        m = model_inputs(city, [], params, lambda f, s: None)
        supply = (
            grid_supply(m.node_xy[m.zone_nodes], line_spacing_m=800, stop_spacing_m=400)
            if source == "synthetic grid"
            else m.supply
        )
        started = time.perf_counter()
        result = run_model(
            m.network, m.node_xy, m.zone_nodes, m.trips, supply, params.transit(),
            params.mode_choice(), walkable=m.walkable, fixed_car=m.external, gap=params.gap,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        h = result.modes.history
        s = result.modes.shares()
        print(
            f"| {source} | {averaging} | {len(m.zone_nodes)} | {len(supply.lines)} | "
            f"{result.modes.iterations} | {h['share_gap'][-1]:.4f} | "
            f"{h['relative_gap'][-1]:.1e} | {s['car']:.3f} | {s['transit']:.3f} | "
            f"{s['walk']:.3f} | {seconds:.1f} |",
            flush=True,
        )
        print(f"  {source}, {averaging}: share gap by round: "
              + ", ".join(f"{g:.4f}" for g in h["share_gap"]))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=("assignment", "loop", "all"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.part in ("assignment", "all"):
        assignment(args.threads)
    if args.part in ("loop", "all"):
        loop()


if __name__ == "__main__":
    main()
