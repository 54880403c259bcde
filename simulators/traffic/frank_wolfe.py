"""Link-based user equilibrium: Frank-Wolfe, conjugate and biconjugate Frank-Wolfe.

Each iteration does one all-or-nothing load at the current generalized costs,
builds a search direction and takes an exact line-search step on the Beckmann
objective.

- ``fw``: classic Frank-Wolfe (LeBlanc et al. 1975), direction = AON - x.
- ``cfw``: conjugate FW, target ``s_k = a s_{k-1} + (1-a) y_k`` made conjugate
  to the previous direction with respect to the Hessian ``diag(t'(x))``.
- ``bfw``: biconjugate FW, ``s_k = b0 y_k + b1 s_{k-1} + b2 s_{k-2}``
  conjugate to the two previous directions.

Both follow Mitradjieva & Lindberg (2013), "The stiff is moving - conjugate
direction Frank-Wolfe methods with application to traffic assignment",
Transportation Science 47(2), with the same safeguards as AequilibraE
(clip the coefficients at zero, restart with a FW step after a full step).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .costs import beckmann_objective, exact_line_search, link_cost_derivatives, link_costs
from .paths import all_or_nothing, all_or_nothing_select

__all__ = ["LinkSolution", "solve_link_based", "LoadedDemand"]

#: largest conjugate weight on the previous target; 1 would freeze the direction
_CONJUGATE_MAX = 0.99999


@dataclass
class LoadedDemand:
    """Demand in CSR by origin, restricted to the OD pairs that have a path."""

    origins: np.ndarray
    start: np.ndarray
    destination: np.ndarray
    flow: np.ndarray


@dataclass
class LinkSolution:
    """Raw outcome of an equilibrium run (link volumes and convergence history)."""

    volume: np.ndarray
    cost: np.ndarray
    iterations: int
    relative_gap: float
    converged: bool
    stop_reason: str
    history: dict[str, list[float]] = field(default_factory=dict)
    #: selected link -> flow through it per loaded OD entry
    select_link_flows: dict[int, np.ndarray] = field(default_factory=dict)
    #: bush solver with ``keep_origin_flows``: flow per (loaded origin, link), veh/h
    origin_flow: np.ndarray | None = None
    #: bush solver with ``keep_bushes``: the :class:`~simulators.traffic.bush.BushState`
    bushes: object | None = None


def new_history() -> dict[str, list[float]]:
    """Empty per-iteration history (relative gap, Beckmann objective, TSTT, seconds)."""
    return {"relative_gap": [], "objective": [], "tstt": [], "seconds": [], "step": []}


def _progress_fraction(relative_gap: float, gap: float, iteration: int, max_iter: int) -> float:
    """Share of the work done: log-gap progress from 1 to the target, or the iteration share."""
    if relative_gap <= gap:
        return 1.0
    by_gap = np.log10(min(relative_gap, 1.0)) / np.log10(gap) if 0 < gap < 1 else 0.0
    return float(min(max(by_gap, iteration / max(max_iter, 1), 0.0), 1.0))


@njit(cache=True)
def _conjugate_weight(deriv, volume, aon, target):
    """CFW weight ``a`` on the previous target (Mitradjieva & Lindberg eq. for CFW)."""
    numerator = 0.0
    denominator = 0.0
    for a in range(volume.shape[0]):
        h = deriv[a] * (target[a] - volume[a])
        numerator += h * (aon[a] - volume[a])
        denominator += h * (aon[a] - target[a])
    if denominator == 0.0:
        return 0.0
    return min(max(numerator / denominator, 0.0), _CONJUGATE_MAX)


@njit(cache=True)
def _biconjugate_weights(deriv, volume, aon, target, previous_target, step):
    """BFW weights (b0, b1, b2) on the AON, previous and second-previous targets.

    One pass over the links (the NumPy form made eight temporaries of every link array).
    """
    xw = 0.0  # (D x_) . w_
    xy = 0.0  # (D x_) . y_
    zz = 0.0  # (D z_) . z_
    zy = 0.0  # (D z_) . y_
    for a in range(volume.shape[0]):
        d = deriv[a]
        x_ = step * target[a] + (1.0 - step) * previous_target[a] - volume[a]
        y_ = aon[a] - volume[a]
        z_ = target[a] - volume[a]
        w_ = previous_target[a] - target[a]
        xw += d * x_ * w_
        xy += d * x_ * y_
        zz += d * z_ * z_
        zy += d * z_ * y_
    mu = 0.0 if xw == 0.0 else max(0.0, -xy / xw)
    nu = 0.0 if zz == 0.0 else max(0.0, -zy / zz + mu * step / (1.0 - step))
    b0 = 1.0 / (1.0 + mu + nu)
    return b0, nu * b0, mu * b0


def solve_link_based(
    network,
    loaded: LoadedDemand,
    algorithm: str = "bfw",
    gap: float = 1e-5,
    max_iter: int = 1000,
    time_limit_s: float | None = None,
    progress: Callable[[float, str], None] | None = None,
    select_links: list[int] | tuple[int, ...] = (),
    initial_volume: np.ndarray | None = None,
) -> LinkSolution:
    """Run FW / CFW / BFW until the relative gap, iteration or time limit is hit.

    ``initial_volume`` (a feasible link flow of this demand, e.g. a previous equilibrium)
    replaces the all-or-nothing load at free flow as the starting point.

    The relative gap is AequilibraE's: ``(sum x.c - sum d.SP) / sum x.c`` on
    generalized cost, evaluated at the flows of the start of each iteration.

    Select-link flows (OD flow through each selected link) are carried through
    the iterations with the same convex combinations as the link volumes, as
    AequilibraE does, so they add up to the link volume.
    """
    if algorithm not in ("fw", "cfw", "bfw"):
        raise ValueError(f"unknown link-based algorithm {algorithm!r}")
    net = network
    t0, alpha, beta, cap = net.free_flow_time, net.alpha, net.beta, net.capacity
    fixed = net.fixed_cost
    n = net.n_links
    started = time.perf_counter()
    volume = np.zeros(n)
    cost = np.empty(n)
    aon = np.empty(n)
    deriv = np.empty(n)
    target = np.zeros(n)
    previous_target = np.zeros(n)
    history = new_history()
    if len(select_links) > 63:
        raise ValueError("at most 63 links can be selected at once")
    link_bit = np.zeros(n, dtype=np.int64)
    for s, link in enumerate(select_links):
        link_bit[link] |= 1 << s
    od_bits = np.zeros(len(loaded.flow), dtype=np.int64)
    n_sel = len(select_links)
    shape = (n_sel, len(loaded.flow))
    sl_volume, sl_aon, sl_target, sl_previous = (np.zeros(shape) for _ in range(4))

    def load(costs, out, sl_out):
        if n_sel == 0:
            return all_or_nothing(
                net.out_start, net.out_links, net.tail, net.head, costs, net.first_thru_node,
                loaded.origins, loaded.start, loaded.destination, loaded.flow, out,
            )  # fmt: skip
        od_cost = all_or_nothing_select(
            net.out_start, net.out_links, net.tail, net.head, costs, net.first_thru_node,
            loaded.origins, loaded.start, loaded.destination, loaded.flow, out, link_bit, od_bits,
        )  # fmt: skip
        for s in range(n_sel):
            sl_out[s] = loaded.flow * ((od_bits >> s) & 1)
        return od_cost

    if initial_volume is None:
        link_costs(t0, alpha, beta, cap, fixed, volume, cost)
        load(cost, volume, sl_volume)  # iteration 0: AON at free flow
    else:
        volume[:] = initial_volume  # warm start: checked feasible by assign()
    step = 1.0
    direction = "fw"  # kind of the next direction; BFW needs FW then CFW before BFW
    relative_gap = np.inf
    stop_reason = "max_iter"
    iteration = 0
    while iteration < max_iter:
        iteration += 1
        link_costs(t0, alpha, beta, cap, fixed, volume, cost)
        od_cost = load(cost, aon, sl_aon)
        total_cost = float(np.dot(volume, cost))
        sp_cost = float(np.dot(loaded.flow, od_cost))
        relative_gap = (total_cost - sp_cost) / total_cost if total_cost > 0 else 0.0
        history["relative_gap"].append(relative_gap)
        history["objective"].append(beckmann_objective(t0, alpha, beta, cap, fixed, volume))
        history["tstt"].append(total_cost - float(np.dot(volume, fixed)))
        elapsed = time.perf_counter() - started
        history["seconds"].append(elapsed)
        if progress is not None:
            progress(_progress_fraction(relative_gap, gap, iteration, max_iter), "equilibrium")
        if relative_gap <= gap:
            stop_reason = "gap"
            break
        if time_limit_s is not None and elapsed >= time_limit_s:
            stop_reason = "time_limit"
            break
        if algorithm == "fw" or direction == "fw" or iteration < 2:
            target[:] = aon
            sl_target[:] = sl_aon
            direction = "cfw" if algorithm != "fw" else "fw"
        elif algorithm == "cfw" or direction == "cfw":
            link_cost_derivatives(t0, alpha, beta, cap, volume, deriv)
            weight = _conjugate_weight(deriv, volume, aon, target)
            previous_target[:] = target
            target *= weight
            target += (1.0 - weight) * aon
            sl_previous[:] = sl_target
            sl_target *= weight
            sl_target += (1.0 - weight) * sl_aon
            direction = "cfw" if algorithm == "cfw" else "bfw"
        else:
            link_cost_derivatives(t0, alpha, beta, cap, volume, deriv)
            b0, b1, b2 = _biconjugate_weights(deriv, volume, aon, target, previous_target, step)
            new_target = b0 * aon + b1 * target + b2 * previous_target
            previous_target[:] = target
            target[:] = new_target
            sl_new = b0 * sl_aon + b1 * sl_target + b2 * sl_previous
            sl_previous[:] = sl_target
            sl_target[:] = sl_new
        step = exact_line_search(t0, alpha, beta, cap, fixed, volume, target, 1.0)
        if step >= 1.0:
            # a full step discards the conjugate history (s_{k-1} = x_{k+1}); restart
            direction = "fw"
        volume += step * (target - volume)
        sl_volume += step * (sl_target - sl_volume)
    link_costs(t0, alpha, beta, cap, fixed, volume, cost)
    if stop_reason != "gap":
        # the last gap was measured before the last step; measure the returned flows
        od_cost = load(cost, aon, sl_aon)
        total_cost = float(np.dot(volume, cost))
        relative_gap = (total_cost - float(np.dot(loaded.flow, od_cost))) / total_cost
    return LinkSolution(
        volume=volume,
        cost=cost,
        iterations=iteration,
        relative_gap=float(relative_gap),
        converged=stop_reason == "gap",
        stop_reason=stop_reason,
        history=history,
        select_link_flows={link: sl_volume[s].copy() for s, link in enumerate(select_links)},
    )
