"""Scenario inputs of an evacuation run (plain data, SI units, seconds from hazard onset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shapely.geometry.base import BaseGeometry

from simulators.common.params import check_fields, param


@dataclass
class Hazard:
    """A hazard zone: people inside leave; the safe area is outside every zone.

    Attributes
    ----------
    geometry : polygon in the graph's projected CRS (metres).
    start_s : when the order to leave is given (s); staged evacuation = later starts.
    name : label used in per-zone outputs.
    """

    geometry: BaseGeometry
    start_s: float = 0.0
    name: str | None = None


@dataclass
class RoadClosure:
    """Road ``(u, v)`` (every parallel link, one direction) closed from ``start_s`` to ``end_s``."""

    u: object
    v: object
    start_s: float = 0.0
    end_s: float = float("inf")


@dataclass
class EvacuationParams:
    """Behaviour and model settings.

    Defaults and their sources
    --------------------------
    persons_per_household : 2.0 (Finnish household size is about 2; Statistics Finland).
    vehicles_per_household : 1.0 vehicle taken per evacuating car household (a round figure;
        surveys of hurricane evacuations report a little over one, Murray-Tuite & Wolshon
        2013 review; Nordic city centres own fewer cars, lower it there).
    walk_share : 0.0 share of evacuees who walk (on the walking graph).
    mobilisation : departure-time curve, ``"rayleigh"`` or ``"weibull"`` with scale
        ``mobilisation_scale_min`` (minutes) and ``weibull_shape``; Rayleigh = Weibull
        shape 2, the usual S-shaped loading curve of evacuation models (e.g. Tweedie et al.
        1986 on the Weibull/Rayleigh form).
    time_of_day_h : if set, residents, workers and visitors present follow
        :mod:`simulators.common.presence`; None: every resident at home, nobody else.
    shadow_share : share of residents within ``shadow_buffer_m`` outside the zones who
        leave too (shadow evacuation; they load the roads but are not evacuees).
    background_share : share of every link's capacity taken by other traffic.
    reroute_interval_s : period of re-routing on current travel times (None = never).
    stage_delays_s : extra delay per zone index (staged evacuation), added to ``start_s``.
    closures : timed road closures.
    contraflow : roads ``(u, v)`` whose opposite direction ``(v, u)`` is reversed: its lanes
        and capacity are added to ``(u, v)`` and it is closed.
    pedestrian_specific_flow : persons per metre width per second (1.3, the usual design
        value for corridors, e.g. Weidmann 1993 / RiMEA).
    walk_speed_mps : 1.34 m/s (Weidmann 1993 free walking speed).
    walk_width_m : effective width of a walkable link (m).
    walk_jam_density : persons per m² at standstill (5.4, Weidmann 1993).
    dt_s, horizon_s : time step and first simulated horizon (s); while evacuees with a route
        are still on the way the horizon doubles, up to ``max_horizon_s``.
    max_horizon_s : hard cap on the simulated time (s; 48 h): reached, it is reported
        (``EvacuationResult.horizon_capped``, ``t100_reason``).
    compute_lower_bound : compute the quickest-flow lower bound (temporally repeated flows,
        see :mod:`simulators.evacuation.lower_bound`); False skips it.
    edge_of_extract_m : nodes within this distance (m) of the network's convex hull count as
        the edge of the extract when evacuees with no route are explained.
    short_link_m : links shorter than this are point queues (see dynamics.network).
    shelter_mode : ``"nearest"`` shelter by free-flow time, or ``"assigned"`` from a
        population column ``shelter`` (shelter id).
    seed : random seed of the departure times.
    record_occupancy : keep the cars on every road link every ``sample_interval_s`` (a replay
        of the evacuation; see ``EvacuationResult.car_occupancy_veh``).
    """

    persons_per_household: float = 2.0
    vehicles_per_household: float = param(
        1.0, label="Vehicles per household", unit="1", minimum=0.0, maximum=10.0,
        description="Cars taken by each evacuating car household",
    )  # fmt: skip
    walk_share: float = param(
        0.0, label="Share walking", unit="1", minimum=0.0, maximum=1.0,
        description="Share of evacuees who walk instead of driving",
    )  # fmt: skip
    mobilisation: Literal["rayleigh", "weibull", "none"] = param(
        "rayleigh", label="Departure curve",
        choices={"rayleigh": "Rayleigh", "weibull": "Weibull", "none": "all at once"},
    )  # fmt: skip
    mobilisation_scale_min: float = param(
        15.0, label="Mobilisation scale", unit="min", minimum=0.0, maximum=24 * 60.0,
        description="Scale of the departure-time curve (most people leave within about 2x it)",
    )  # fmt: skip
    weibull_shape: float = param(
        2.0, label="Weibull shape", minimum=0.1, maximum=20.0,
        description="Shape of a Weibull departure curve (2 = Rayleigh)",
    )  # fmt: skip
    time_of_day_h: float | None = param(
        None, label="Time of day", unit="h", minimum=0.0, maximum=24.0, nullable=True,
        description="Who is at home or at work at this hour; empty = every resident at home",
    )  # fmt: skip
    shadow_share: float = param(
        0.0, label="Shadow evacuation share", unit="1", minimum=0.0, maximum=1.0,
        description="Share of residents near the zones who leave too (load the roads)",
    )  # fmt: skip
    shadow_buffer_m: float = 1000.0
    background_share: float = param(
        0.0, label="Background traffic share", unit="1", minimum=0.0, maximum=0.95,
        description="Share of every road's capacity taken by other traffic",
    )  # fmt: skip
    reroute_interval_s: float | None = param(
        300.0, label="Re-route every", unit="s", minimum=0.0, maximum=24 * 3600.0, nullable=True,
        description="Drivers re-route on current travel times this often; 0 or empty = never",
    )  # fmt: skip
    stage_delays_s: dict[int, float] = field(default_factory=dict)
    closures: list[RoadClosure] = field(default_factory=list)
    contraflow: list[tuple[object, object]] = field(default_factory=list)
    pedestrian_specific_flow: float = 1.3
    walk_speed_mps: float = 1.34
    walk_width_m: float = 2.0
    walk_jam_density: float = 5.4
    dt_s: float = param(
        5.0, label="Time step", unit="s", minimum=0.5, maximum=60.0,
        description="Step of the traffic simulation",
    )  # fmt: skip
    horizon_s: float = param(
        4 * 3600.0, label="Horizon", unit="s", minimum=60.0, maximum=48 * 3600.0,
        description="First simulated time after the order to leave (it doubles while evacuees "
        "with a route are on the way, up to the horizon cap)",
    )  # fmt: skip
    short_link_m: float = 25.0
    shelter_mode: Literal["nearest", "assigned"] = "nearest"
    compute_lower_bound: bool = param(
        True, label="Lower bound", kind="boolean",
        description="Compute the quickest-flow lower bound on the clearance time (fast; "
        "off skips it)",
    )  # fmt: skip
    seed: int = 0
    record_occupancy: bool = False
    sample_interval_s: float = 60.0
    max_horizon_s: float = param(
        48 * 3600.0, label="Horizon cap", unit="s", minimum=60.0, maximum=7 * 24 * 3600.0,
        description="Hard cap on the simulated time: the horizon doubles while evacuees with a "
        "route are on the way, up to this; reached, it is reported",
    )  # fmt: skip
    edge_of_extract_m: float = 150.0

    def __post_init__(self) -> None:
        # ranges live in the fields (simulators.common.params); ValueError names the field
        check_fields(self)
