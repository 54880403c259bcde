"""Parameters of a one-day sun and shadow run (raster of the city, optional rooftop PV)."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import check_fields, param


@dataclass(frozen=True)
class SolarParams:
    """Settings of one solar run.

    ``date`` None means "around this year's March equinox" (the caller fills it in); ``bbox``
    None means the whole city's building extent.
    """

    date: str | None = param(
        None,
        label="Date",
        description="Day of the shadow masks and sun hours (YYYY-MM-DD); "
        "empty = March equinox of this year",
        kind="date",
        nullable=True,
    )
    step_min: float = param(
        30,
        label="Time step",
        description="Minutes between two shadow masks",
        unit="min",
        minimum=1,
        maximum=180,
    )
    cell_m: float | None = param(
        None,
        label="Cell size",
        description="Side of a raster cell; empty = the engine chooses the finest of "
        "1, 2, 5, 10, 20, 50 m that keeps the raster within 120 million cells "
        "(the run reports its choice)",
        unit="m",
        minimum=0.25,
        maximum=50.0,
        nullable=True,
    )
    pv: bool = param(
        False,
        label="Annual rooftop PV",
        description="Also compute each roof's yearly photovoltaic yield (slower)",
        kind="boolean",
    )
    bbox: list[float] | None = param(
        None,
        label="Area",
        description="Only this lon/lat box [min_lon, min_lat, max_lon, max_lat]; "
        "empty = the whole city",
        kind="bbox",
        nullable=True,
    )

    def __post_init__(self) -> None:
        check_fields(self)
