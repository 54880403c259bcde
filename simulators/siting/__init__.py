"""Facility siting: a capacitated p-median on travel times, solved with HiGHS.

Where should ``p`` shelters open so that the people of a hazard zone reach one with the least
total travel time, no shelter taking more people than it holds? :func:`solve_p_median` solves
the mixed-integer programme (HiGHS branch and bound) on a reduced set of pairs priced against a
Lagrangian bound so that its optimum is the full model's, from a greedy + vertex-substitution
incumbent, and states the proven gap (:mod:`~simulators.siting.reduced`);
:func:`travel_times_s` builds the travel-time matrix on the road network with the traffic engine's compiled shortest-path trees;
:func:`p_median_reference` enumerates every set of ``p`` sites (small instances, for tests).
"""

from simulators.siting.model import SitingInfeasible, SitingResult, solve_p_median
from simulators.siting.params import ShelterSitingParams, SitingParams, check_instance
from simulators.siting.reference import p_median_reference
from simulators.siting.travel import network_for, snap_to_nodes, travel_times_s

__all__ = [
    "SitingInfeasible",
    "ShelterSitingParams",
    "SitingParams",
    "SitingResult",
    "check_instance",
    "network_for",
    "p_median_reference",
    "snap_to_nodes",
    "solve_p_median",
    "travel_times_s",
]
