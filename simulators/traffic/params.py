"""Parameters of a peak-hour traffic run: assignment settings and the demand's peak hour factor.

The ranges are the engine's: a service publishes them with
:func:`simulators.common.params.json_schema` instead of keeping its own table.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import check_fields, param

#: solver names and their labels (see :func:`simulators.traffic.assign`)
ALGORITHM_LABELS = {
    "bfw": "Biconjugate Frank-Wolfe",
    "cfw": "Conjugate Frank-Wolfe",
    "fw": "Frank-Wolfe",
    "bush": "Bush-based (Algorithm B)",
}


#: where the OD matrix of a run comes from
DEMAND_LABELS = {
    "model": "Model (buildings and external zones)",
    "calibrated": "Calibrated to the counters",
}


@dataclass(frozen=True)
class TrafficParams:
    """Settings of one static user-equilibrium run on a city's roads.

    Defaults: relative gap 1e-4 and 500 iterations (enough for a city's peak hour in
    seconds to minutes; 1e-5 and tighter for research comparisons, see docs/traffic.md);
    peak hour factor 0.92, the HCM 2010 default for urban streets.
    """

    algorithm: str = param(
        "bush",
        label="Algorithm",
        description="Equilibrium solver; bush-based (the default) is the fastest to gap 1e-4 "
        "on city networks and reaches 1e-8 (docs/traffic.md)",
        choices=ALGORITHM_LABELS,
    )
    gap: float = param(
        1e-4,
        label="Relative gap",
        description="Target relative gap of the user equilibrium (smaller is closer)",
        minimum=1e-10,
        maximum=1.0,
    )
    max_iter: int = param(
        500,
        label="Maximum iterations",
        description="The solver stops here even if the gap is not reached",
        minimum=1,
        maximum=100_000,
        integer=True,
    )
    peak_hour_factor: float = param(
        0.92,
        label="Peak hour factor",
        description="Hourly demand divided by it gives the peak 15-minute flow rate",
        minimum=0.25,
        maximum=1.0,
    )

    external_traffic: bool = param(
        True,
        label="Traffic across the city's edge",
        description="Trips entering, leaving and crossing the area where its roads are cut "
        "(sized from road class and capacity)",
        kind="boolean",
    )
    time_of_day_h: float | None = param(
        None,
        label="Time of day",
        unit="h",
        minimum=0.0,
        maximum=24.0,
        nullable=True,
        description="Hour modelled (weekday profile of trips); empty = the design peak hour",
    )

    demand: str = param(
        "model",
        label="Demand",
        description="Trips from the buildings (and the city's edge), or the city's newest "
        "demand calibrated to its traffic counters",
        choices=DEMAND_LABELS,
    )

    def __post_init__(self) -> None:
        check_fields(self)
