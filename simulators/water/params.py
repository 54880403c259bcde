"""Parameters of a water run (SI units; hours for periods)."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import check_fields, param


@dataclass
class WaterParams:
    """Pressure-driven run over a period.

    Defaults and their sources
    --------------------------
    required_pressure_m : 20 m. Pressure at which a tap delivers its full demand. Service
        standards ask 20-30 m at the connection (e.g. UK Ofwat's reference level of 10 m at the
        boundary plus building losses; Finnish utilities design for >= 20-25 m); 20 m is the
        low end of that range.
    minimum_pressure_m : 0 m. Pressure at and below which nothing flows (WNTR's default).
    pressure_exponent : 0.5 (Wagner et al. 1988, the orifice form used by WNTR and EPANET 2.2).
    duration_h : 24 h; 0 is one steady state. ``timestep_min``: hydraulic step, 60 min.
    demand_model : ``PDD`` (pressure-driven, for outages) or ``DDA`` (demand-driven, what an
        EPANET file runs by default: used to compare with EPANET itself).
    """

    duration_h: float = param(
        24.0, label="Period", unit="h", minimum=0.0, maximum=168.0, description="0: one snapshot"
    )
    timestep_min: float = param(
        60.0, label="Hydraulic time step", unit="min", minimum=1.0, maximum=1440.0
    )
    demand_model: str = param(
        "PDD",
        label="Demand model",
        choices={"PDD": "pressure-driven (outages)", "DDA": "demand-driven (EPANET default)"},
    )
    required_pressure_m: float = param(
        20.0, label="Pressure for full service", unit="m", minimum=0.1, maximum=100.0
    )
    minimum_pressure_m: float = param(
        0.0, label="Pressure below which no water flows", unit="m", minimum=0.0, maximum=50.0
    )
    pressure_exponent: float = param(
        0.5, label="Pressure exponent", unit="1", minimum=0.1, maximum=3.0
    )
    use_file_settings: bool = param(
        False,
        label="Keep the file's own period and pressure settings",
        kind="boolean",
        description="true: run the network exactly as imported (its duration, time step, "
        "demand model and pressures); the other parameters are then ignored",
    )

    def __post_init__(self):
        check_fields(self)
        if self.minimum_pressure_m >= self.required_pressure_m:
            from simulators.common.params import ParamError

            raise ParamError(
                "minimum_pressure_m",
                f"must be below the pressure for full service ({self.required_pressure_m:g} m)",
            )
