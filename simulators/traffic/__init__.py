"""Static traffic assignment engine (user equilibrium) for CityTwin.

Pure Python + numba; no Django. See ``docs/traffic.md``.
"""

import os

import numba

# numba's own workqueue threads sleep when idle; OpenMP's spin. On a busy machine the
# spinning made Sioux Falls to gap 1e-8 on two threads 50x slower (41 s vs 0.8 s), and the
# batched bush sweep starts a parallel region per pair of origins. An explicit
# NUMBA_THREADING_LAYER wins; the layer is chosen at the first parallel call in a process.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

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
