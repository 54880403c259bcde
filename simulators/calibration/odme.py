"""Origin-destination matrix estimation from link counts: Spiess's bilevel gradient method.

The problem (Spiess 1990, *A gradient approach for the O-D matrix adjustment problem*,
Centre de recherche sur les transports, Université de Montréal, publication 693; the method
of EMME's ``demand adjustment`` and of AequilibraE's ODME)::

    min_g  Z(g) = 1/2 sum_{a counted} w_a (v_a(g) - c_a)^2
    where v(g) is the user-equilibrium link volume of the OD matrix g

is solved by steepest descent in *relative* terms, which keeps the prior's structure (an
empty cell stays empty, no trip turns negative, the shape of the trip distribution is only
reshaped where counts ask for it)::

    g_i <- g_i (1 - lambda dZ/dg_i),    dZ/dg_i = sum_a p_ai w_a (v_a - c_a)

with ``p_ai`` the share of pair i's trips on link a in the current equilibrium. The step
``lambda`` is the exact minimiser of Z along the direction in the linearised model
(``v' = -p (g o grad)``, ``lambda* = sum w v' (c - v) / sum w v'^2``), capped at
``1 / max grad`` so that no cell crosses zero. The bilevel part: ``p`` comes from an
equilibrium of the current matrix (:mod:`.shares`), a few gradient steps are taken with
``p`` fixed (the linearised volumes ``v + p dg``), then the new matrix is re-assigned and
``p`` recomputed, until Z stops falling.

Every OD entry of the prior is adjustable, the external (gateway) ones included; cells can
move by at most ``max_factor`` either way from the prior, which keeps a count that no
pair can explain from driving a few cells to absurd values.

Weights: ``"relative"`` (``w_a = 1 / max(c_a, 1)``, a weighted least squares whose terms
are about GEH^2 / 4, so small and large counts matter alike, as the GEH acceptance rule
does) or ``"absolute"`` (``w_a = 1``, Spiess's original).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from simulators.common.params import ParamError, check_fields, param
from simulators.traffic.network import Demand, Network

from .fit import FitReport, fit_report
from .shares import equilibrium_shares

__all__ = ["OdmeParams", "OdmeResult", "estimate_demand", "check_counts"]

WEIGHTINGS = {
    "relative": "Relative (each count weighted by 1 / count, like GEH)",
    "absolute": "Absolute (Spiess's original least squares)",
}


@dataclass(frozen=True)
class OdmeParams:
    """Settings of one OD matrix estimation."""

    outer_iterations: int = param(
        15, label="Assignments", minimum=1, maximum=200, integer=True,
        description="Equilibrium assignments (each followed by gradient steps with the "
        "link-OD shares of that equilibrium)",
    )  # fmt: skip
    inner_iterations: int = param(
        5, label="Gradient steps per assignment", minimum=1, maximum=100, integer=True,
        description="Spiess gradient steps taken with the shares of one equilibrium",
    )  # fmt: skip
    gap: float = param(
        1e-6, label="Relative gap", minimum=1e-10, maximum=1e-2,
        description="Relative gap of each equilibrium (bush-based solver)",
    )  # fmt: skip
    max_assignment_iterations: int = param(
        500, label="Iterations per assignment", minimum=1, maximum=100_000, integer=True,
        description="The solver stops here even if the gap is not reached",
    )  # fmt: skip
    max_factor: float = param(
        5.0, label="Largest change of a cell", minimum=1.0, maximum=100.0,
        description="A cell ends between prior / factor and prior x factor",
    )  # fmt: skip
    tolerance: float = param(
        1e-4, label="Stop when the misfit falls by less than", minimum=0.0, maximum=1.0,
        description="Relative decrease of the count misfit between two assignments",
    )  # fmt: skip
    weighting: str = param("relative", label="Weights of the counts", choices=WEIGHTINGS)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass
class OdmeResult:
    """Outcome of :func:`estimate_demand`.

    Attributes
    ----------
    demand : the estimated matrix (same entries as the prior, new flows, veh/h).
    prior : the matrix it started from.
    volume : equilibrium link volumes of ``demand``, veh/h.
    before, after : fit of the prior's and of the estimate's equilibrium to the counts.
    history : per assignment: ``objective``, ``share_geh_below_5``, ``rmse_veh_h``,
        ``total_veh_h``, ``relative_gap``.
    stop_reason : ``"tolerance"``, ``"exact"`` or ``"iterations"``.
    """

    demand: Demand
    prior: Demand
    volume: np.ndarray
    before: FitReport
    after: FitReport
    history: list[dict] = field(default_factory=list)
    stop_reason: str = "iterations"
    seconds: float = 0.0

    @property
    def factors(self) -> np.ndarray:
        """Estimated / prior flow per OD entry (1 where the prior is 0)."""
        p = self.prior.flow
        return np.divide(self.demand.flow, p, out=np.ones_like(p), where=p > 0)

    def summary(self) -> dict:
        """Plain figures: fit before and after, totals, assignments, stop reason."""
        return {
            "before": self.before.summary(),
            "after": self.after.summary(),
            "prior_total_veh_h": self.prior.total,
            "estimated_total_veh_h": self.demand.total,
            "assignments": len(self.history),
            "stop_reason": self.stop_reason,
            "seconds": self.seconds,
        }


def check_counts(network: Network, links, counts) -> tuple[np.ndarray, np.ndarray]:
    """Counted link indices and hourly counts (veh/h) as arrays, or ParamError naming the field."""
    links = np.asarray(links)
    counts = np.asarray(counts, dtype=float)
    if links.ndim != 1 or counts.shape != links.shape:
        raise ParamError("counts", "one count per counted link is needed")
    if len(links) == 0:
        raise ParamError("counts", "no counted links")
    if not np.issubdtype(links.dtype, np.integer):
        raise ParamError("links", "link indices must be integers")
    if links.min() < 0 or links.max() >= network.n_links:
        raise ParamError("links", f"link index outside 0..{network.n_links - 1}")
    if len(np.unique(links)) != len(links):
        raise ParamError("links", "a link is counted twice; give one hourly count per link")
    if not np.all(network.open[links]):
        raise ParamError("links", "a counted link is closed")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ParamError("counts", "counts must be finite and non-negative (veh/h)")
    return links.astype(np.int64), counts


def estimate_demand(
    network: Network,
    prior: Demand,
    links,
    counts,
    params: OdmeParams | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> OdmeResult:
    """Adjust ``prior`` so that its equilibrium volumes match hourly link counts.

    Parameters
    ----------
    network : the road network (:class:`~simulators.traffic.network.Network`).
    prior : the model's OD matrix (veh/h), internal and external pairs alike.
    links : indices of the counted links (network link order).
    counts : hourly counts on them, veh/h, same order.
    params : :class:`OdmeParams`.
    progress : ``progress(fraction, stage)``.

    Returns
    -------
    OdmeResult
    """
    started = time.perf_counter()
    params = params or OdmeParams()
    links, counts = check_counts(network, links, counts)
    weights = 1.0 / np.maximum(counts, 1.0) if params.weighting == "relative" else np.ones(
        len(counts))  # fmt: skip
    lower = prior.flow / params.max_factor
    upper = prior.flow * params.max_factor
    g = prior.flow.copy()
    history: list[dict] = []
    best = None
    stop_reason = "iterations"
    previous = np.inf
    n_outer = int(params.outer_iterations)
    for outer in range(n_outer + 1):
        if progress:
            progress(outer / (n_outer + 1), f"assignment {outer + 1}")
        demand = _with_flow(prior, g)
        volume, shares, info = equilibrium_shares(
            network, demand, gap=params.gap, max_iter=int(params.max_assignment_iterations)
        )
        modelled = volume[links]
        objective = 0.5 * float(np.sum(weights * (modelled - counts) ** 2))
        report = fit_report(counts, modelled, links)
        history.append({
            "objective": objective, "share_geh_below_5": report.share_geh_below_5,
            "rmse_veh_h": report.rmse_veh_h, "total_veh_h": float(g.sum()),
            "relative_gap": float(info["relative_gap"]),
        })  # fmt: skip
        if outer == 0:
            first_report = report
        if best is None or objective < best[0]:
            best = (objective, g.copy(), volume, report)
        if objective == 0.0:
            stop_reason = "exact"
            break
        if outer == n_outer:
            break
        if outer > 0 and previous - objective <= params.tolerance * previous:
            stop_reason = "tolerance"
            break
        previous = objective
        g = _gradient_steps(shares, g, links, counts, weights, modelled, lower, upper,
                            int(params.inner_iterations))  # fmt: skip
    _, g_best, volume_best, after = best
    return OdmeResult(
        demand=_with_flow(prior, g_best),
        prior=prior,
        volume=volume_best,
        before=first_report,
        after=after,
        history=history,
        stop_reason=stop_reason,
        seconds=time.perf_counter() - started,
    )


def _with_flow(prior: Demand, flow: np.ndarray) -> Demand:
    return Demand(prior.origin, prior.destination, flow, zone_ids=prior.zone_ids, info=prior.info)


def _gradient_steps(shares, g, links, counts, weights, modelled, lower, upper, n_steps):
    """Spiess steps with the link-OD shares fixed (linearised volumes ``v + p dg``)."""
    n_links = shares.network.n_links
    v = modelled.copy()
    for _ in range(n_steps):
        residual = np.zeros(n_links)
        residual[links] = weights * (v - counts)
        grad = shares.od_mean(residual)
        direction = -g * grad
        dv = shares.load(direction)[links]
        denominator = float(np.sum(weights * dv**2))
        if denominator <= 0.0:
            break
        step = float(np.sum(weights * dv * (counts - v))) / denominator
        positive = grad > 0
        if positive.any():
            # no cell may cross zero: g (1 - step grad) >= 0
            step = min(step, 1.0 / float(grad[positive].max()))
        if step <= 0.0:
            break
        new = np.clip(g + step * direction, lower, upper)
        v = v + shares.load(new - g)[links]
        g = new
    return g
