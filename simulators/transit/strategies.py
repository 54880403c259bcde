"""Optimal strategies (Spiess & Florian 1989): compiled all-to-one kernel and a reference.

A *strategy* to destination ``d`` is, at every node, a set of attractive out-links: at a stop
the traveller boards the first vehicle of the attractive lines to arrive, elsewhere (on board,
walking) the single best link. With frequencies ``f_a`` (1/s; ``inf`` for links without
waiting) the expected cost to ``d`` from node ``i`` is

    u_i = (alpha + sum_a f_a (u_j + c_a)) / sum_a f_a        over the attractive links a = (i, j)

where ``alpha`` is the waiting weight times the waiting factor (0.5: the expected wait for a
line of headway ``h`` is ``h / 2``; ``alpha / sum f_a`` is the wait for the first of several
lines, the combined frequency). Spiess & Florian's label-setting algorithm (their Section 4)
scans links in increasing order of ``u_j + c_a`` and adds a link to its tail's strategy while
``u_j + c_a < u_i``; the demand is then loaded in the reverse order, each node's flow split in
proportion ``f_a / sum f_a``. A link with infinite frequency, once attractive, takes all of its
tail's flow (no waiting).

:func:`assign_strategies` runs one all-to-one pass per destination zone on numba's threads
(each thread loads its own volume row) and also returns the expected components of every
zone pair's trip (in-vehicle, waiting and walking seconds, boardings).
:func:`strategy_reference` is the same algorithm as written in the paper: a plain loop over a
set of links, slow and obvious, used to test the kernel.

Zones (nodes ``0 .. n_zones-1``) start and end trips but are never passed through.

Reference: Spiess, H. and Florian, M. (1989). Optimal strategies: a new assignment model for
transit networks. Transportation Research Part B 23(2), 83-102.
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_num_threads, get_thread_id, njit, parallel_chunksize, prange

__all__ = ["assign_strategies", "strategy_reference", "load_reference", "N_COMPONENTS"]

INF = np.inf
#: expected trip components returned per zone pair: in-vehicle s, waiting s, walking s,
#: boardings, generalized cost s
N_COMPONENTS = 5


# -- indexed binary heap of links keyed by u_head + cost (decrease-key) -----------------------


@njit(cache=True, inline="always")
def _up(heap, pos, keys, i):
    item = heap[i]
    key = keys[item]
    while i > 0:
        parent = (i - 1) >> 1
        other = heap[parent]
        if keys[other] <= key:
            break
        heap[i] = other
        pos[other] = i
        i = parent
    heap[i] = item
    pos[item] = i


@njit(cache=True, inline="always")
def _down(heap, pos, keys, i, size):
    item = heap[i]
    key = keys[item]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[heap[child + 1]] < keys[heap[child]]:
            child += 1
        if keys[heap[child]] >= key:
            break
        heap[i] = heap[child]
        pos[heap[i]] = i
        i = child
    heap[i] = item
    pos[item] = i


@njit(cache=True)
def _strategy(dest, n_zones, in_start, in_links, tail, head, cost, freq, alpha,
              u, f, num, inf_link, pos, keys, heap, selected):  # fmt: skip
    """One all-to-one strategy pass; fills u, f, inf_link and returns the selected count.

    ``num[i]`` holds ``alpha + sum f_a (u_j + c_a)`` of the finite-frequency links chosen at
    ``i``; ``selected[:n]`` lists the strategy's links in the order they were chosen.
    """
    u[:] = INF
    f[:] = 0.0
    num[:] = alpha
    inf_link[:] = -1
    pos[:] = -1
    u[dest] = 0.0
    size = 0
    for k in range(in_start[dest], in_start[dest + 1]):
        a = in_links[k]
        keys[a] = cost[a]
        heap[size] = a
        pos[a] = size
        size += 1
        _up(heap, pos, keys, size - 1)
    n_sel = 0
    while size > 0:
        a = heap[0]
        size -= 1
        pos[a] = -2  # scanned: never pushed again (its head's label is final)
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _down(heap, pos, keys, 0, size)
        key = keys[a]
        i = tail[a]
        if not key < u[i]:
            continue
        fa = freq[a]
        if fa == INF:
            u[i] = key
            f[i] = INF
            inf_link[i] = a
        else:
            num[i] += fa * key
            f[i] += fa
            u[i] = num[i] / f[i]
        selected[n_sel] = a
        n_sel += 1
        if i < n_zones and i != dest:
            continue  # trips start at a zone but never pass through one
        new_u = u[i]
        for k in range(in_start[i], in_start[i + 1]):
            b = in_links[k]
            p = pos[b]
            if p == -2:
                continue
            nk = new_u + cost[b]
            if p == -1:
                keys[b] = nk
                heap[size] = b
                pos[b] = size
                size += 1
                _up(heap, pos, keys, size - 1)
            elif nk < keys[b]:
                keys[b] = nk
                _up(heap, pos, keys, p)
    return n_sel


@njit(cache=True, inline="always")
def _share(a, i, f, inf_link, freq):
    if inf_link[i] >= 0:
        return 1.0 if inf_link[i] == a else 0.0
    return freq[a] / f[i]


@njit(cache=True, parallel=True)
def _assign(n_nodes, n_zones, in_start, in_links, tail, head, cost, freq, alpha, wait_factor,
            link_ivt, link_walk, link_board, dests, demand, n_threads):  # fmt: skip
    m = tail.shape[0]
    n_dest = dests.shape[0]
    rows = np.zeros((n_threads, m))
    skims = np.full((N_COMPONENTS, n_zones, n_dest), INF)
    u = np.empty((n_threads, n_nodes))
    f = np.empty((n_threads, n_nodes))
    num = np.empty((n_threads, n_nodes))
    inf_link = np.empty((n_threads, n_nodes), dtype=np.int64)
    vnode = np.zeros((n_threads, n_nodes))
    comp = np.zeros((n_threads, 4, n_nodes))
    pos = np.empty((n_threads, m), dtype=np.int64)
    keys = np.empty((n_threads, m))
    heap = np.empty((n_threads, m), dtype=np.int64)
    selected = np.empty((n_threads, m), dtype=np.int64)
    for kk in prange(n_dest):
        t = get_thread_id()
        d = dests[kk]
        ut, ft, it, sel = u[t], f[t], inf_link[t], selected[t]
        n_sel = _strategy(d, n_zones, in_start, in_links, tail, head, cost, freq, alpha,
                          ut, ft, num[t], it, pos[t], keys[t], heap[t], sel)  # fmt: skip
        # expected components from every node, in the order the links were chosen (a link's
        # head is complete when it is chosen); waiting counted once per node with a choice
        c = comp[t]
        for i in range(n_nodes):
            c[0, i] = 0.0
            c[2, i] = 0.0
            c[3, i] = 0.0
            c[1, i] = wait_factor / ft[i] if (ft[i] > 0.0 and it[i] < 0) else 0.0
        for k in range(n_sel):
            a = sel[k]
            i = tail[a]
            j = head[a]
            s = _share(a, i, ft, it, freq)
            if s == 0.0:
                continue
            c[0, i] += s * (link_ivt[a] + c[0, j])
            c[1, i] += s * c[1, j]
            c[2, i] += s * (link_walk[a] + c[2, j])
            c[3, i] += s * (link_board[a] + c[3, j])
        for z in range(n_zones):
            if ut[z] < INF:
                skims[0, z, kk] = c[0, z]
                skims[1, z, kk] = c[1, z]
                skims[2, z, kk] = c[2, z]
                skims[3, z, kk] = c[3, z]
                skims[4, z, kk] = ut[z]
        # loading: reverse order of choice, flows split by frequency share
        vn = vnode[t]
        any_flow = False
        for z in range(n_zones):
            if z != d and demand[z, kk] > 0.0 and ut[z] < INF:
                vn[z] = demand[z, kk]
                any_flow = True
        if not any_flow:
            continue
        row = rows[t]
        for k in range(n_sel - 1, -1, -1):
            a = sel[k]
            i = tail[a]
            if vn[i] == 0.0:
                continue
            s = _share(a, i, ft, it, freq)
            if s == 0.0:
                continue
            v = s * vn[i]
            row[a] += v
            if head[a] != d:
                vn[head[a]] += v
        for k in range(n_sel):  # clear the node flows touched (all lie on chosen links)
            a = sel[k]
            vn[tail[a]] = 0.0
            vn[head[a]] = 0.0
        for z in range(n_zones):
            vn[z] = 0.0
    volume = np.zeros(m)
    for a in range(m):
        total = 0.0
        for c in range(n_threads):
            total += rows[c, a]
        volume[a] = total
    return volume, skims


def assign_strategies(
    n_nodes: int,
    n_zones: int,
    tail: np.ndarray,
    head: np.ndarray,
    cost_s: np.ndarray,
    freq_per_s: np.ndarray,
    demand: np.ndarray,
    destinations: np.ndarray | None = None,
    wait_weight: float = 1.0,
    wait_factor: float = 0.5,
    link_ivt_s: np.ndarray | None = None,
    link_walk_s: np.ndarray | None = None,
    link_boardings: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal-strategy volumes and expected trip components for every zone pair.

    Parameters
    ----------
    n_nodes, n_zones : node count; zones are nodes ``0 .. n_zones-1``.
    tail, head : link ends (node indices).
    cost_s : generalized cost of traversing each link, s (in-vehicle-time equivalent).
    freq_per_s : line frequency of boarding links, 1/s (``inf`` on links without waiting).
    demand : ``(n_zones, len(destinations))`` trips from zone ``o`` to ``destinations[k]``.
    destinations : destination zones (default: all zones).
    wait_weight : weight of waiting time in the generalized cost.
    wait_factor : expected wait as a share of the combined headway (0.5: random arrivals
        at regular headways).
    link_ivt_s, link_walk_s, link_boardings : per-link in-vehicle s, walking s and boardings
        summed into the components (zeros when absent).

    Returns
    -------
    volume : per-link volume, trips (same unit as ``demand``).
    skims : ``(5, n_zones, len(destinations))``: expected in-vehicle s, waiting s, walking s,
        boardings, generalized cost s; ``inf`` where the destination cannot be reached.
    """
    m = len(tail)
    tail = np.asarray(tail, dtype=np.int64)
    head = np.asarray(head, dtype=np.int64)
    cost = np.asarray(cost_s, dtype=np.float64)
    freq = np.asarray(freq_per_s, dtype=np.float64)
    if np.any(cost < 0) or not np.all(np.isfinite(cost)):
        raise ValueError("cost_s must be finite and non-negative")
    if np.any(~(freq > 0)):
        raise ValueError("freq_per_s must be positive (inf for links without waiting)")
    dests = np.arange(n_zones) if destinations is None else np.asarray(destinations)
    dests = dests.astype(np.int64)
    demand = np.ascontiguousarray(demand, dtype=np.float64)
    if demand.shape != (n_zones, len(dests)):
        raise ValueError(f"demand must have shape {(n_zones, len(dests))}, got {demand.shape}")
    order = np.argsort(head, kind="stable")
    in_start = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(head, minlength=n_nodes), out=in_start[1:])
    zeros = np.zeros(m)
    with parallel_chunksize(1):
        return _assign(
            int(n_nodes), int(n_zones), in_start, order.astype(np.int64), tail, head, cost, freq,
            float(wait_weight * wait_factor), float(wait_factor),
            zeros if link_ivt_s is None else np.asarray(link_ivt_s, dtype=np.float64),
            zeros if link_walk_s is None else np.asarray(link_walk_s, dtype=np.float64),
            zeros if link_boardings is None else np.asarray(link_boardings, dtype=np.float64),
            dests, demand, get_num_threads(),
        )  # fmt: skip


# -- reference: the paper's algorithm, literally -------------------------------------------


def strategy_reference(
    n_nodes: int,
    tail,
    head,
    cost_s,
    freq_per_s,
    destination: int,
    alpha: float = 0.5,
    n_zones: int = 0,
) -> tuple[np.ndarray, np.ndarray, list[int], dict[int, int]]:
    """Spiess & Florian's optimal-strategy algorithm, step by step (slow; for tests).

    Returns
    -------
    u : expected generalized cost to ``destination`` from every node.
    f : combined frequency of the strategy at every node (inf: no waiting).
    chosen : the strategy's links in the order they were chosen.
    deterministic : node -> its infinite-frequency link, where it has one.
    """
    u = [math.inf] * n_nodes
    f = [0.0] * n_nodes
    num = [alpha] * n_nodes
    u[destination] = 0.0
    deterministic: dict[int, int] = {}
    passable = [not (i < n_zones and i != destination) for i in range(n_nodes)]
    remaining = set(range(len(tail)))
    chosen: list[int] = []
    while remaining:
        # step 1: the link with the least u_j + c_a (a link out of a zone other than the
        # destination has no effect on others, so it never needs a label of its own)
        def key(a):
            j = int(head[a])
            return u[j] + cost_s[a] if passable[j] else math.inf

        a = min(remaining, key=lambda a: (key(a), a))
        remaining.discard(a)
        if key(a) == math.inf:
            break
        i, ka = int(tail[a]), key(a)
        # step 2: update the node label if the link is attractive
        if ka < u[i]:
            if freq_per_s[a] == math.inf:
                u[i], f[i] = ka, math.inf
                deterministic[i] = a
            else:
                num[i] += freq_per_s[a] * ka
                f[i] += freq_per_s[a]
                u[i] = num[i] / f[i]
            chosen.append(a)
    return np.array(u), np.array(f), chosen, deterministic


def load_reference(
    n_nodes: int, tail, head, freq_per_s, chosen, f, deterministic, origin_flow: dict[int, float]
) -> np.ndarray:
    """Load ``origin_flow`` (node -> trips) on a strategy of :func:`strategy_reference`."""
    volume = np.zeros(len(tail))
    node = np.zeros(n_nodes)
    for o, v in origin_flow.items():
        node[o] += v
    for a in reversed(chosen):
        i = int(tail[a])
        if i in deterministic:
            share = 1.0 if deterministic[i] == a else 0.0
        else:
            share = freq_per_s[a] / f[i]
        volume[a] += share * node[i]
        node[int(head[a])] += share * node[i]
    return volume
