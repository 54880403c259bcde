"""Mode choice (multinomial logit: car, transit, walking) iterated with the car assignment.

Person trips between zones split by a logit on generalized times (:class:`ModeChoiceParams`);
the car trips (persons / occupancy) are assigned to the roads at user equilibrium
(:func:`simulators.traffic.assign`); the congested car times feed the next split. The car
demand assigned is the running average of the logit's car trips (method of successive
averages, MSA), which converges to the point where the shares the logit gives at the car
times equal the shares that produced those times.

Convergence is reported per round: ``share_gap`` (largest difference, over zone pairs with
trips, between the logit's car share at the current car times and the averaged car share
that was assigned) and the car assignment's ``relative_gap``.

Transit is uncongested (its skims do not depend on the car volumes); trips that enter,
leave or cross the area where its roads are cut (external zones) stay cars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulators.traffic import Demand, Network, assign
from simulators.traffic.paths import all_or_nothing

from .params import ModeChoiceParams

__all__ = ["MODES", "logit_shares", "utilities", "car_skim_min", "ModeChoiceResult",
           "mode_choice"]  # fmt: skip

MODES = ("car", "transit", "walk")


def logit_shares(v: np.ndarray) -> np.ndarray:
    """Multinomial logit probabilities over the first axis of utilities ``v`` (-inf: absent).

    Stable for large utilities (the maximum is subtracted); where every mode is absent the
    trips are left to the first mode (car), whose assignment reports them unassignable.
    """
    v = np.asarray(v, dtype=float)
    top = np.max(v, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(v - safe)
    total = e.sum(axis=0)
    shares = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    shares[0][total == 0] = 1.0  # no mode at all: counted as car (reported unassignable)
    return shares


def utilities(
    car_min: np.ndarray,
    transit_gc_min: np.ndarray,
    walk_min: np.ndarray,
    params: ModeChoiceParams,
) -> np.ndarray:
    """``(3, Z, Z)`` utilities of car, transit and walking (``-inf`` where unavailable).

    Parameters
    ----------
    car_min : car generalized minutes door to door (congested time + running cost / VoT,
        without the terminal time, added here).
    transit_gc_min : transit generalized minutes (optimal-strategy cost, fare added here).
    walk_min : walking minutes (``inf`` beyond the longest walk).
    """
    p = params
    b = p.beta_time_per_min
    fare_min = p.fare_eur / p.value_of_time_eur_h * 60.0
    with np.errstate(invalid="ignore"):
        v = np.stack(
            [
                b * (car_min + p.car_terminal_time_min),
                p.asc_transit + b * (transit_gc_min + fare_min),
                p.asc_walk + b * p.walk_weight_mode * walk_min,
            ]
        )
    return np.where(np.isfinite(v), v, -np.inf)


def car_skim_min(
    network: Network, link_time: np.ndarray, zone_nodes: np.ndarray, params: ModeChoiceParams
) -> np.ndarray:
    """``(Z, Z)`` car generalized minutes between zone nodes at the given link times.

    Cost per link = time (network units, converted to minutes) + running cost of its length
    divided by the value of time.
    """
    minutes = link_time * network.time_unit_h * 60.0
    km = network.length * network.length_unit_km
    cost = minutes + km * params.car_cost_eur_km / params.value_of_time_eur_h * 60.0
    z = len(zone_nodes)
    origins = np.asarray(zone_nodes, dtype=np.int64)
    start = np.arange(0, z * z + 1, z, dtype=np.int64)
    dest = np.tile(origins, z)
    scratch = np.empty(network.n_links)
    od = all_or_nothing(
        network.out_start, network.out_links, network.tail, network.head, cost,
        network.first_thru_node, origins, start, dest, np.zeros(z * z), scratch,
    )  # fmt: skip
    out = od.reshape(z, z)
    np.fill_diagonal(out, 0.0)
    return out


@dataclass
class ModeChoiceResult:
    """Outcome of the mode choice / car assignment loop.

    Attributes
    ----------
    person_trips : ``(3, Z, Z)`` persons per mode (car, transit, walk), consistent with the
        car demand assigned.
    car : the last car :class:`~simulators.traffic.AssignmentResult`.
    car_demand : the car demand assigned (veh), internal plus fixed external trips.
    skims : ``car_min``, ``transit_min``, ``walk_min`` (Z x Z) at the end.
    history : per round ``share_gap``, ``max_share_change``, ``relative_gap``,
        ``car_share`` (of all person trips).
    converged : both measures below their targets.
    """

    person_trips: np.ndarray
    car: object
    car_demand: Demand
    skims: dict[str, np.ndarray]
    history: dict[str, list[float]] = field(default_factory=dict)
    converged: bool = False
    iterations: int = 0

    def shares(self) -> dict[str, float]:
        """Share of all person trips per mode."""
        totals = self.person_trips.sum(axis=(1, 2))
        whole = totals.sum()
        return {
            m: float(t / whole) if whole > 0 else 0.0 for m, t in zip(MODES, totals, strict=True)
        }


def _car_demand(car_persons, zone_nodes, occupancy, fixed: Demand | None) -> Demand:
    r, c = np.nonzero(car_persons > 0)
    origin, dest, flow = zone_nodes[r], zone_nodes[c], car_persons[r, c] / occupancy
    if fixed is not None and len(fixed.flow):
        origin = np.concatenate([origin, fixed.origin])
        dest = np.concatenate([dest, fixed.destination])
        flow = np.concatenate([flow, fixed.flow])
    return Demand(origin, dest, flow)


def mode_choice(
    network: Network,
    zone_nodes: np.ndarray,
    person_trips: np.ndarray,
    transit_gc_s: np.ndarray,
    walk_m: np.ndarray,
    params: ModeChoiceParams | None = None,
    walk_speed_m_s: float = 1.33,
    fixed_car: Demand | None = None,
    algorithm: str = "bfw",
    gap: float = 1e-4,
    assignment_max_iter: int = 500,
    progress: Callable[[float, str], None] | None = None,
) -> ModeChoiceResult:
    """Split person trips between car, transit and walking, consistent with car congestion.

    Parameters
    ----------
    network : the road network (traffic engine), zones among its nodes.
    zone_nodes : ``(Z,)`` network node of each zone.
    person_trips : ``(Z, Z)`` person trips of all modes in the period (e.g. persons/h).
    transit_gc_s : ``(Z, Z)`` transit generalized cost, s (``inf``: no transit).
    walk_m : ``(Z, Z)`` walking distance, m (``inf``: too far).
    params : :class:`ModeChoiceParams`.
    walk_speed_m_s : walking speed (the transit network's).
    fixed_car : car trips that do not choose (external zones), veh.
    algorithm, gap, assignment_max_iter : the car assignment's settings.
    progress : ``progress(fraction, stage)``.
    """
    p = params or ModeChoiceParams()
    zone_nodes = np.asarray(zone_nodes, dtype=np.int64)
    d = np.asarray(person_trips, dtype=float).copy()
    z = len(zone_nodes)
    for name, m in (("person_trips", d), ("transit_gc_s", transit_gc_s), ("walk_m", walk_m)):
        if np.shape(m) != (z, z):
            raise ValueError(f"{name} must be a {z} x {z} matrix, got shape {np.shape(m)}")
    np.fill_diagonal(d, 0.0)
    transit_min = np.asarray(transit_gc_s, dtype=float) / 60.0
    walk_m = np.asarray(walk_m, dtype=float)
    walk_min = np.where(walk_m <= p.max_walk_m, walk_m / walk_speed_m_s / 60.0, np.inf)
    has_trips = d > 0
    history: dict[str, list[float]] = {
        "share_gap": [], "max_share_change": [], "relative_gap": [], "car_share": [],
    }  # fmt: skip
    link_time = network.free_flow_time.copy()
    avg_car = None
    beta_k, last_gap = 1.0, np.inf
    previous = None
    result = None
    converged = False
    k = 0
    for k in range(1, int(p.max_iter) + 1):
        car_min = car_skim_min(network, link_time, zone_nodes, p)
        shares = logit_shares(utilities(car_min, transit_min, walk_min, p))
        car_share = shares[0]
        if avg_car is None:
            share_gap = 1.0
            avg_car = car_share.copy()
        else:
            share_gap = float(np.max(np.abs(car_share - avg_car)[has_trips], initial=0.0))
            if share_gap < p.share_tolerance and result is not None and result.converged:
                converged = True
                history["share_gap"].append(share_gap)
                history["max_share_change"].append(
                    float(np.max(np.abs(car_share - previous)[has_trips], initial=0.0))
                )
                history["relative_gap"].append(float(result.relative_gap))
                history["car_share"].append(float((avg_car * d).sum() / max(d.sum(), 1e-12)))
                break
            # step of the averaging: 1/k (MSA), or self-regulated (SRA): the step shrinks
            # fast only when the residual grew, so that early rounds are forgotten sooner
            if p.averaging == "msa":
                beta_k = k
            else:
                beta_k += 1.5 if share_gap > last_gap else 0.25
            last_gap = share_gap
            avg_car += (car_share - avg_car) / beta_k
        change = 1.0 if previous is None else float(
            np.max(np.abs(car_share - previous)[has_trips], initial=0.0)
        )  # fmt: skip
        previous = car_share
        demand = _car_demand(avg_car * d, zone_nodes, p.car_occupancy, fixed_car)
        result = assign(network, demand, algorithm=algorithm, gap=gap, max_iter=assignment_max_iter)
        link_time = result.travel_time
        history["share_gap"].append(share_gap)
        history["max_share_change"].append(change)
        history["relative_gap"].append(float(result.relative_gap))
        history["car_share"].append(float((avg_car * d).sum() / max(d.sum(), 1e-12)))
        if progress is not None:
            progress(min(0.99, k / p.max_iter), f"round {k}: car shares differ by {share_gap:.4f}")
    car_min = car_skim_min(network, link_time, zone_nodes, p)
    final = logit_shares(utilities(car_min, transit_min, walk_min, p))
    car_persons = avg_car * d
    rest = d - car_persons
    other = final[1] + final[2]
    transit_part = np.divide(final[1], other, out=np.zeros_like(other), where=other > 0)
    trips = np.stack([car_persons, rest * transit_part, rest * (1.0 - transit_part)])
    return ModeChoiceResult(
        person_trips=trips,
        car=result,
        car_demand=demand,
        skims={"car_min": car_min, "transit_min": transit_min, "walk_min": walk_min},
        history=history,
        converged=converged,
        iterations=k,
    )
