"""OD matrix estimation against link counts with a known truth: the figures of docs/sensors.md.

Sioux Falls (TNTP trip table = the truth; its user equilibrium = the counts). The prior is the
truth 15 % short with log-normal cell noise (sd 0.3), seeds 0..4. Counts on every link, then
on a third of the links. Prints, per case, the share of counted links with GEH < 5 and the
RMSE before and after, the distance of the matrix to the truth (RMSE over cells, veh/h) and the
total trips, as means over the seeds.

    .venv/bin/python bench/calibration_odme.py [--seeds 5] [--shares 1 0.3333]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from simulators.calibration import OdmeParams, estimate_demand
from simulators.calibration.shares import equilibrium_shares
from simulators.traffic.network import Demand
from simulators.traffic.tntp import read_net, read_trips

TNTP = Path(os.environ.get("CITYTWIN_DATA", "/work/shared/data")) / "tntp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="prior perturbations per case")
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 1 / 3],
                        help="shares of the links counted")  # fmt: skip
    args = parser.parse_args()
    net = read_net(TNTP / "SiouxFalls_net.tntp")
    truth = read_trips(TNTP / "SiouxFalls_trips.tntp")
    volume, _, _ = equilibrium_shares(net, truth, gap=1e-8)
    print(f"Sioux Falls: {net.n_links} links, {len(truth.flow)} OD pairs, "
          f"{truth.total:.0f} trips (truth)")  # fmt: skip
    header = ("counted", "GEH<5 before", "GEH<5 after", "RMSE before", "RMSE after",
              "cell RMSE prior", "cell RMSE est.", "trips prior", "trips est.", "s")  # fmt: skip
    print(" | ".join(header))
    for share in args.shares:
        rows = []
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            prior = Demand(truth.origin, truth.destination,
                           truth.flow * 0.85 * np.exp(rng.normal(0, 0.3, len(truth.flow))))  # fmt: skip
            links = np.sort(rng.choice(net.n_links, round(share * net.n_links), replace=False))
            started = time.perf_counter()
            res = estimate_demand(net, prior, links, volume[links], OdmeParams(gap=1e-6))
            rows.append([
                res.before.share_geh_below_5, res.after.share_geh_below_5,
                res.before.rmse_veh_h, res.after.rmse_veh_h,
                np.sqrt(np.mean((prior.flow - truth.flow) ** 2)),
                np.sqrt(np.mean((res.demand.flow - truth.flow) ** 2)),
                prior.total, res.demand.total, time.perf_counter() - started,
            ])  # fmt: skip
        m = np.mean(rows, axis=0)
        print(f"{len(links)} of {net.n_links} ({args.seeds} seeds) | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.0f} | "
              f"{m[3]:.1f} | {m[4]:.0f} | {m[5]:.0f} | {m[6]:.0f} | {m[7]:.0f} | {m[8]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
