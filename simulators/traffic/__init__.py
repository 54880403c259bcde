"""Static traffic assignment engine (user equilibrium) for CityTwin.

Pure Python + numba; no Django. See ``docs/traffic.md``.
"""

from .assignment import ALGORITHMS, AssignmentResult, assign
from .network import Demand, Network, generalized_cost, link_travel_time

__all__ = [
    "ALGORITHMS",
    "AssignmentResult",
    "Demand",
    "Network",
    "assign",
    "generalized_cost",
    "link_travel_time",
]
