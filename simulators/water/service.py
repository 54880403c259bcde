"""Service at the service points: pressures over time -> served, partly served, not served.

A junction's water over a step (pressure-driven demand, Wagner et al. 1988): full demand at or
above the required pressure, none at or below the minimum pressure, part of it in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SERVED, PARTLY, NOT_SERVED = "served", "partly_served", "not_served"
STATUS_LABELS = {
    SERVED: "served: full pressure all the time",
    PARTLY: "partly served: low pressure for a while, never without water",
    NOT_SERVED: "not served: without water for a while",
}


@dataclass
class Service:
    """Per service node (columns of the pressure table).

    hours_below_required_h : hours with pressure under the required pressure (reduced or no
        water); hours_without_water_h : hours at or under the minimum pressure, or cut off from
        every source; min_pressure_m; status : SERVED / PARTLY / NOT_SERVED.
    """

    nodes: list[str]
    hours_below_required_h: np.ndarray
    hours_without_water_h: np.ndarray
    min_pressure_m: np.ndarray
    status: np.ndarray
    without: np.ndarray  # (steps, nodes) no water at that step
    below: np.ndarray  # (steps, nodes) under the required pressure (or no water)


def classify(
    pressure_m: np.ndarray,
    cut_off: np.ndarray,
    step_h: float | np.ndarray,
    required_m: float,
    minimum_m: float,
    nodes: list[str],
) -> Service:
    """Service of each node from its pressures.

    Parameters
    ----------
    pressure_m : (steps, nodes) pressures in m.
    cut_off : (steps, nodes) booleans, True where the node has no path to a source.
    step_h : hours each step stands for, one number or one per step (a single snapshot counts
        as 1 h; the report at the end of the period stands for no time).
    required_m, minimum_m : pressures of full and of no delivery (m).
    """
    pressure = np.asarray(pressure_m, dtype=float)
    without = cut_off | (pressure <= minimum_m) | ~np.isfinite(pressure)
    below = without | (pressure < required_m)
    weight = np.broadcast_to(np.asarray(step_h, dtype=float), (pressure.shape[0],))[:, None]
    status = np.where(without.any(axis=0), NOT_SERVED, np.where(below.any(axis=0), PARTLY, SERVED))
    return Service(
        nodes=list(nodes),
        hours_below_required_h=(below * weight).sum(axis=0),
        hours_without_water_h=(without * weight).sum(axis=0),
        min_pressure_m=np.where(np.isfinite(pressure), pressure, np.nan).min(axis=0),
        status=status,
        without=without,
        below=below,
    )


def people_by_status(status: np.ndarray, people: np.ndarray) -> dict[str, float]:
    """People (residents + workers) of the buildings in each status."""
    return {s: float(people[status == s].sum()) for s in (SERVED, PARTLY, NOT_SERVED)}
