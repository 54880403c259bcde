"""Bush-based (origin-based) user equilibrium: Algorithm B (Dial 2006).

Each origin keeps a *bush*: an acyclic subnetwork rooted at the origin that
carries all its flow, with per-origin link flows. An iteration visits every
origin, (1) updates its bush (drop links without flow, add shortcuts), and
(2) equilibrates it: for every node, from the last in topological order to the
first, flow moves from the longest used path segment to the shortest one by a
Newton step ``dx = (C_long - C_short) / sum t'`` (capped by the flow on the long
segment). Because the bushes hold the whole solution, gaps of 1e-8 and better
are reachable, unlike link-based Frank-Wolfe methods.

Reference: R. B. Dial (2006), "A path-based user-equilibrium traffic assignment
algorithm that obviates path storage and enumeration", Transportation Research
Part B 40(10); S. D. Boyles, N. E. Lownes, A. Unnikrishnan, *Transportation
Network Analysis* vol. 1, section 6.4 (Algorithm B).

Memory is one float and one flag per (origin, link), 9 bytes: 700 zones on 200,000
links take 1.3 GB; above :data:`MAX_BUSH_ENTRIES` the solver refuses (use ``bfw``).
While solving, each bush's topological order is kept too (4 bytes per origin and node),
so that a visit re-sorts only when an added link runs against it, over the bush's own
links: apart from gathering the bush's in-links and scanning Dial's candidate links,
a visit reads the bush alone, not the whole network.

Origin flows below ``FLOW_EPS`` of the origin's demand are rounding crumbs and do not
count as used (a longest-used path through a crumb whose upstream lost its flow cannot
be walked back, and Algorithm B stalled on Barcelona at gap 6e-5 before this).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import get_num_threads, get_thread_id, njit, parallel_chunksize, prange

from .costs import _bpr, _bpr_derivative, beckmann_objective, exact_line_search, link_costs
from .frank_wolfe import LinkSolution, LoadedDemand, _progress_fraction, new_history
from .paths import _sp_tree, _tree_buffers, all_or_nothing

__all__ = ["solve_bush_based", "MAX_BUSH_ENTRIES", "BushState"]

#: refuse bush storage above this many (origin, link) pairs (9 bytes each: 2.25 GB)
MAX_BUSH_ENTRIES = 250_000_000

_INF = np.inf
#: a segment shift is skipped below this share of the mean excess cost per trip
TOLERANCE_SHARE = 0.01
#: below this many links a sweep takes milliseconds and merging batches costs more than
#: a second thread brings (Anaheim, 914 links: 2.9 s serial, 8.1 s on two busy threads)
PARALLEL_MIN_LINKS = 10_000
#: origins per thread in one batch of the parallel sweep (merged after each batch)
BATCH_PER_THREAD = 1
#: origin flow below this share of the origin's demand is rounding, not use
FLOW_EPS = 1e-11
#: a sweep skips the origins whose excess cost (their part of the gap) is below this
#: share of the mean excess per origin; the gap is always checked over every origin.
#: Off: at 20k links 0.5 visited 40 % fewer origins to gap 1e-4 for the same CPU time,
#: and at gap 1e-8 left Anaheim's objective 6e-9 from best-known (1e-12 without)
LAZY_SHARE = 0.0


def in_links_csr(network) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the open links by head node: ``in_links[in_start[j]:in_start[j+1]]``."""
    open_links = np.flatnonzero(network.open)
    order = open_links[np.argsort(network.head[open_links], kind="stable")]
    counts = np.bincount(network.head[order], minlength=network.n_nodes)
    start = np.zeros(network.n_nodes + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    return start, order.astype(np.int64)


@dataclass
class BushState:
    """The bushes of a bush-solver run: what a warm start continues from.

    Row ``k`` belongs to origin node ``origins[k]`` (network node index); ``in_bush``
    marks its bush's links, ``flow`` its link flows (veh/h), both ``(origins, links)``.
    """

    origins: np.ndarray
    in_bush: np.ndarray
    flow: np.ndarray


@njit(cache=True)
def _init_bushes(
    out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow,
    in_bush, bush_flow, volume,
):  # fmt: skip
    """Bush of each origin = its shortest-path tree at ``cost``, loaded all-or-nothing."""
    n_nodes = out_start.shape[0] - 1
    dist, pred, order, hk, hn = _tree_buffers(n_nodes, head.shape[0])
    node_flow = np.zeros(n_nodes)
    for k in range(origins.shape[0]):
        dist[:] = _INF
        pred[:] = -1
        n = _sp_tree(
            origins[k], out_start, out_links, head, cost, first_thru, dist, pred, order, hk, hn
        )
        for i in range(1, n):
            in_bush[k, pred[order[i]]] = True
        for e in range(od_start[k], od_start[k + 1]):
            node_flow[od_dest[e]] += od_flow[e]
        for i in range(n - 1, 0, -1):
            v = order[i]
            f = node_flow[v]
            if f != 0.0:
                link = pred[v]
                bush_flow[k, link] += f
                volume[link] += f
                node_flow[tail[link]] += f
                node_flow[v] = 0.0
        node_flow[origins[k]] = 0.0


@njit(cache=True)
def _topological_order(origin, bush_row, out_start, out_links, head, indegree, order, position):
    """Kahn's algorithm over the bush links; returns the number of ordered nodes."""
    n_nodes = out_start.shape[0] - 1
    indegree[:] = 0
    for u in range(n_nodes):
        for k in range(out_start[u], out_start[u + 1]):
            link = out_links[k]
            if bush_row[link]:
                indegree[head[link]] += 1
    position[:] = -1
    order[0] = origin
    position[origin] = 0
    n = 1
    i = 0
    while i < n:
        u = order[i]
        i += 1
        for k in range(out_start[u], out_start[u + 1]):
            link = out_links[k]
            if bush_row[link]:
                v = head[link]
                indegree[v] -= 1
                if indegree[v] == 0:
                    position[v] = n
                    order[n] = v
                    n += 1
    return n


@njit(cache=True)
def _bush_in_links(order, n, in_start, in_links, bush_row, b_start, b_links):
    """The bush's in-links of ``order[i]`` as ``b_links[b_start[i]:b_start[i + 1]]``.

    A bush holds a fraction of the network's links (a quarter on the synthetic cities);
    the equilibration passes read its labels over this compact list, in topological
    order, instead of filtering every in-link of the network (3-4x fewer, sequential reads).
    """
    count = 0
    b_start[0] = 0
    for i in range(n):
        j = order[i]
        for k in range(in_start[j], in_start[j + 1]):
            link = in_links[k]
            if bush_row[link]:
                b_links[count] = link
                count += 1
        b_start[i + 1] = count


@njit(cache=True)
def _labels_compact(order, n, b_start, b_links, b_tail, cost, flow_row, low, pmin, high, pmax,
                    flow_eps):  # fmt: skip
    """Shortest (``low``/``pmin``) and longest-used (``high``/``pmax``) labels over the
    compact in-lists (``b_tail[k]`` the tail of ``b_links[k]``, read once per visit: the
    equilibration passes repeat this scan). A link is *used* above ``flow_eps``."""
    origin = order[0]
    low[origin] = 0.0
    high[origin] = 0.0
    pmin[origin] = -1
    pmax[origin] = -1
    for i in range(1, n):
        j = order[i]
        best = _INF
        worst = -_INF
        best_link = -1
        worst_link = -1
        for k in range(b_start[i], b_start[i + 1]):
            link = b_links[k]
            u = b_tail[k]
            c = cost[link]
            if low[u] + c < best:
                best = low[u] + c
                best_link = link
            if flow_row[link] > flow_eps and high[u] + c > worst:
                worst = high[u] + c
                worst_link = link
        low[j] = best
        pmin[j] = best_link
        high[j] = worst if worst_link >= 0 else best
        pmax[j] = worst_link


@njit(cache=True)
def _labels_drop(order, n, b_start, b_links, tail, cost, bush_row, flow_row, volume, low, pmin,
                 high, pmax, longest, flow_eps):  # fmt: skip
    """Bush labels over the compact in-links, dropping the links without flow on the way.

    One pass in topological order: at node j the shortest label (``low``/``pmin``) is read
    over all of j's bush in-links, then the in-links without origin flow (crumbs below
    ``flow_eps`` included, taken off the volume too) are dropped, except ``pmin[j]`` (the
    shortest-path tree keeps every node reachable, so ``low`` is the same before and after),
    and the longest (``longest``) and longest-used (``high``/``pmax``) labels are read over
    the links kept. ``b_start``/``b_links`` are compacted in place. Returns the links kept.
    """
    origin = order[0]
    low[origin] = 0.0
    high[origin] = 0.0
    longest[origin] = 0.0
    pmin[origin] = -1
    pmax[origin] = -1
    kept = b_start[1]  # the origin has no bush in-links (nothing is added into it)
    lo = b_start[1]
    for i in range(1, n):
        j = order[i]
        hi = b_start[i + 1]
        best = _INF
        best_link = -1
        for k in range(lo, hi):
            link = b_links[k]
            c = low[tail[link]] + cost[link]
            if c < best:
                best = c
                best_link = link
        far = -_INF
        worst = -_INF
        worst_link = -1
        for k in range(lo, hi):
            link = b_links[k]
            f = flow_row[link]
            if f <= flow_eps and link != best_link:
                bush_row[link] = False
                volume[link] = max(volume[link] - f, 0.0)
                flow_row[link] = 0.0
                continue
            b_links[kept] = link
            kept += 1
            u = tail[link]
            c = cost[link]
            if longest[u] + c > far:
                far = longest[u] + c
            if f > flow_eps and high[u] + c > worst:
                worst = high[u] + c
                worst_link = link
        b_start[i + 1] = kept
        lo = hi
        low[j] = best
        pmin[j] = best_link
        longest[j] = far
        high[j] = worst if worst_link >= 0 else best
        pmax[j] = worst_link
    return kept


@njit(cache=True)
def _insert_links(order, n, position, head, b_start, b_links, added, n_added, b_start2, b_links2):
    """Merge the ``n_added`` links of ``added`` into the compact in-lists (the order stays)."""
    keys = np.empty(n_added, dtype=np.int64)
    for e in range(n_added):
        keys[e] = position[head[added[e]]]
    rank = np.argsort(keys)
    w = 0
    p = 0
    for i in range(n):
        b_start2[i] = w
        for k in range(b_start[i], b_start[i + 1]):
            b_links2[w] = b_links[k]
            w += 1
        while p < n_added and keys[rank[p]] == i:
            b_links2[w] = added[rank[p]]
            w += 1
            p += 1
    b_start2[n] = w
    b_start[: n + 1] = b_start2[: n + 1]
    b_links[:w] = b_links2[:w]


@njit(cache=True)
def _reorder_local(order, n, position, tail, b_start, b_links, indegree, b_start2, b_links2):
    """Kahn's algorithm over the bush's own links, from its compact in-lists.

    ``b_start``/``b_links`` hold every bush link grouped by the *current* position of its
    head (added links merged in, order possibly broken by them). On return ``order``,
    ``position`` and the in-lists are in a topological order of the bush. O(bush), not
    O(network). Returns False when the bush has a cycle (nothing is changed then).
    """
    total = b_start[n]
    out_start = np.zeros(n + 1, dtype=np.int64)
    for k in range(total):
        out_start[position[tail[b_links[k]]] + 1] += 1
    for p in range(n):
        out_start[p + 1] += out_start[p]
    out_head = np.empty(total, dtype=np.int64)
    fill = out_start[:n].copy()
    for p in range(n):
        indegree[p] = b_start[p + 1] - b_start[p]
        for k in range(b_start[p], b_start[p + 1]):
            q = position[tail[b_links[k]]]
            out_head[fill[q]] = p
            fill[q] += 1
    queue = np.empty(n, dtype=np.int64)  # old positions in the new order
    size = 0
    for p in range(n):
        if indegree[p] == 0:
            queue[size] = p
            size += 1
    i = 0
    while i < size:
        p = queue[i]
        i += 1
        for e in range(out_start[p], out_start[p + 1]):
            h = out_head[e]
            indegree[h] -= 1
            if indegree[h] == 0:
                queue[size] = h
                size += 1
    if size < n:
        return False
    w = 0
    old = order[:n].copy()
    for r in range(n):
        p = queue[r]
        b_start2[r] = w
        for k in range(b_start[p], b_start[p + 1]):
            b_links2[w] = b_links[k]
            w += 1
        v = old[p]
        order[r] = v
        position[v] = r
    b_start2[n] = w
    b_start[: n + 1] = b_start2[: n + 1]
    b_links[:w] = b_links2[:w]
    return True


@njit(cache=True)
def _update_bush(origin, first_thru, n_nodes, tail, head, is_open, cost, bush_row, order, n, low,
                 longest, reachable, added):  # fmt: skip
    """Add shortcut links to a bush.

    A link (i, j) joins when ``longest[i] + c_ij < longest[j]`` (Dial's rule: the
    longest-path labels order the bush strictly, so it stays acyclic) or when it
    shortens the shortest path to j and respects that order (``longest[i] < longest[j]``).
    The links added go to ``added``; returns their number.
    """
    reachable[:] = False
    for i in range(n):
        reachable[order[i]] = True
    n_added = 0
    for link in range(tail.shape[0]):
        if bush_row[link] or not is_open[link]:
            continue
        i = tail[link]
        j = head[link]
        if not (reachable[i] and reachable[j]) or j == origin:
            continue
        if i < first_thru and i != origin:
            continue  # zones are not passed through
        # both rules need longest[i] < longest[j], so together they keep the bush acyclic
        if longest[i] + cost[link] < longest[j] or (
            low[i] + cost[link] < low[j] * (1.0 - 1e-14) and longest[i] < longest[j]
        ):
            bush_row[link] = True
            added[n_added] = link
            n_added += 1
    return n_added


@njit(cache=True)
def _equilibrate_bush(order, n, position, tail, cost, deriv, t0, alpha, beta, cap, fixed,
                      bush_flow_row, volume, low, pmin, high, pmax, seg_min, seg_max, tolerance):  # fmt: skip
    """One Algorithm-B pass over a bush, last node first. Returns the largest cost gap seen."""
    largest = 0.0
    for i in range(n - 1, 0, -1):
        j = order[i]
        if pmax[j] < 0 or high[j] - low[j] <= tolerance:
            continue
        # walk both paths back to the node where they diverge (the later in topological order
        # steps back first; they must meet, at the origin at the latest)
        seg_min[0] = pmin[j]
        seg_max[0] = pmax[j]
        n_min = 1
        n_max = 1
        p = tail[pmin[j]]
        q = tail[pmax[j]]
        broken = False
        while p != q:
            if position[p] > position[q]:
                link = pmin[p]
                if link < 0:
                    broken = True
                    break
                seg_min[n_min] = link
                n_min += 1
                p = tail[link]
            else:
                link = pmax[q]
                if link < 0:
                    broken = True  # flow rounding left a used link behind a node without flow
                    break
                seg_max[n_max] = link
                n_max += 1
                q = tail[link]
        if broken:
            continue
        cost_min = 0.0
        cost_max = 0.0
        slope = 0.0
        max_shift = _INF
        for s in range(n_min):
            a = seg_min[s]
            cost_min += cost[a]
            slope += deriv[a]
        for s in range(n_max):
            a = seg_max[s]
            cost_max += cost[a]
            slope += deriv[a]
            if bush_flow_row[a] < max_shift:
                max_shift = bush_flow_row[a]
        difference = cost_max - cost_min
        if difference > largest:
            largest = difference
        if difference <= tolerance or max_shift <= 0.0:
            continue
        shift = max_shift if slope <= 0.0 else min(difference / slope, max_shift)
        for s in range(n_min):
            a = seg_min[s]
            bush_flow_row[a] += shift
            volume[a] += shift
        for s in range(n_max):
            a = seg_max[s]
            if shift == max_shift and bush_flow_row[a] == max_shift:
                bush_flow_row[a] = 0.0
            else:
                bush_flow_row[a] = max(bush_flow_row[a] - shift, 0.0)
            volume[a] = max(volume[a] - shift, 0.0)
        for s in range(n_min):
            a = seg_min[s]
            cost[a] = _bpr(t0[a], alpha[a], beta[a], cap[a], volume[a]) + fixed[a]
            deriv[a] = _bpr_derivative(t0[a], alpha[a], beta[a], cap[a], volume[a])
        for s in range(n_max):
            a = seg_max[s]
            cost[a] = _bpr(t0[a], alpha[a], beta[a], cap[a], volume[a]) + fixed[a]
            deriv[a] = _bpr_derivative(t0[a], alpha[a], beta[a], cap[a], volume[a])
    return largest


@njit(cache=True)
def _bush_origin(k, origins, od_start, od_flow, first_thru, out_start, out_links, in_start,
                 in_links, tail, head, is_open, t0, alpha, beta, cap, fixed, in_bush, bush_flow,
                 volume, cost, deriv, tolerance, inner_passes, orders, n_order, indegree, order,
                 position, low, high, longest, pmin, pmax, reachable, seg_min, seg_max, b_start,
                 b_links, added, b_start2, b_links2):  # fmt: skip
    """Algorithm B on origin ``k``: update its bush, then equilibrate it (``inner_passes``).

    The bush's topological order is kept between sweeps (``orders[k, :n_order[k]]``; only
    this origin changes its bush, and dropping links keeps an order valid), so a visit sorts
    only when an added link runs against it. Everything but two scans (the bush's in-links
    in that order, and the candidate links of Dial's rule) reads the bush alone.
    Returns how the order was kept: 0 nothing added, 1 links added in order, 2 re-sorted
    over the bush's links, 3 sorted again over the network (a cycle: negative costs).
    """
    n_nodes = out_start.shape[0] - 1
    origin = origins[k]
    bush_row = in_bush[k]
    flow_row = bush_flow[k]
    # crumbs below this share of the origin's demand count as no flow (a longest-used path
    # through a crumb whose upstream lost its flow cannot be walked back: the node stalls)
    flow_eps = FLOW_EPS * od_flow[od_start[k] : od_start[k + 1]].sum()
    n = n_order[k]
    if n == 0:  # first visit (or a warm start's bushes): sort once
        n = _topological_order(origin, bush_row, out_start, out_links, head, indegree, order,
                               position)  # fmt: skip
    else:
        for i in range(n):
            v = orders[k, i]
            order[i] = v
            position[v] = i
    _bush_in_links(order, n, in_start, in_links, bush_row, b_start, b_links)
    _labels_drop(order, n, b_start, b_links, tail, cost, bush_row, flow_row, volume, low, pmin,
                 high, pmax, longest, flow_eps)  # fmt: skip
    n_added = _update_bush(origin, first_thru, n_nodes, tail, head, is_open, cost, bush_row,
                           order, n, low, longest, reachable, added)  # fmt: skip
    how = 0
    if n_added > 0:
        how = 1
        in_order = True
        for e in range(n_added):
            if position[tail[added[e]]] >= position[head[added[e]]]:
                in_order = False
                break
        _insert_links(order, n, position, head, b_start, b_links, added, n_added, b_start2,
                      b_links2)  # fmt: skip
        if not in_order:
            how = 2
            if not _reorder_local(order, n, position, tail, b_start, b_links, indegree, b_start2,
                                  b_links2):  # fmt: skip
                how = 3  # a cycle (not with non-negative costs): the network-wide sort
                n = _topological_order(origin, bush_row, out_start, out_links, head, indegree,
                                       order, position)  # fmt: skip
                _bush_in_links(order, n, in_start, in_links, bush_row, b_start, b_links)
    for i in range(n):
        orders[k, i] = order[i]
    n_order[k] = n
    b_tail = b_links2  # free again: the tails of the in-lists, for the passes
    for e in range(b_start[n]):
        b_tail[e] = tail[b_links[e]]
    for _ in range(inner_passes):
        _labels_compact(order, n, b_start, b_links, b_tail, cost, flow_row, low, pmin, high,
                        pmax, flow_eps)  # fmt: skip
        largest = _equilibrate_bush(order, n, position, tail, cost, deriv, t0, alpha, beta, cap,
                                    fixed, flow_row, volume, low, pmin, high, pmax, seg_min,
                                    seg_max, tolerance)  # fmt: skip
        if largest <= tolerance:
            break
    return how


@njit(cache=True)
def _bush_sweep(origins, od_start, od_flow, first_thru, out_start, out_links, in_start, in_links,
                tail, head, is_open, t0, alpha, beta, cap, fixed, in_bush, bush_flow, volume, cost,
                deriv, tolerance, inner_passes, todo, orders, n_order, updates):  # fmt: skip
    """One Algorithm-B iteration over the origins ``todo`` (indices), one after another (the
    reference kernel: every origin sees the costs left by the one before, Gauss-Seidel).
    ``orders``/``n_order``: the bushes' topological orders, kept between sweeps;
    ``updates[how]`` counts the origins by how their order was kept (:func:`_bush_origin`)."""
    n_nodes = out_start.shape[0] - 1
    indegree = np.empty(n_nodes, dtype=np.int64)
    order = np.empty(n_nodes, dtype=np.int64)
    position = np.empty(n_nodes, dtype=np.int64)
    low = np.empty(n_nodes)
    high = np.empty(n_nodes)
    longest = np.empty(n_nodes)
    pmin = np.empty(n_nodes, dtype=np.int64)
    pmax = np.empty(n_nodes, dtype=np.int64)
    reachable = np.empty(n_nodes, dtype=np.bool_)
    seg_min = np.empty(n_nodes, dtype=np.int64)
    seg_max = np.empty(n_nodes, dtype=np.int64)
    b_start = np.empty(n_nodes + 1, dtype=np.int64)
    b_links = np.empty(tail.shape[0], dtype=np.int64)
    added = np.empty(tail.shape[0], dtype=np.int64)
    b_start2 = np.empty(n_nodes + 1, dtype=np.int64)
    b_links2 = np.empty(tail.shape[0], dtype=np.int64)
    for k in todo:
        how = _bush_origin(k, origins, od_start, od_flow, first_thru, out_start, out_links,
                           in_start, in_links, tail, head, is_open, t0, alpha, beta, cap, fixed,
                           in_bush, bush_flow, volume, cost, deriv, tolerance, inner_passes,
                           orders, n_order, indegree, order, position, low, high, longest, pmin,
                           pmax, reachable, seg_min, seg_max, b_start, b_links, added, b_start2,
                           b_links2)  # fmt: skip
        updates[how] += 1


@njit(cache=True)
def _merge_step(t0, alpha, beta, cap, fixed, volume, delta, changed, n_changed):
    """Step in [0, 1] along the merged change ``delta`` of the threads' origins.

    1 when the Beckmann objective still falls at the full step (its slope there,
    ``sum delta_a c_a(x_a + delta_a)``, is not positive: convex, so it fell all the way);
    else the exact minimiser on the changed links (the others do not move).
    """
    slope = 0.0
    for i in range(n_changed):
        a = changed[i]
        slope += delta[a] * (
            _bpr(t0[a], alpha[a], beta[a], cap[a], volume[a] + delta[a]) + fixed[a]
        )
    if slope <= 0.0:
        return 1.0
    idx = changed[:n_changed]
    start = volume[idx]
    return exact_line_search(t0[idx], alpha[idx], beta[idx], cap[idx], fixed[idx], start,
                             start + delta[idx], 1.0)  # fmt: skip


@njit(cache=True, parallel=True)
def _bush_sweep_parallel(origins, od_start, od_flow, first_thru, out_start, out_links, in_start,
                         in_links, tail, head, is_open, t0, alpha, beta, cap, fixed, in_bush,
                         bush_flow, volume, cost, deriv, tolerance, inner_passes, todo,
                         orders, n_order, updates, n_threads, batch):  # fmt: skip
    """:func:`_bush_sweep` with the origins of each batch on ``n_threads`` threads.

    Within a batch the threads work on private copies of the link volumes and costs
    (each origin Gauss-Seidel on its own copy, the batch Jacobi between threads); after
    the batch the changes are summed. Two threads can push flow onto the same link, so
    the merged change is taken with the step of :func:`_merge_step` (1 unless the
    Beckmann objective would rise at the full step; then the origins of the batch are
    moved back to the best point between their old and new flows). Every batch therefore
    lowers the objective, as a serial sweep does, and a fixed point is an equilibrium.
    Returns the number of batches whose step was shortened.
    """
    n_nodes = out_start.shape[0] - 1
    m = tail.shape[0]
    n_origins = todo.shape[0]
    vol_t = np.empty((n_threads, m))
    cost_t = np.empty((n_threads, m))
    deriv_t = np.empty((n_threads, m))
    for t in range(n_threads):
        vol_t[t] = volume
        cost_t[t] = cost
        deriv_t[t] = deriv
    indegree = np.empty((n_threads, n_nodes), dtype=np.int64)
    order = np.empty((n_threads, n_nodes), dtype=np.int64)
    position = np.empty((n_threads, n_nodes), dtype=np.int64)
    low = np.empty((n_threads, n_nodes))
    high = np.empty((n_threads, n_nodes))
    longest = np.empty((n_threads, n_nodes))
    pmin = np.empty((n_threads, n_nodes), dtype=np.int64)
    pmax = np.empty((n_threads, n_nodes), dtype=np.int64)
    reachable = np.empty((n_threads, n_nodes), dtype=np.bool_)
    seg_min = np.empty((n_threads, n_nodes), dtype=np.int64)
    seg_max = np.empty((n_threads, n_nodes), dtype=np.int64)
    b_start = np.empty((n_threads, n_nodes + 1), dtype=np.int64)
    b_links = np.empty((n_threads, m), dtype=np.int64)
    added = np.empty((n_threads, m), dtype=np.int64)
    b_start2 = np.empty((n_threads, n_nodes + 1), dtype=np.int64)
    b_links2 = np.empty((n_threads, m), dtype=np.int64)
    counts = np.zeros((n_threads, 4), dtype=np.int64)
    saved = np.empty((batch, m))
    delta = np.zeros(m)
    changed = np.empty(m, dtype=np.int64)
    shortened = 0
    for b0 in range(0, n_origins, batch):
        size = min(batch, n_origins - b0)
        for kk in prange(size):
            t = get_thread_id()
            k = todo[b0 + kk]
            saved[kk] = bush_flow[k]
            how = _bush_origin(k, origins, od_start, od_flow, first_thru, out_start, out_links,
                         in_start, in_links, tail, head, is_open, t0, alpha, beta, cap, fixed,
                         in_bush, bush_flow, vol_t[t], cost_t[t], deriv_t[t], tolerance,
                         inner_passes, orders, n_order, indegree[t], order[t], position[t],
                         low[t], high[t], longest[t], pmin[t], pmax[t], reachable[t],
                         seg_min[t], seg_max[t], b_start[t], b_links[t], added[t],
                         b_start2[t], b_links2[t])  # fmt: skip
            counts[t, how] += 1
        n_changed = 0
        for a in range(m):
            d = 0.0
            for t in range(n_threads):
                d += vol_t[t, a] - volume[a]
            if d != 0.0:
                delta[a] = d
                changed[n_changed] = a
                n_changed += 1
        step = _merge_step(t0, alpha, beta, cap, fixed, volume, delta, changed, n_changed)
        if step < 1.0:
            shortened += 1
            for kk in range(size):
                row = bush_flow[todo[b0 + kk]]
                for a in range(m):
                    row[a] = saved[kk, a] + step * (row[a] - saved[kk, a])
        for i in range(n_changed):
            a = changed[i]
            v = max(volume[a] + step * delta[a], 0.0)
            volume[a] = v
            cost[a] = _bpr(t0[a], alpha[a], beta[a], cap[a], v) + fixed[a]
            deriv[a] = _bpr_derivative(t0[a], alpha[a], beta[a], cap[a], v)
            delta[a] = 0.0
            for t in range(n_threads):
                vol_t[t, a] = v
                cost_t[t, a] = cost[a]
                deriv_t[t, a] = deriv[a]
    for t in range(n_threads):
        for how in range(4):
            updates[how] += counts[t, how]
    return shortened


@njit(cache=True)
def _select_link_flows(origins, od_start, od_dest, od_flow, in_bush, bush_flow, out_start,
                       out_links, in_start, in_links, tail, head, link):  # fmt: skip
    """OD flow through ``link`` from the origin-based flows, splitting at nodes in proportion.

    ``share[j]`` is the part of origin flow arriving at node j that used ``link``:
    the flow-weighted mean over the incoming bush links (1 on ``link`` itself).
    """
    n_nodes = out_start.shape[0] - 1
    out = np.zeros(od_dest.shape[0])
    indegree = np.empty(n_nodes, dtype=np.int64)
    order = np.empty(n_nodes, dtype=np.int64)
    position = np.empty(n_nodes, dtype=np.int64)
    share = np.zeros(n_nodes)
    for k in range(origins.shape[0]):
        if bush_flow[k, link] <= 0.0:
            continue
        bush_row = in_bush[k]
        n = _topological_order(origins[k], bush_row, out_start, out_links, head, indegree, order,
                               position)  # fmt: skip
        share[:] = 0.0
        for i in range(1, n):
            j = order[i]
            inflow = 0.0
            through = 0.0
            for e in range(in_start[j], in_start[j + 1]):
                a = in_links[e]
                f = bush_flow[k, a]
                if bush_row[a] and f > 0.0:
                    inflow += f
                    through += f if a == link else f * share[tail[a]]
            share[j] = through / inflow if inflow > 0.0 else 0.0
        for e in range(od_start[k], od_start[k + 1]):
            out[e] = od_flow[e] * share[od_dest[e]]
    return out


def solve_bush_based(
    network,
    loaded: LoadedDemand,
    gap: float = 1e-8,
    max_iter: int = 1000,
    time_limit_s: float | None = None,
    progress: Callable[[float, str], None] | None = None,
    inner_passes: int = 5,
    select_links: list[int] | tuple[int, ...] = (),
    initial_volume: np.ndarray | None = None,
    threads: int | None = None,
    keep_origin_flows: bool = False,
    initial_bushes: BushState | None = None,
    keep_bushes: bool = False,
    lazy_share: float = LAZY_SHARE,
) -> LinkSolution:
    """Algorithm B until the relative gap (AequilibraE's definition), iteration or time limit.

    With ``initial_volume`` the first bushes are the shortest-path trees at the costs of
    those flows (congested costs of a previous equilibrium) instead of free-flow trees.
    ``threads``: origins processed at once (default: numba's thread count from
    :data:`PARALLEL_MIN_LINKS` links on, else 1); 1 runs the serial reference sweep
    :func:`_bush_sweep`, more the batched :func:`_bush_sweep_parallel`.
    With ``keep_origin_flows`` the solution carries the per-origin link flows (the
    origin-based decomposition that OD matrix estimation reads its link-OD shares from).
    ``initial_bushes``: start from these bushes and origin flows (one row per loaded
    origin, same order; they must be a feasible, acyclic state of this demand, as
    :func:`simulators.traffic.warm.reassign` prepares them); ``keep_bushes`` returns the
    final state in ``LinkSolution.bushes``. ``lazy_share``: a sweep visits only the
    origins whose excess cost (bush flow x cost minus demand x shortest-path cost, their
    part of the gap) is at least this share of the mean excess per origin (0: all).
    """
    if threads is None:
        n_threads = get_num_threads() if network.n_links >= PARALLEL_MIN_LINKS else 1
    else:
        n_threads = int(threads)
    if not 1 <= n_threads <= get_num_threads():
        raise ValueError(f"threads must be between 1 and {get_num_threads()}, got {threads}")
    net = network
    n_origins = len(loaded.origins)
    if n_origins * net.n_links > MAX_BUSH_ENTRIES:
        raise ValueError(
            f"bush storage of {n_origins} origins x {net.n_links} links is too large; "
            "use algorithm='bfw' or fewer zones"
        )
    t0, alpha, beta, cap = net.free_flow_time, net.alpha, net.beta, net.capacity
    fixed = net.fixed_cost
    in_start, in_links = in_links_csr(net)
    started = time.perf_counter()
    volume = np.zeros(net.n_links)
    cost = np.empty(net.n_links)
    deriv = np.empty(net.n_links)
    aon = np.empty(net.n_links)
    if initial_bushes is not None:
        if not np.array_equal(initial_bushes.origins, loaded.origins) or (
            initial_bushes.flow.shape != (n_origins, net.n_links)
        ):
            raise ValueError("initial_bushes: one row per loaded origin, same order, expected")
        in_bush = initial_bushes.in_bush
        bush_flow = initial_bushes.flow
        volume[:] = bush_flow.sum(axis=0)
    else:
        in_bush = np.zeros((n_origins, net.n_links), dtype=np.bool_)
        bush_flow = np.zeros((n_origins, net.n_links))
        link_costs(t0, alpha, beta, cap, fixed,
                   volume if initial_volume is None else initial_volume, cost)  # fmt: skip
        _init_bushes(
            net.out_start, net.out_links, net.tail, net.head, cost, net.first_thru_node,
            loaded.origins, loaded.start, loaded.destination, loaded.flow, in_bush, bush_flow,
            volume,
        )  # fmt: skip
    # each bush's topological order, kept between sweeps (sorted on an origin's first visit)
    orders = np.zeros((n_origins, net.n_nodes), dtype=np.int32)
    n_order = np.zeros(n_origins, dtype=np.int64)
    history = new_history()
    relative_gap = np.inf
    stop_reason = "max_iter"
    iteration = 0
    while True:
        link_costs(t0, alpha, beta, cap, fixed, volume, cost)
        od_cost = all_or_nothing(
            net.out_start, net.out_links, net.tail, net.head, cost, net.first_thru_node,
            loaded.origins, loaded.start, loaded.destination, loaded.flow, aon,
        )  # fmt: skip
        total_cost = float(np.dot(volume, cost))
        sp_cost = float(np.dot(loaded.flow, od_cost))
        relative_gap = (total_cost - sp_cost) / total_cost if total_cost > 0 else 0.0
        # each origin's part of the gap: its bush flow at the costs minus its trips at the
        # shortest-path costs (both exact, so the sum is the gap's numerator); only lazy
        # sweeps read it (origins x links multiply-adds: 0.1 G at 200k links)
        if lazy_share > 0.0:
            sp_by_origin = np.add.reduceat(loaded.flow * od_cost, loaded.start[:-1])
            excess = bush_flow @ cost - sp_by_origin
        elapsed = time.perf_counter() - started
        history["relative_gap"].append(relative_gap)
        history["objective"].append(beckmann_objective(t0, alpha, beta, cap, fixed, volume))
        history["tstt"].append(total_cost - float(np.dot(volume, fixed)))
        history["seconds"].append(elapsed)
        history["step"].append(np.nan)
        if progress is not None:
            progress(_progress_fraction(relative_gap, gap, iteration, max_iter), "equilibrium")
        if relative_gap <= gap:
            stop_reason = "gap"
            break
        if iteration >= max_iter:
            break
        if time_limit_s is not None and elapsed >= time_limit_s:
            stop_reason = "time_limit"
            break
        iteration += 1
        # shift flow only where a path segment is dearer than the cheapest by a share of the
        # mean excess cost per trip: cheap early sweeps, precise late ones
        mean_trip_cost = sp_cost / max(float(loaded.flow.sum()), 1e-300)
        tolerance = max(TOLERANCE_SHARE * relative_gap * mean_trip_cost, 1e-15 * mean_trip_cost)
        link_cost_derivs(net, volume, deriv)
        if lazy_share > 0.0:
            todo = np.flatnonzero(excess >= lazy_share * max(excess.sum(), 0.0) / n_origins)
        else:
            todo = np.arange(n_origins)  # every origin (rounding can make an excess < 0)
        history.setdefault("origins_swept", []).append(len(todo))
        updates = np.zeros(4, dtype=np.int64)
        arguments = (
            loaded.origins, loaded.start, loaded.flow, net.first_thru_node, net.out_start,
            net.out_links, in_start, in_links, net.tail, net.head, net.open, t0, alpha, beta, cap,
            fixed, in_bush, bush_flow, volume, cost, deriv, tolerance, inner_passes, todo,
            orders, n_order, updates,
        )  # fmt: skip
        if n_threads == 1:
            _bush_sweep(*arguments)
        else:
            # one origin per thread per batch: the least staleness between threads
            with parallel_chunksize(1):
                shortened = _bush_sweep_parallel(
                    *arguments, n_threads, n_threads * BATCH_PER_THREAD
                )
            history.setdefault("shortened_batches", []).append(shortened)
        # origins per sweep whose bush order was re-sorted (over the bush's links or, after
        # a cycle, over the network); the rest kept theirs
        history.setdefault("resorted_bushes", []).append(int(updates[2] + updates[3]))
    link_costs(t0, alpha, beta, cap, fixed, volume, cost)
    select_flows = {
        int(link): _select_link_flows(
            loaded.origins,
            loaded.start,
            loaded.destination,
            loaded.flow,
            in_bush,
            bush_flow,
            net.out_start,
            net.out_links,
            in_start,
            in_links,
            net.tail,
            net.head,
            int(link),
        )  # fmt: skip
        for link in select_links
    }
    return LinkSolution(
        volume=volume,
        cost=cost,
        iterations=iteration,
        relative_gap=float(relative_gap),
        converged=stop_reason == "gap",
        stop_reason=stop_reason,
        history=history,
        select_link_flows=select_flows,
        origin_flow=bush_flow if keep_origin_flows else None,
        bushes=BushState(loaded.origins.copy(), in_bush, bush_flow) if keep_bushes else None,
    )


def link_cost_derivs(net, volume, out) -> None:
    """Derivatives of the BPR cost at ``volume`` into ``out``."""
    from .costs import link_cost_derivatives

    link_cost_derivatives(net.free_flow_time, net.alpha, net.beta, net.capacity, volume, out)
