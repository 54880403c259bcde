"""Shortest-path trees towards destination sets (numba Dijkstra on link arrays).

A tree gives, for every node, the next link on a quickest path to the nearest node of a
destination set; vehicles in the loading model follow the tree of their destination, so one
tree serves every vehicle heading there.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from simulators.dynamics.network import LinkNetwork


@njit(cache=True)
def _heap_push(keys, vals, size, key, val):
    i = size
    keys[i] = key
    vals[i] = val
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= keys[i]:
            break
        keys[parent], keys[i] = keys[i], keys[parent]
        vals[parent], vals[i] = vals[i], vals[parent]
        i = parent
    return size + 1


@njit(cache=True)
def _heap_pop(keys, vals, size):
    key = keys[0]
    val = vals[0]
    size -= 1
    keys[0] = keys[size]
    vals[0] = vals[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        if left + 1 < size and keys[left + 1] < keys[left]:
            child = left + 1
        if keys[i] <= keys[child]:
            break
        keys[child], keys[i] = keys[i], keys[child]
        vals[child], vals[i] = vals[i], vals[child]
        i = child
    return key, val, size


@njit(cache=True)
def tree_to_targets(link_from, in_ptr, in_links, link_cost, is_target):
    """Reverse Dijkstra from all target nodes at once.

    Parameters
    ----------
    link_from : tail node of each link.
    in_ptr, in_links : CSR of links ending at each node.
    link_cost : cost of each link (s); ``inf`` marks a closed link.
    is_target : bool per node.

    Returns
    -------
    next_link : int32 per node, the first link of a cheapest path to a target (-1 at
        targets and where no target is reachable).
    dist : cost to the nearest target per node (``inf`` when unreachable).
    """
    n = is_target.shape[0]
    dist = np.full(n, np.inf)
    next_link = np.full(n, -1, dtype=np.int32)
    done = np.zeros(n, dtype=np.bool_)
    cap = link_from.shape[0] + n + 1
    keys = np.empty(cap)
    vals = np.empty(cap, dtype=np.int64)
    size = 0
    for v in range(n):
        if is_target[v]:
            dist[v] = 0.0
            size = _heap_push(keys, vals, size, 0.0, v)
    while size > 0:
        d, v, size = _heap_pop(keys, vals, size)
        if done[v]:
            continue
        done[v] = True
        for j in range(in_ptr[v], in_ptr[v + 1]):
            link = in_links[j]
            c = link_cost[link]
            if not np.isfinite(c):
                continue
            u = link_from[link]
            nd = d + c
            if nd < dist[u]:
                dist[u] = nd
                next_link[u] = link
                size = _heap_push(keys, vals, size, nd, u)
    return next_link, dist


def trees(
    net: LinkNetwork, link_cost: np.ndarray, target_masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Trees for several destination sets.

    Parameters
    ----------
    net : the network.
    link_cost : (n_links,) link costs in seconds (``inf`` = closed).
    target_masks : (n_groups, n_nodes) bool.

    Returns
    -------
    next_link : (n_groups, n_nodes) int32; dist : (n_groups, n_nodes) seconds.
    """
    pointer, links = net.in_links_csr()
    groups = target_masks.shape[0]
    next_link = np.full((groups, net.n_nodes), -1, dtype=np.int32)
    dist = np.full((groups, net.n_nodes), np.inf)
    for g in range(groups):
        next_link[g], dist[g] = tree_to_targets(
            net.link_from, pointer, links, np.asarray(link_cost, float), target_masks[g]
        )
    return next_link, dist
