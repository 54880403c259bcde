"""Compiled shortest-path trees and all-or-nothing loading.

Label-setting (Dijkstra) with a binary heap over the CSR-by-tail network. The
TNTP first-thru-node rule is applied while scanning: a settled node below
``first_thru_node`` other than the origin is never expanded, so no path passes
through a zone. All origins of one all-or-nothing load run inside one compiled
call (no process start-up per iteration).

:func:`all_or_nothing` spreads the origins over numba's threads (``prange``;
``NUMBA_NUM_THREADS`` caps them); each thread loads its own volume row and the rows
are summed at the end, so the result does not depend on the thread count beyond
floating-point summation order. Its trees walk a copy of the network in CSR order
(head and cost of the links leaving a node stored side by side), which halves the
cache misses of the indirect ``head[out_links[k]]`` reads.
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, get_thread_id, njit, parallel_chunksize, prange

__all__ = [
    "shortest_path_tree",
    "all_or_nothing",
    "all_or_nothing_serial",
    "all_or_nothing_select",
    "shortest_path_tree_reference",
]

INF = np.inf


@njit(cache=True)
def _heap_push(keys, nodes, size, key, node):
    i = size
    keys[i] = key
    nodes[i] = node
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node
    return size + 1


@njit(cache=True)
def _heap_pop(keys, nodes, size):
    """Remove the root; the caller read keys[0], nodes[0] before. Returns new size."""
    size -= 1
    if size == 0:
        return 0
    key = keys[size]
    node = nodes[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i] = keys[child]
        nodes[i] = nodes[child]
        i = child
    keys[i] = key
    nodes[i] = node
    return size


@njit(cache=True)
def _sp_tree(
    origin, out_start, out_links, head, cost, first_thru, dist, pred, order, heap_keys, heap_nodes
):
    """Dijkstra from ``origin``; fills dist, pred (link index, -1) and settle order.

    ``dist`` must be +inf and ``pred`` -1 on entry for every node. Returns the
    number of settled nodes (``order[:n]`` in non-decreasing distance).
    """
    dist[origin] = 0.0
    size = _heap_push(heap_keys, heap_nodes, 0, 0.0, origin)
    n_settled = 0
    while size > 0:
        d = heap_keys[0]
        u = heap_nodes[0]
        size = _heap_pop(heap_keys, heap_nodes, size)
        if d > dist[u]:
            continue  # stale heap entry (lazy deletion)
        order[n_settled] = u
        n_settled += 1
        if u < first_thru and u != origin:
            continue  # zones may end paths but not carry them through
        for k in range(out_start[u], out_start[u + 1]):
            link = out_links[k]
            v = head[link]
            nd = d + cost[link]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = link
                size = _heap_push(heap_keys, heap_nodes, size, nd, v)
    return n_settled


@njit(cache=True)
def _tree_buffers(n_nodes, n_links):
    dist = np.full(n_nodes, INF)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    order = np.empty(n_nodes, dtype=np.int64)
    heap_keys = np.empty(n_links + n_nodes + 1)
    heap_nodes = np.empty(n_links + n_nodes + 1, dtype=np.int64)
    return dist, pred, order, heap_keys, heap_nodes


@njit(cache=True)
def shortest_path_tree(origin, out_start, out_links, head, cost, first_thru):
    """Shortest-path tree from one origin.

    Returns
    -------
    dist : cost to every node (inf where unreachable).
    pred : link entering each node on its shortest path (-1 at origin/unreachable).
    """
    n_nodes = out_start.shape[0] - 1
    dist, pred, order, hk, hn = _tree_buffers(n_nodes, head.shape[0])
    _sp_tree(origin, out_start, out_links, head, cost, first_thru, dist, pred, order, hk, hn)
    return dist, pred


@njit(cache=True)
def _aon(
    out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow,
    volume, link_bit, od_bits, track,
):  # fmt: skip
    n_nodes = out_start.shape[0] - 1
    volume[:] = 0.0
    od_cost = np.empty(od_dest.shape[0])
    dist, pred, order, hk, hn = _tree_buffers(n_nodes, head.shape[0])
    node_flow = np.zeros(n_nodes)
    node_bits = np.zeros(n_nodes, dtype=np.int64)
    for k in range(origins.shape[0]):
        origin = origins[k]
        dist[:] = INF
        pred[:] = -1
        n = _sp_tree(
            origin, out_start, out_links, head, cost, first_thru, dist, pred, order, hk, hn
        )
        if track:
            # which selected links lie on the path to each node (bit per selected link)
            node_bits[origin] = 0
            for i in range(1, n):
                v = order[i]
                node_bits[v] = node_bits[tail[pred[v]]] | link_bit[pred[v]]
        for e in range(od_start[k], od_start[k + 1]):
            dest = od_dest[e]
            od_cost[e] = dist[dest]
            if dist[dest] < INF:
                node_flow[dest] += od_flow[e]
                if track:
                    od_bits[e] = node_bits[dest]
        # Walk the tree leaves-to-root once: every node passes its accumulated
        # flow to its predecessor link, O(nodes) per origin instead of O(path) per OD.
        for i in range(n - 1, 0, -1):
            v = order[i]
            f = node_flow[v]
            if f != 0.0:
                link = pred[v]
                volume[link] += f
                node_flow[tail[link]] += f
                node_flow[v] = 0.0
        node_flow[origin] = 0.0
    return od_cost


@njit(cache=True)
def all_or_nothing_serial(
    out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow, volume
):
    """One-thread :func:`all_or_nothing` over the link-indexed arrays (the reference kernel).

    Parameters
    ----------
    out_start, out_links : CSR of open links by tail node.
    tail, head, cost : per-link arrays.
    first_thru : first node index that paths may pass through.
    origins, od_start, od_dest, od_flow : demand in CSR by origin.
    volume : output, per-link volume (overwritten).

    Returns
    -------
    od_cost : shortest-path cost of every OD entry (inf when unreachable).
    """
    no_bits = np.zeros(0, dtype=np.int64)
    return _aon(
        out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow,
        volume, no_bits, no_bits, False,
    )  # fmt: skip


@njit(cache=True)
def all_or_nothing_select(
    out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow,
    volume, link_bit, od_bits,
):  # fmt: skip
    """:func:`all_or_nothing` that also reports, per OD entry, the selected links on its path.

    ``link_bit[a]`` is ``1 << s`` for the s-th selected link (0 otherwise); ``od_bits[e]``
    receives the OR of the bits along the path of entry ``e``.
    """
    od_bits[:] = 0
    return _aon(
        out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow,
        volume, link_bit, od_bits, True,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _sift_up4(keys, nodes, slot, i):
    key = keys[i]
    node = nodes[i]
    while i > 0:
        parent = (i - 1) >> 2
        if keys[parent] < key or (keys[parent] == key and nodes[parent] < node):
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        slot[nodes[i]] = i
        i = parent
    keys[i] = key
    nodes[i] = node
    slot[node] = i


@njit(cache=True, inline="always")
def _sift_down4(keys, nodes, slot, size):
    key = keys[0]
    node = nodes[0]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        best = first
        best_key = keys[first]
        for c in range(first + 1, min(first + 4, size)):
            if keys[c] < best_key or (keys[c] == best_key and nodes[c] < nodes[best]):
                best_key = keys[c]
                best = c
        if best_key > key or (best_key == key and nodes[best] > node):
            break
        keys[i] = best_key
        nodes[i] = nodes[best]
        slot[nodes[i]] = i
        i = best
    keys[i] = key
    nodes[i] = node
    slot[node] = i


@njit(cache=True)
def _sp_tree_csr(origin, out_start, csr_head, csr_cost, first_thru, dist, pred, order, keys,
                 nodes, slot, wanted, stamp, n_wanted):  # fmt: skip
    """:func:`_sp_tree` on CSR-ordered arrays; ``pred`` holds CSR positions, not link ids.

    The heap is 4-ary and indexed (``slot[v]`` = place of v in it) with decrease-key, so
    it never holds more than one entry per node: 1.4-1.7x faster than the lazy binary heap
    of :func:`_sp_tree` on a 20k-link city. Equal labels settle in node order, so ties
    (integer TNTP times) resolve the same way whatever the heap's shape. ``dist`` must be
    +inf on entry; a node is in
    the heap exactly when its label is finite and it is not settled (settled labels never
    improve with non-negative costs). Stops once the ``n_wanted`` nodes with
    ``wanted[v] == stamp`` are settled (the destinations of this origin): nodes past the
    farthest destination carry no flow.
    """
    dist[origin] = 0.0
    keys[0] = 0.0
    nodes[0] = origin
    slot[origin] = 0
    size = 1
    n_settled = 0
    while size > 0:
        d = keys[0]
        u = nodes[0]
        size -= 1
        if size > 0:
            keys[0] = keys[size]
            nodes[0] = nodes[size]
            _sift_down4(keys, nodes, slot, size)
        order[n_settled] = u
        n_settled += 1
        if wanted[u] == stamp:
            n_wanted -= 1
            if n_wanted == 0:
                break
        if u < first_thru and u != origin:
            continue  # zones may end paths but not carry them through
        for k in range(out_start[u], out_start[u + 1]):
            v = csr_head[k]
            nd = d + csr_cost[k]
            if nd < dist[v]:
                if dist[v] == INF:
                    keys[size] = nd
                    nodes[size] = v
                    size += 1
                    i = size - 1
                else:
                    i = slot[v]
                    keys[i] = nd
                dist[v] = nd
                pred[v] = k
                _sift_up4(keys, nodes, slot, i)
    return n_settled


@njit(cache=True, parallel=True)
def _aon_parallel(out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest,
                  od_flow, volume, n_threads):  # fmt: skip
    n_nodes = out_start.shape[0] - 1
    m = out_links.shape[0]
    csr_head = np.empty(m, dtype=np.int64)
    csr_tail = np.empty(m, dtype=np.int64)
    csr_cost = np.empty(m)
    for k in range(m):
        link = out_links[k]
        csr_head[k] = head[link]
        csr_tail[k] = tail[link]
        csr_cost[k] = cost[link]
    od_cost = np.empty(od_dest.shape[0])
    # one row of every buffer per thread; origins are handed out one at a time (dynamic
    # chunks), so a thread the OS descheduled on a busy machine does not hold the rest up
    rows = np.zeros((n_threads, m))
    dist = np.empty((n_threads, n_nodes))
    pred = np.empty((n_threads, n_nodes), dtype=np.int64)
    order = np.empty((n_threads, n_nodes), dtype=np.int64)
    node_flow = np.zeros((n_threads, n_nodes))
    hk = np.empty((n_threads, n_nodes))
    hn = np.empty((n_threads, n_nodes), dtype=np.int64)
    slot = np.empty((n_threads, n_nodes), dtype=np.int64)
    wanted = np.full((n_threads, n_nodes), -1, dtype=np.int64)
    for kk in prange(origins.shape[0]):
        t = get_thread_id()
        origin = origins[kk]
        d = dist[t]
        d[:] = INF
        n_wanted = 0
        for e in range(od_start[kk], od_start[kk + 1]):
            if wanted[t, od_dest[e]] != kk:
                wanted[t, od_dest[e]] = kk
                n_wanted += 1
        n = _sp_tree_csr(origin, out_start, csr_head, csr_cost, first_thru, d, pred[t], order[t],
                         hk[t], hn[t], slot[t], wanted[t], kk, n_wanted)  # fmt: skip
        nf = node_flow[t]
        row = rows[t]
        p = pred[t]
        o = order[t]
        for e in range(od_start[kk], od_start[kk + 1]):
            dest = od_dest[e]
            od_cost[e] = d[dest]
            if d[dest] < INF:
                nf[dest] += od_flow[e]
        for i in range(n - 1, 0, -1):
            v = o[i]
            f = nf[v]
            if f != 0.0:
                k = p[v]
                row[k] += f
                nf[csr_tail[k]] += f
                nf[v] = 0.0
        nf[origin] = 0.0
    volume[:] = 0.0
    for k in range(m):
        total = 0.0
        for c in range(n_threads):
            total += rows[c, k]
        volume[out_links[k]] = total
    return od_cost


def all_or_nothing(
    out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest, od_flow, volume
):
    """Load every OD flow onto its shortest path at fixed link costs (origins over threads).

    Parameters
    ----------
    out_start, out_links : CSR of open links by tail node.
    tail, head, cost : per-link arrays.
    first_thru : first node index that paths may pass through.
    origins, od_start, od_dest, od_flow : demand in CSR by origin.
    volume : output, per-link volume (overwritten; closed links get 0).

    Returns
    -------
    od_cost : shortest-path cost of every OD entry (inf when unreachable).
    """
    with parallel_chunksize(1):
        return _aon_parallel(
            out_start, out_links, tail, head, cost, first_thru, origins, od_start, od_dest,
            od_flow, volume, get_num_threads(),
        )  # fmt: skip


def shortest_path_tree_reference(
    n_nodes: int, tail, head, cost, first_thru: int, origin: int, is_open=None
):
    """Slow, obvious Dijkstra (heapq) used to test the compiled kernel."""
    import heapq

    out: dict[int, list[int]] = {}
    for link, (u, is_on) in enumerate(
        zip(tail, is_open if is_open is not None else [True] * len(tail))
    ):
        if is_on:
            out.setdefault(int(u), []).append(link)
    dist = np.full(n_nodes, np.inf)
    dist[origin] = 0.0
    heap = [(0.0, origin)]
    done = np.zeros(n_nodes, dtype=bool)
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        if u < first_thru and u != origin:
            continue
        for link in out.get(u, []):
            v = int(head[link])
            if d + cost[link] < dist[v]:
                dist[v] = d + cost[link]
                heapq.heappush(heap, (dist[v], v))
    return dist
