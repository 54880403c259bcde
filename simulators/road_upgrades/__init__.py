"""Road upgrades: which closures hurt most and which roads to strengthen first.

Pure functions on a base user equilibrium kept with its bushes
(``assign(..., algorithm="bush", keep_bushes=True)``): each closure or capacity increase is
re-assigned from it (:func:`simulators.traffic.warm.reassign`) and compared with the base in
vehicle-hours. :func:`evaluate_closures` ranks closures by the vehicle-hours they add;
:func:`evaluate_upgrades` finds, per congested link, the capacity increase that saves most
vehicle-hours per lane-km added, and ranks the links by it.
"""

from simulators.road_upgrades.evaluate import (
    ClosureResult,
    UpgradeOption,
    UpgradeResult,
    busiest_segments,
    congested_links,
    evaluate_closures,
    evaluate_upgrades,
    options_from,
    reassigned,
    vehicle_hours,
)
from simulators.road_upgrades.params import MAX_CAPACITY_VEH_H, MAX_LANES, RoadUpgradeParams

__all__ = [
    "MAX_CAPACITY_VEH_H",
    "MAX_LANES",
    "ClosureResult",
    "RoadUpgradeParams",
    "UpgradeOption",
    "UpgradeResult",
    "busiest_segments",
    "congested_links",
    "evaluate_closures",
    "evaluate_upgrades",
    "options_from",
    "reassigned",
    "vehicle_hours",
]
