"""Parameters of a calibration run of the twin's traffic demand to its counters."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import check_fields, param

from .odme import WEIGHTINGS, OdmeParams


@dataclass(frozen=True)
class CalibrationParams:
    """Which counts (hour, days) and how far the estimation may move the demand."""

    time_of_day_h: float | None = param(
        None, label="Hour counted", unit="h", minimum=0.0, maximum=23.0, nullable=True,
        description="Local hour whose counts are matched (weekdays); empty = the traffic "
        "model's design peak hour",
    )  # fmt: skip
    history_days: int = param(
        28, label="Days of counts", unit="d", minimum=1, maximum=366, integer=True,
        description="Weekdays of this many past days are averaged per counter",
    )  # fmt: skip
    external_traffic: bool = param(
        True, label="Traffic across the city's edge", kind="boolean",
        description="Include the gateway trips (adjusted like the others)",
    )  # fmt: skip
    outer_iterations: int = param(
        15, label="Assignments", minimum=1, maximum=200, integer=True,
        description="Equilibrium assignments of the estimation",
    )  # fmt: skip
    max_factor: float = param(
        5.0, label="Largest change of a cell", minimum=1.0, maximum=100.0,
        description="A cell ends between prior / factor and prior x factor",
    )  # fmt: skip
    weighting: str = param("relative", label="Weights of the counts", choices=WEIGHTINGS)
    gap: float = param(
        1e-6, label="Relative gap", minimum=1e-10, maximum=1e-2,
        description="Relative gap of each equilibrium",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)

    def odme(self) -> OdmeParams:
        """The estimator's settings."""
        return OdmeParams(
            outer_iterations=self.outer_iterations, max_factor=self.max_factor,
            weighting=self.weighting, gap=self.gap,
        )  # fmt: skip
