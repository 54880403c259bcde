"""Mesoscopic dynamic network loading (spatial queue) on road graphs.

Reusable by the evacuation engine and by time-dependent traffic assignment.
"""

from simulators.dynamics.loading import (
    ARRIVED,
    NO_ROUTE,
    STATUS_NAMES,
    CapacityEvent,
    Demand,
    Destinations,
    LoadingParams,
    LoadingResult,
    simulate,
)
from simulators.dynamics.network import LinkNetwork, from_arrays, from_graph
from simulators.dynamics.routing import tree_to_targets, trees

__all__ = [
    "ARRIVED",
    "NO_ROUTE",
    "STATUS_NAMES",
    "CapacityEvent",
    "Demand",
    "Destinations",
    "LinkNetwork",
    "LoadingParams",
    "LoadingResult",
    "from_arrays",
    "from_graph",
    "simulate",
    "tree_to_targets",
    "trees",
]
