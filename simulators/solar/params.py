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


@dataclass(frozen=True)
class PvRoofParams:
    """Settings of a best-roofs-for-PV run (annual, clear sky, shading from the DSM)."""

    year: int = param(
        2026, label="Year", description="Calendar year of the sun positions (clear sky)",
        minimum=1950, maximum=2100, integer=True,
    )  # fmt: skip
    bbox: list[float] | None = param(
        None, label="Area", kind="bbox", nullable=True,
        description="Only the buildings in this lon/lat box; empty = the whole city",
    )  # fmt: skip
    cell_m: float = param(
        1.0, label="Cell size", unit="m", minimum=0.5, maximum=5.0,
        description="Side of a cell of the surface model the shading is computed on",
    )  # fmt: skip
    step_min: float = param(
        60, label="Time step", unit="min", minimum=10, maximum=120,
        description="Minutes between two sun positions over the year",
    )  # fmt: skip
    min_kwp: float = param(
        1.0, label="Smallest system ranked", unit="kWp", minimum=0.0, maximum=1000.0
    )
    top_n: int = param(
        20, label="Roofs in the recommendation", minimum=1, maximum=500, integer=True
    )

    def __post_init__(self) -> None:
        check_fields(self)
