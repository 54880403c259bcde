"""Spatial-queue dynamic network loading (mesoscopic, time step of a few seconds).

Model
-----
Each directed link is a FIFO queue.  A vehicle entering a link at time ``t`` may leave it at
``t + length / free-flow speed`` at the earliest (continuous time, so short links add no
rounding delay).  Per time step ``dt`` a link lets out at most ``capacity x dt`` vehicles and
takes in at most as many (fractional capacities accumulate as credit, capped just below
``max(1, capacity x dt) + 1``, so at most ``ceil(capacity x dt)`` leave in one step), and it never holds more than its storage (length x lanes x jam
density): a full link blocks the head vehicle upstream, which blocks everything behind it
(first-in-first-out), so queues spill back over junctions.  Links shorter than a threshold
are point queues (no storage limit) so the many tiny OSM junction links cannot lock each
other.  At a node, incoming links (and the vehicles starting there) take turns one vehicle
at a time, from a rotating first link, which shares the downstream supply evenly.

Routing: every vehicle belongs to a destination group (a node set: the safe area, one
shelter, ...) and follows that group's shortest-path tree; the trees are recomputed on
current travel times (free-flow time + queue / capacity) every ``reroute_interval_s``, so a
vehicle takes the quickest path known at departure and is re-routed en route.  A destination
group may have a capacity in persons (a shelter); a vehicle that finds it full is sent to the
next group of its fallback list with room (then to the fallback group, e.g. the safe area).

A vehicle whose next link is blocked may take another link that leads strictly closer to its
destination at little detour (``detour_ratio``), as drivers pick the open exit; this is what
spreads a crowd over equivalent exits between tree updates.

Vehicles that cannot reach their destination (no path, once no closure is left to lift) or
are still on the network at the horizon are reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from simulators.dynamics.network import LinkNetwork
from simulators.dynamics.routing import trees

#: credit cap above max(1, capacity x dt): a saturated link keeps its fractional remainder
#: (it is always below one vehicle), while an idle link cannot save up a burst
_SLACK = 1.0 - 1e-9

#: vehicle status codes
WAITING, AT_ORIGIN, ON_LINK, ARRIVED, NO_ROUTE = 0, 1, 2, 3, 4
STATUS_NAMES = {
    WAITING: "not departed",
    AT_ORIGIN: "waiting at origin",
    ON_LINK: "on a link",
    ARRIVED: "arrived",
    NO_ROUTE: "no route",
}


@dataclass
class Demand:
    """Vehicles (or walkers) to load.

    Attributes
    ----------
    origin : node index of each vehicle's start.
    depart_s : departure time (s from the start of the simulation).
    group : destination group of each vehicle (row of ``target_masks``).
    size : persons carried (shelter loads and person counts), default 1.
    """

    origin: np.ndarray
    depart_s: np.ndarray
    group: np.ndarray
    size: np.ndarray | None = None


@dataclass
class Destinations:
    """Destination groups.

    Attributes
    ----------
    target_masks : (n_groups, n_nodes) bool; a vehicle of group ``g`` arrives at any node of
        row ``g``.
    capacity : persons each group can take (``inf`` = unlimited), e.g. shelter places.
    fallback : (n_groups, k) int32, groups to try, in order, when ``g`` is full (-1 padded).
    overflow_group : group used when every fallback is full (-1: none, the vehicle stays).
    """

    target_masks: np.ndarray
    capacity: np.ndarray | None = None
    fallback: np.ndarray | None = None
    overflow_group: int = -1


@dataclass
class LoadingParams:
    """Simulation settings.

    Attributes
    ----------
    dt_s : time step (s).
    horizon_s : simulated time (s); the run stops earlier when every vehicle is done.
    max_horizon_s : when set, a run that still has vehicles on the way (or not yet departed)
        at ``horizon_s`` goes on, the horizon doubling each time, up to this hard cap (s);
        ``LoadingResult.capped`` says when the cap stopped it.
    reroute_interval_s : period of tree updates on current travel times (s); ``None`` or
        ``inf`` keeps the free-flow trees of the start (shortest path at departure on an empty
        network).
    sample_interval_s : period of the queue statistics (s).
    record_occupancy : keep the vehicles on every link at every sample (for a replay of the
        run; memory: samples x links x 4 bytes).
    detour_ratio : a vehicle whose next link is blocked (no inflow capacity or full) takes
        another outgoing link that leads strictly closer to its destination if the path
        through it is at most ``1 + detour_ratio`` times the best; 0 disables this.
    """

    dt_s: float = 5.0
    horizon_s: float = 4 * 3600.0
    max_horizon_s: float | None = None
    reroute_interval_s: float | None = 300.0
    sample_interval_s: float = 60.0
    detour_ratio: float = 0.2
    record_occupancy: bool = False


@dataclass
class CapacityEvent:
    """From ``start_s`` to ``end_s`` the links get capacity x ``factor`` (0 = closed)."""

    links: np.ndarray
    start_s: float
    end_s: float = np.inf
    factor: float = 0.0


@dataclass
class LoadingResult:
    """Per-vehicle outcome and per-link queue statistics.

    Attributes
    ----------
    arrival_s : arrival time per vehicle (``nan`` when not arrived).
    status : status code per vehicle (see ``STATUS_NAMES``).
    final_group : destination group where each vehicle arrived (or was heading).
    last_link : link each vehicle was on at the end (-1 when never on a link).
    queue_max_veh : largest queue sampled on each link (vehicles that finished their
        free-flow traversal but could not leave).
    queue_duration_s : time with a queue on each link (s, from the samples).
    simulated_s : time simulated.
    horizon_s : horizon reached (s): ``params.horizon_s``, or more when it was extended.
    capped : vehicles were still on the way when the hard cap ``max_horizon_s`` (or, without
        one, ``horizon_s``) stopped the run.
    occupancy_veh : vehicles on each link at each sample, ``(samples, links)`` int32, row ``k``
        at ``(k + 1) * sample_interval_s``; empty unless ``record_occupancy``.
    """

    arrival_s: np.ndarray
    status: np.ndarray
    final_group: np.ndarray
    last_link: np.ndarray
    queue_max_veh: np.ndarray
    queue_duration_s: np.ndarray
    simulated_s: float
    occupancy_veh: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int32))
    horizon_s: float = 0.0
    capped: bool = False

    @property
    def not_arrived(self) -> np.ndarray:
        return np.flatnonzero(self.status != ARRIVED)


@njit(cache=True)
def _refresh_credit(link, step, link_cap, out_credit, in_credit, credit_step):
    last = credit_step[link]
    if last < step:
        r = link_cap[link]
        top = max(1.0, r) + _SLACK if r > 0.0 else 0.0
        add = r * (step - last)
        out_credit[link] = min(out_credit[link] + add, top)
        in_credit[link] = min(in_credit[link] + add, top)
        credit_step[link] = step


@njit(cache=True)
def _process_node(
    n,
    step,
    t0,
    t1,
    link_to,
    link_fft,
    link_cap,
    link_storage,
    link_head,
    link_tail,
    link_count,
    out_credit,
    in_credit,
    credit_step,
    in_ptr,
    in_links,
    origin_head,
    origin_tail,
    veh_next,
    veh_link,
    veh_group,
    veh_ready,
    veh_arrival,
    veh_size,
    veh_status,
    next_link,
    is_target,
    group_room,
    fallback,
    overflow_group,
    state,
    work_stack,
    work_flag,
    node_turn,
    out_ptr,
    out_links,
    dist,
    link_cost,
    detour_ratio,
    drop_unroutable,
):
    first = in_ptr[n]
    deg = in_ptr[n + 1] - first
    k = deg + 1  # slot ``deg`` is the queue of vehicles starting at this node
    progress = True
    while progress:
        progress = False
        start = node_turn[n]
        for j in range(k):
            idx = start + j
            if idx >= k:
                idx -= k
            src = -1
            if idx == deg:
                v = origin_head[n]
                if v == -1:
                    continue
            else:
                src = in_links[first + idx]
                v = link_head[src]
                if v == -1 or veh_ready[v] > t1:
                    continue
                _refresh_credit(src, step, link_cap, out_credit, in_credit, credit_step)
                if out_credit[src] < 1.0:
                    continue
            g = veh_group[v]
            arrive = False
            # a full destination (shelter) sends the vehicle on to the next one with room
            while is_target[g, n]:
                if group_room[g] >= veh_size[v] - 1e-9:
                    arrive = True
                    break
                g_next = -1
                for f in range(fallback.shape[1]):
                    h = fallback[g, f]
                    if h >= 0 and group_room[h] >= veh_size[v] - 1e-9:
                        g_next = h
                        break
                if g_next == -1:
                    g_next = overflow_group
                if g_next == -1 or g_next == g:
                    break
                g = g_next
                veh_group[v] = g
            nl = -1
            if not arrive:
                nl = next_link[g, n]
                if nl < 0 and not drop_unroutable:
                    continue  # no route now; a closure will lift, so wait
                if nl >= 0:
                    _refresh_credit(nl, step, link_cap, out_credit, in_credit, credit_step)
                    if in_credit[nl] < 1.0 or link_count[nl] + 1.0 > link_storage[nl]:
                        # blocked: take another link that also leads closer to the
                        # destination within the detour tolerance, else wait (FIFO)
                        best = -1
                        best_cost = dist[g, n] * (1.0 + detour_ratio) + 1e-9
                        for jj in range(out_ptr[n], out_ptr[n + 1]):
                            alt = out_links[jj]
                            if alt == nl or link_cap[alt] <= 0.0:
                                continue
                            rest = dist[g, link_to[alt]]
                            if not rest < dist[g, n]:
                                continue  # must get strictly closer: no loops
                            c = link_cost[alt] + rest  # free-flow time of the detour link
                            if c > best_cost:
                                continue
                            _refresh_credit(alt, step, link_cap, out_credit, in_credit, credit_step)
                            if in_credit[alt] >= 1.0 and link_count[alt] + 1.0 <= link_storage[alt]:
                                best = alt
                                best_cost = c
                        if best < 0:
                            continue
                        nl = best
            # pop v from its source queue
            if src == -1:
                origin_head[n] = veh_next[v]
                if origin_head[n] == -1:
                    origin_tail[n] = -1
            else:
                link_head[src] = veh_next[v]
                if link_head[src] == -1:
                    link_tail[src] = -1
                link_count[src] -= 1
                out_credit[src] -= 1.0
            veh_next[v] = -1
            t_exit = max(veh_ready[v], t0)
            progress = True
            node_turn[n] = idx + 1 if idx + 1 < k else 0  # the next source goes first
            if arrive:
                veh_status[v] = 3
                veh_arrival[v] = t_exit
                group_room[g] -= veh_size[v]
                state[1] += 1
                continue
            if nl < 0:
                veh_status[v] = 4  # no route to the destination from here
                state[2] += 1
                continue
            # push v onto link nl
            if link_tail[nl] == -1:
                link_head[nl] = v
            else:
                veh_next[link_tail[nl]] = v
            link_tail[nl] = v
            link_count[nl] += 1
            in_credit[nl] -= 1.0
            veh_link[v] = nl
            veh_status[v] = 2
            veh_ready[v] = t_exit + link_fft[nl]
            if veh_ready[v] <= t1:
                m = link_to[nl]
                if not work_flag[m]:
                    work_flag[m] = True
                    work_stack[state[3]] = m
                    state[3] += 1


@njit(cache=True)
def _advance(
    step0,
    step1,
    dt,
    sample_every,
    link_to,
    link_fft,
    link_cap,
    link_storage,
    link_head,
    link_tail,
    link_count,
    out_credit,
    in_credit,
    credit_step,
    in_ptr,
    in_links,
    origin_head,
    origin_tail,
    veh_next,
    veh_link,
    veh_group,
    veh_ready,
    veh_arrival,
    veh_size,
    veh_status,
    veh_origin,
    depart_order,
    depart_sorted,
    next_link,
    is_target,
    group_room,
    fallback,
    overflow_group,
    state,
    queue_now,
    queue_max,
    queue_time,
    node_turn,
    out_ptr,
    out_links,
    dist,
    link_cost,
    detour_ratio,
    drop_unroutable,
    occupancy,
):
    """Advance steps ``step0 .. step1-1``; returns the first step not simulated."""
    n_nodes = in_ptr.shape[0] - 1
    n_links = link_to.shape[0]
    n_veh = depart_order.shape[0]
    work_stack = np.empty(n_nodes, dtype=np.int64)
    work_flag = np.zeros(n_nodes, dtype=np.bool_)
    step = step0
    while step < step1:
        t0 = step * dt
        t1 = t0 + dt
        state[3] = 0
        p = state[0]
        while p < n_veh and depart_sorted[p] <= t1:
            v = depart_order[p]
            n = veh_origin[v]
            veh_status[v] = 1
            veh_ready[v] = depart_sorted[p]
            veh_next[v] = -1
            if origin_tail[n] == -1:
                origin_head[n] = v
            else:
                veh_next[origin_tail[n]] = v
            origin_tail[n] = v
            p += 1
        state[0] = p
        for n in range(n_nodes):
            busy = origin_head[n] != -1
            if not busy:
                for j in range(in_ptr[n], in_ptr[n + 1]):
                    h = link_head[in_links[j]]
                    if h != -1 and veh_ready[h] <= t1:
                        busy = True
                        break
            if busy:
                _process_node(
                    n, step, t0, t1, link_to, link_fft, link_cap, link_storage, link_head,
                    link_tail, link_count, out_credit, in_credit, credit_step, in_ptr,
                    in_links, origin_head, origin_tail, veh_next, veh_link, veh_group,
                    veh_ready, veh_arrival, veh_size, veh_status, next_link, is_target,
                    group_room, fallback, overflow_group, state, work_stack, work_flag,
                    node_turn, out_ptr, out_links, dist, link_cost, detour_ratio,
                    drop_unroutable,
                )  # fmt: skip
        # vehicles that reached another node within this step move on at once
        while state[3] > 0:
            state[3] -= 1
            n = work_stack[state[3]]
            work_flag[n] = False
            _process_node(
                n, step, t0, t1, link_to, link_fft, link_cap, link_storage, link_head,
                link_tail, link_count, out_credit, in_credit, credit_step, in_ptr,
                in_links, origin_head, origin_tail, veh_next, veh_link, veh_group,
                veh_ready, veh_arrival, veh_size, veh_status, next_link, is_target,
                group_room, fallback, overflow_group, state, work_stack, work_flag,
                node_turn, out_ptr, out_links, dist, link_cost, detour_ratio,
                drop_unroutable,
            )  # fmt: skip
        step += 1
        if step % sample_every == 0:
            row = step // sample_every - 1
            if row < occupancy.shape[0]:
                for link in range(n_links):
                    occupancy[row, link] = link_count[link]
            for link in range(n_links):
                v = link_head[link]
                q = 0
                while v != -1 and veh_ready[v] <= t1:
                    q += 1
                    v = veh_next[v]
                queue_now[link] = q
                if q > queue_max[link]:
                    queue_max[link] = q
                if q > 0:
                    queue_time[link] += sample_every * dt
            # vehicles waiting to start count as a queue in front of their first link,
            # so that re-routing sees it
            for n in range(n_nodes):
                v = origin_head[n]
                while v != -1:
                    nl = next_link[veh_group[v], n]
                    if nl >= 0:
                        queue_now[nl] += 1
                    v = veh_next[v]
        if state[1] + state[2] == n_veh:
            break
    return step


def _step_counts(params: LoadingParams, dt: float) -> tuple[int, int, int, int]:
    """Steps of ``dt`` s: initial horizon, hard cap of the self-extending horizon,
    occupancy sampling period and re-routing period."""
    n_steps = int(np.ceil(params.horizon_s / dt))
    cap_steps = n_steps
    if params.max_horizon_s is not None:
        cap_steps = max(n_steps, int(np.ceil(params.max_horizon_s / dt)))
    sample_every = max(1, int(round(params.sample_interval_s / dt)))
    reroute = params.reroute_interval_s
    reroute_steps = (
        cap_steps if reroute is None or not np.isfinite(reroute) else max(1, round(reroute / dt))
    )
    return n_steps, cap_steps, sample_every, reroute_steps


def _chunk_cuts(
    step: int, n_steps: int, reroute_steps: int, event_times: list[float], dt: float
) -> list[int]:
    """Chunk boundaries (steps of ``dt`` s) up to ``n_steps``: the current step, the
    re-routing times and the capacity events' start and end times (s)."""
    cuts = set(range(0, n_steps, reroute_steps)) | {step}
    cuts.update(int(np.ceil(t / dt)) for t in event_times if 0 <= t < n_steps * dt)
    return sorted(cuts) + [n_steps]


def _capacities_at(
    chunk_start: int,
    dt: float,
    base_cap: np.ndarray,
    events: list[CapacityEvent],
    link_cap: np.ndarray,
    top: np.ndarray,
    out_credit: np.ndarray,
    in_credit: np.ndarray,
    credit_step: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Link capacities (veh per step) at step ``chunk_start`` with the events in force,
    their credit caps, and the out/in credits brought to that step with the old
    capacities (``credit_step`` updated in place)."""
    elapsed = chunk_start - credit_step
    out_credit = np.minimum(out_credit + link_cap * elapsed, top)
    in_credit = np.minimum(in_credit + link_cap * elapsed, top)
    credit_step[:] = chunk_start
    t_now = chunk_start * dt
    link_cap = base_cap.copy()
    for ev in events:
        if ev.start_s <= t_now < ev.end_s:
            link_cap[np.asarray(ev.links, dtype=np.int64)] *= ev.factor
    top = np.where(link_cap > 0, np.maximum(1.0, link_cap) + _SLACK, 0.0)
    return link_cap, top, np.minimum(out_credit, top), np.minimum(in_credit, top)


def _route_cost(
    link_fft: np.ndarray,
    link_cap: np.ndarray,
    queue_now: np.ndarray,
    dt: float,
    reroute: float | None,
) -> np.ndarray:
    """Link cost (s) for the trees: free-flow time plus, when re-routing, the queue delay
    (vehicles / capacity per step); closed links cost infinity."""
    if reroute is None or not np.isfinite(reroute):
        cost = link_fft.copy()
    else:
        cost = link_fft + queue_now * dt / np.maximum(link_cap, 1e-9)
    return np.where(link_cap > 0, cost, np.inf)


def simulate(
    net: LinkNetwork,
    demand: Demand,
    destinations: Destinations,
    params: LoadingParams | None = None,
    capacity_events: list[CapacityEvent] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> LoadingResult:
    """Load ``demand`` onto ``net`` with the spatial-queue model (see module docstring).

    Parameters
    ----------
    net : links (capacities in veh/s, lengths in m).
    demand : vehicles with origin node, departure time (s) and destination group.
    destinations : destination node sets, optional capacities and fallbacks.
    params : time step, horizon, re-routing period.
    capacity_events : timed capacity changes (road closures).
    progress : optional ``progress(fraction, stage)`` callback.

    Returns
    -------
    LoadingResult
    """
    params = params or LoadingParams()
    dt = float(params.dt_s)
    n_veh = len(demand.origin)
    n_links, n_nodes = net.n_links, net.n_nodes
    target = np.ascontiguousarray(destinations.target_masks, dtype=np.bool_)
    n_groups = target.shape[0]
    room = (
        np.full(n_groups, np.inf)
        if destinations.capacity is None
        else np.asarray(destinations.capacity, dtype=float).copy()
    )
    fallback = (
        np.full((n_groups, 1), -1, dtype=np.int32)
        if destinations.fallback is None
        else np.ascontiguousarray(destinations.fallback, dtype=np.int32)
    )
    events = list(capacity_events or [])
    base_cap = net.capacity_veh_s * dt
    link_cap = base_cap.copy()
    link_fft = net.free_flow_time_s.astype(float)
    storage = net.storage_veh.astype(float)
    in_ptr, in_links = (a.astype(np.int64) for a in net.in_links_csr())
    link_to = net.link_to.astype(np.int64)
    out_links = np.argsort(net.link_from, kind="stable").astype(np.int64)
    out_ptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(net.link_from, minlength=n_nodes), out=out_ptr[1:])
    node_turn = np.zeros(n_nodes, dtype=np.int64)

    link_head = np.full(n_links, -1, dtype=np.int64)
    link_tail = np.full(n_links, -1, dtype=np.int64)
    link_count = np.zeros(n_links, dtype=np.int64)
    top = np.where(link_cap > 0, np.maximum(1.0, link_cap) + _SLACK, 0.0)
    out_credit, in_credit = top.copy(), top.copy()
    credit_step = np.zeros(n_links, dtype=np.int64)
    origin_head = np.full(n_nodes, -1, dtype=np.int64)
    origin_tail = np.full(n_nodes, -1, dtype=np.int64)

    depart = np.asarray(demand.depart_s, dtype=float)
    order = np.argsort(depart, kind="stable").astype(np.int64)
    depart_sorted = depart[order]
    veh_next = np.full(n_veh, -1, dtype=np.int64)
    veh_link = np.full(n_veh, -1, dtype=np.int64)
    veh_group = np.asarray(demand.group, dtype=np.int64).copy()
    veh_ready = np.zeros(n_veh)
    veh_arrival = np.full(n_veh, np.nan)
    veh_size = np.ones(n_veh) if demand.size is None else np.asarray(demand.size, float)
    veh_status = np.zeros(n_veh, dtype=np.int64)
    veh_origin = np.asarray(demand.origin, dtype=np.int64)
    state = np.zeros(4, dtype=np.int64)
    queue_now = np.zeros(n_links, dtype=np.int64)
    queue_max = np.zeros(n_links, dtype=np.int64)
    queue_time = np.zeros(n_links)

    n_steps, cap_steps, sample_every, reroute_steps = _step_counts(params, dt)
    n_samples = n_steps // sample_every if params.record_occupancy else 0
    occupancy = np.zeros((n_samples, n_links if n_samples else 0), dtype=np.int32)
    reroute = params.reroute_interval_s
    event_times = [t for ev in events for t in (ev.start_s, ev.end_s) if np.isfinite(t)]

    step = 0
    fraction = 0.0
    while True:
        cuts = _chunk_cuts(step, n_steps, reroute_steps, event_times, dt)
        for i, chunk_start in enumerate(cuts[:-1]):
            if step >= n_steps or state[1] + state[2] == n_veh:
                break
            if chunk_start < step:
                continue
            link_cap, top, out_credit, in_credit = _capacities_at(
                chunk_start, dt, base_cap, events, link_cap, top, out_credit, in_credit,
                credit_step,
            )  # fmt: skip
            cost = _route_cost(link_fft, link_cap, queue_now, dt, reroute)
            next_link, dist = trees(net, cost, target)
            later = any(t >= cuts[i + 1] * dt for t in event_times)
            step = _advance(
                chunk_start, cuts[i + 1], dt, sample_every, link_to, link_fft,
                link_cap, storage, link_head, link_tail, link_count, out_credit, in_credit,
                credit_step, in_ptr, in_links, origin_head,
                origin_tail, veh_next, veh_link, veh_group, veh_ready, veh_arrival, veh_size,
                veh_status, veh_origin, order, depart_sorted, next_link, target, room, fallback,
                int(destinations.overflow_group), state, queue_now, queue_max, queue_time,
                node_turn, out_ptr, out_links, dist, link_fft, float(params.detour_ratio),
                not later, occupancy,
            )  # fmt: skip
            if progress is not None:
                fraction = max(fraction, min(1.0, step / n_steps))
                progress(fraction, "network loading")
        if state[1] + state[2] == n_veh or n_steps >= cap_steps:
            break
        # vehicles still on the way: the horizon extends itself (doubling, up to the cap)
        n_steps = min(2 * n_steps, cap_steps)
        if params.record_occupancy:
            grown = np.zeros((n_steps // sample_every, n_links), dtype=np.int32)
            grown[: occupancy.shape[0]] = occupancy
            occupancy = grown
    return LoadingResult(
        arrival_s=veh_arrival,
        status=veh_status,
        final_group=veh_group,
        last_link=veh_link,
        queue_max_veh=queue_max,
        queue_duration_s=queue_time,
        simulated_s=step * dt,
        occupancy_veh=occupancy[: step // sample_every],
        horizon_s=n_steps * dt,
        capped=bool(state[1] + state[2] < n_veh),
    )
