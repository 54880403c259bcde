"""Evacuation engine: hazard zones, evacuees, dynamic loading and a quickest-flow bound."""

from simulators.evacuation.engine import (
    EvacuationResult,
    apply_contraflow,
    lower_bound,
    run_evacuation,
    walking_network,
)
from simulators.evacuation.lower_bound import (
    LowerBound,
    max_flow_over_time,
    network_lower_bound,
    quickest_flow_steps,
)
from simulators.evacuation.params import EvacuationParams, Hazard, RoadClosure

__all__ = [
    "EvacuationParams",
    "EvacuationResult",
    "Hazard",
    "LowerBound",
    "RoadClosure",
    "apply_contraflow",
    "lower_bound",
    "max_flow_over_time",
    "network_lower_bound",
    "quickest_flow_steps",
    "run_evacuation",
    "walking_network",
]
