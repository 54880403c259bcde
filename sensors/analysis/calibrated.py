"""Stored calibrated demands: written by a calibration run, read by later traffic runs."""

from __future__ import annotations

import numpy as np

from simulators.traffic.network import Demand

from .models import CalibratedDemand


def latest(city) -> CalibratedDemand | None:
    """The city's newest calibrated demand, or None."""
    return CalibratedDemand.objects.filter(city=city).order_by("-created_at", "-id").first()


def as_engine_demand(stored: CalibratedDemand, network) -> tuple[Demand, float]:
    """The stored matrix on ``network`` (node ids -> indices); returns (demand, dropped veh/h).

    Pairs whose nodes are not in the network (roads re-imported since) are dropped and their
    flow returned, so the run can say so.
    """
    index = {int(n): i for i, n in enumerate(network.node_ids)}
    origin = np.array([index.get(int(n), -1) for n in stored.origin_nodes], dtype=np.int64)
    destination = np.array([index.get(int(n), -1) for n in stored.destination_nodes],
                           dtype=np.int64)  # fmt: skip
    flow = np.asarray(stored.flow_veh_h, dtype=float)
    keep = (origin >= 0) & (destination >= 0)
    demand = Demand(origin[keep], destination[keep], flow[keep],
                    info={"calibrated_demand": stored.pk, "hour_local": stored.hour_local})  # fmt: skip
    return demand, float(flow[~keep].sum())
