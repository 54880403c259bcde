"""Parameters of a road-upgrades recommendation: how many closures and upgrades to evaluate.

The ranges are the engine's; the twin publishes them with
:func:`simulators.common.params.json_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import ParamError, check_fields, param

#: most lanes per direction a link may have after an upgrade (the twin's road edits' limit)
MAX_LANES = 8
#: most capacity a link may have after an upgrade, veh/h per direction (the road edits' limit)
MAX_CAPACITY_VEH_H = 20_000.0


@dataclass(frozen=True)
class RoadUpgradeParams:
    """What a road-upgrades run evaluates, on top of a finished base traffic run.

    Every evaluation is a re-assignment of the base's demand warm-started from the base
    equilibrium (:func:`simulators.traffic.warm.reassign`) to the same relative gap.
    """

    base_run: str | None = param(
        None,
        label="Base traffic run",
        kind="string",
        nullable=True,
        description="Id of a finished traffic run of this scenario; empty = the newest one "
        "run on the scenario's current edits",
    )
    closures: int = param(
        20,
        label="Closures to evaluate",
        description="When no finished closure sweep of the base exists: the N busiest road "
        "segments (both directions), each closed once",
        minimum=1,
        maximum=200,
        integer=True,
    )
    candidates: int = param(
        10,
        label="Roads to strengthen",
        description="The N links with the most delay (vehicle-hours lost to congestion in the "
        "base), each strengthened once per option",
        minimum=1,
        maximum=100,
        integer=True,
    )
    lanes_added: int = param(
        1,
        label="Lanes added",
        unit="lanes",
        description="Option 1: this many lanes more in the link's direction (capacity per lane "
        "kept); 0 = not evaluated",
        minimum=0,
        maximum=3,
        integer=True,
    )
    capacity_increase_pct: float = param(
        25.0,
        label="Capacity increase",
        unit="%",
        description="Option 2: the link's capacity raised by this share (signal timing, turn "
        "lanes); counted as that share of its lanes in lane-km; 0 = not evaluated",
        minimum=0.0,
        maximum=200.0,
    )
    gap: float | None = param(
        None,
        label="Relative gap",
        nullable=True,
        description="Target relative gap of each re-assignment; empty = the base run's",
        minimum=1e-10,
        maximum=1e-2,
    )
    top_n: int = param(
        3,
        label="Recommendations named",
        description="How many closures and upgrades the recommendation names in words",
        minimum=1,
        maximum=20,
        integer=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.lanes_added == 0 and self.capacity_increase_pct == 0:
            raise ParamError(
                "lanes_added", "give lanes_added or capacity_increase_pct above 0 (no option)"
            )
