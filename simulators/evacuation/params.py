"""Scenario inputs of an evacuation run (plain data, SI units, seconds from hazard onset)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shapely.geometry.base import BaseGeometry


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
    time_of_day_h : if set, residents and workers present follow :func:`presence_shares`.
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
    dt_s, horizon_s : time step and simulated time (s).
    short_link_m : links shorter than this are point queues (see dynamics.network).
    shelter_mode : ``"nearest"`` shelter by free-flow time, or ``"assigned"`` from a
        population column ``shelter`` (shelter id).
    seed : random seed of the departure times.
    record_occupancy : keep the cars on every road link every ``sample_interval_s`` (a replay
        of the evacuation; see ``EvacuationResult.car_occupancy_veh``).
    """

    persons_per_household: float = 2.0
    vehicles_per_household: float = 1.0
    walk_share: float = 0.0
    mobilisation: Literal["rayleigh", "weibull", "none"] = "rayleigh"
    mobilisation_scale_min: float = 15.0
    weibull_shape: float = 2.0
    time_of_day_h: float | None = None
    shadow_share: float = 0.0
    shadow_buffer_m: float = 1000.0
    background_share: float = 0.0
    reroute_interval_s: float | None = 300.0
    stage_delays_s: dict[int, float] = field(default_factory=dict)
    closures: list[RoadClosure] = field(default_factory=list)
    contraflow: list[tuple[object, object]] = field(default_factory=list)
    pedestrian_specific_flow: float = 1.3
    walk_speed_mps: float = 1.34
    walk_width_m: float = 2.0
    walk_jam_density: float = 5.4
    dt_s: float = 5.0
    horizon_s: float = 4 * 3600.0
    short_link_m: float = 25.0
    shelter_mode: Literal["nearest", "assigned"] = "nearest"
    compute_lower_bound: bool = True
    seed: int = 0
    record_occupancy: bool = False
    sample_interval_s: float = 60.0
