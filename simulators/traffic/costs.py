"""Compiled BPR link-cost kernels: cost, derivative, Beckmann objective, line search.

The volume-delay function is the BPR curve
``t(v) = t0 * (1 + alpha * (v / c) ** beta)``; the generalized cost adds a
flow-independent term ``fixed = toll_weight * toll + distance_weight * length``.
The Beckmann objective is ``sum_a integral_0^{v_a} t_a(w) dw + fixed_a * v_a``.
"""

from __future__ import annotations

from numba import njit

__all__ = [
    "link_costs",
    "link_cost_derivatives",
    "beckmann_objective",
    "exact_line_search",
]


@njit(cache=True, inline="always")
def _power(r, beta):
    """``r ** beta``; the BPR default beta = 4 by two multiplications (pow() costs ~5x more,
    and the bush solver evaluates it for every link of every shifted segment)."""
    if beta == 4.0:
        r2 = r * r
        return r2 * r2
    if beta == 3.0:
        return r * r * r
    if beta == 1.0:
        return r
    return r**beta


@njit(cache=True, inline="always")
def _bpr(t0, alpha, beta, cap, v):
    if v <= 0.0:
        return t0
    return t0 * (1.0 + alpha * _power(v / cap, beta))


@njit(cache=True, inline="always")
def _bpr_derivative(t0, alpha, beta, cap, v):
    if v <= 0.0:
        return t0 * alpha / cap if beta == 1.0 else 0.0
    return t0 * alpha * beta * _power(v / cap, beta - 1.0) / cap


@njit(cache=True)
def link_costs(t0, alpha, beta, cap, fixed, volume, out):
    """Generalized cost per link into ``out`` (time units)."""
    for a in range(volume.shape[0]):
        out[a] = _bpr(t0[a], alpha[a], beta[a], cap[a], volume[a]) + fixed[a]


@njit(cache=True)
def link_cost_derivatives(t0, alpha, beta, cap, volume, out):
    """d cost / d volume per link into ``out``."""
    for a in range(volume.shape[0]):
        out[a] = _bpr_derivative(t0[a], alpha[a], beta[a], cap[a], volume[a])


@njit(cache=True)
def beckmann_objective(t0, alpha, beta, cap, fixed, volume):
    """Beckmann objective (sum of integrals of generalized link cost), in veh x time units."""
    total = 0.0
    for a in range(volume.shape[0]):
        v = volume[a]
        if v > 0.0:
            total += t0[a] * (
                v + alpha[a] * cap[a] / (beta[a] + 1.0) * (v / cap[a]) ** (beta[a] + 1.0)
            )
            total += fixed[a] * v
    return total


@njit(cache=True)
def _directional_derivative(t0, alpha, beta, cap, fixed, volume, target, step):
    """g(step) = sum_a d_a c_a(x_a + step d_a) and its derivative, with d = target - x."""
    g = 0.0
    dg = 0.0
    for a in range(volume.shape[0]):
        d = target[a] - volume[a]
        if d != 0.0:
            v = volume[a] + step * d
            g += d * (_bpr(t0[a], alpha[a], beta[a], cap[a], v) + fixed[a])
            dg += d * d * _bpr_derivative(t0[a], alpha[a], beta[a], cap[a], v)
    return g, dg


@njit(cache=True)
def exact_line_search(t0, alpha, beta, cap, fixed, volume, target, max_step):
    """Step in [0, max_step] minimising the Beckmann objective along ``target - volume``.

    The objective is convex along the segment, so its derivative ``g`` is
    non-decreasing; the root is bracketed and found by Newton steps safeguarded
    by bisection, to (near) machine precision.
    """
    g_low, _ = _directional_derivative(t0, alpha, beta, cap, fixed, volume, target, 0.0)
    if g_low >= 0.0:
        return 0.0
    g_high, _ = _directional_derivative(t0, alpha, beta, cap, fixed, volume, target, max_step)
    if g_high <= 0.0:
        return max_step
    low = 0.0
    high = max_step
    step = 0.5 * max_step
    for _ in range(200):
        g, dg = _directional_derivative(t0, alpha, beta, cap, fixed, volume, target, step)
        if g < 0.0:
            low = step
        else:
            high = step
        if g == 0.0 or high - low <= 1e-15 * max(1.0, high):
            break
        newton = step - g / dg if dg > 0.0 else -1.0
        if low < newton < high:
            # Newton converges quadratically; keep it unless it stalls
            if abs(newton - step) <= 1e-16:
                break
            step = newton
        else:
            step = 0.5 * (low + high)
    return step
