"""The frequency-based transit network: nodes and links of the optimal-strategy model.

Nodes (in this order)
---------------------
- zones ``0 .. Z-1`` (centroids: trips start and end there, never pass through);
- per stop a *boarding* node ``stop_in`` (where one waits) and an *alighting* node
  ``stop_out`` (where one arrives); ``stop_out -> stop_in`` of the same stop is a free
  transfer, and walking transfers go from ``stop_out`` to other stops' ``stop_in``. Access
  links reach ``stop_in`` and egress links leave ``stop_out``, so a trip cannot walk through a
  stop without riding (walking alone is the walk mode, not transit);
- per line and stop served a *line node* (on board at that stop).

Links (``kind``)
----------------
``IVT`` line node -> next line node (segment time); ``BOARD`` stop_in -> line node (frequency
of the line, cost = boarding penalty); ``ALIGHT`` line node -> stop_out; ``ACCESS`` zone ->
stop_in and ``EGRESS`` stop_out -> zone (walking); ``TRANSFER`` stop_out -> other stop_in
(walking); ``SAME_STOP`` stop_out -> stop_in. Only BOARD links have a finite frequency.

Walking distances come either from the street network (:mod:`.walk`) or from straight
lines times a detour factor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import TransitSupply
from .params import TransitParams

__all__ = ["TransitGraph", "build_graph", "KIND_LABELS"]

IVT, BOARD, ALIGHT, ACCESS, EGRESS, TRANSFER, SAME_STOP = range(7)
KIND_LABELS = ("in vehicle", "boarding", "alighting", "access walk", "egress walk",
               "transfer walk", "same-stop transfer")  # fmt: skip


@dataclass(frozen=True, eq=False)
class TransitGraph:
    """Links of the strategy network as flat arrays (see the module text for the layout).

    Attributes
    ----------
    tail, head : link ends (node indices).
    kind : link kind (IVT, BOARD, ... constants of this module).
    time_s : physical time of the link, s (in-vehicle or walking; 0 for boarding/alighting).
    cost_s : generalized cost, s (walking x walk weight; boarding penalty on BOARD links).
    freq_per_s : line frequency on BOARD links, 1/s; ``inf`` elsewhere.
    line, seq : line index and segment / stop position along the line (-1 when none).
    stop : stop index of BOARD, ALIGHT, ACCESS, EGRESS links, the origin stop of a
        TRANSFER (-1 when none).
    zone : zone of ACCESS / EGRESS links (-1 when none).
    n_nodes, n_zones, n_stops : counts.
    supply : the supply it was built from; ``params`` the parameters.
    """

    tail: np.ndarray
    head: np.ndarray
    kind: np.ndarray
    time_s: np.ndarray
    cost_s: np.ndarray
    freq_per_s: np.ndarray
    line: np.ndarray
    seq: np.ndarray
    stop: np.ndarray
    zone: np.ndarray
    n_nodes: int
    n_zones: int
    n_stops: int
    supply: TransitSupply
    params: TransitParams

    @property
    def n_links(self) -> int:
        return len(self.tail)

    def stop_in(self, s: int) -> int:
        return self.n_zones + s

    def stop_out(self, s: int) -> int:
        return self.n_zones + self.n_stops + s


def straight_access(
    zone_xy: np.ndarray, stop_xy: np.ndarray, max_m: float, detour: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, stop, walking metres) of every stop within ``max_m`` walking of a zone.

    Walking metres = straight-line metres x ``detour``; coordinates in metres (UTM).
    """
    from scipy.spatial import cKDTree

    zone_xy = np.asarray(zone_xy, dtype=float).reshape(-1, 2)
    stop_xy = np.asarray(stop_xy, dtype=float).reshape(-1, 2)
    if len(zone_xy) == 0 or len(stop_xy) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pairs = cKDTree(zone_xy).sparse_distance_matrix(
        cKDTree(stop_xy), max_m / detour, output_type="coo_matrix"
    )
    # sparse_distance_matrix drops exact zeros: add the stops that sit on a zone
    z, s, d = pairs.row, pairs.col, pairs.data
    same = cKDTree(zone_xy).query_ball_point(stop_xy, 1e-9)
    extra = [(zi, si) for si, zs in enumerate(same) for zi in zs]
    if extra:
        ez, es = np.array(extra).T
        z, s, d = np.concatenate([z, ez]), np.concatenate([s, es]), np.concatenate([d, 0 * ez])
        key = z * len(stop_xy) + s
        _, first = np.unique(key, return_index=True)
        z, s, d = z[first], s[first], d[first]
    return z.astype(np.int64), s.astype(np.int64), d * detour


def build_graph(
    supply: TransitSupply,
    zone_xy: np.ndarray,
    params: TransitParams | None = None,
    access: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    transfers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> TransitGraph:
    """The strategy network of ``supply`` with walking links to zones.

    Parameters
    ----------
    supply : stops and lines (validated here; :class:`SupplyError` names a bad field).
    zone_xy : ``(Z, 2)`` zone centroids, metres in the city's UTM zone.
    params : :class:`TransitParams`.
    access : optional ``(zone, stop, metres)`` walking distances over the street network
        (:func:`simulators.transit.walk.street_access`); default straight line x detour
        within ``max_access_m``. Used both ways (access and egress).
    transfers : optional ``(from stop, to stop, metres)``; default straight line x detour
        within ``max_transfer_m``.
    """
    params = params or TransitParams()
    supply.validate()
    zone_xy = np.asarray(zone_xy, dtype=float).reshape(-1, 2)
    n_zones, n_stops = len(zone_xy), len(supply.stops)
    stop_index = {s.stop_id: k for k, s in enumerate(supply.stops)}
    stop_xy = np.array([[s.x_m, s.y_m] for s in supply.stops], dtype=float).reshape(-1, 2)
    speed = params.walk_speed_m_s
    cols: dict[str, list] = {k: [] for k in ("tail", "head", "kind", "time", "cost", "freq",
                                             "line", "seq", "stop", "zone")}  # fmt: skip

    def add(tail, head, kind, time, cost, freq, line=-1, seq=-1, stop=-1, zone=-1):
        for key, value in (("tail", tail), ("head", head), ("kind", kind), ("time", time),
                           ("cost", cost), ("freq", freq), ("line", line), ("seq", seq),
                           ("stop", stop), ("zone", zone)):  # fmt: skip
            cols[key].append(np.atleast_1d(np.asarray(value)))

    first_stop_in, first_stop_out = n_zones, n_zones + n_stops
    next_node = n_zones + 2 * n_stops
    for li, line in enumerate(supply.lines):
        stops = np.array([stop_index[s] for s in line.stop_ids], dtype=np.int64)
        n = len(stops)
        nodes = np.arange(next_node, next_node + n)
        next_node += n
        seg = np.arange(n - 1)
        times = np.asarray(line.segment_time_s, dtype=float)
        add(nodes[:-1], nodes[1:], IVT, times, times, np.inf, li, seg, stops[:-1])
        # boarding at every stop but the last, alighting at every stop but the first
        add(first_stop_in + stops[:-1], nodes[:-1], BOARD, 0.0, params.boarding_penalty_s,
            1.0 / line.headway_s, li, seg, stops[:-1])  # fmt: skip
        add(nodes[1:], first_stop_out + stops[1:], ALIGHT, 0.0, 0.0, np.inf, li, seg + 1,
            stops[1:])  # fmt: skip
    every = np.arange(n_stops)
    add(first_stop_out + every, first_stop_in + every, SAME_STOP, 0.0, 0.0, np.inf, stop=every)
    if access is None:
        access = straight_access(zone_xy, stop_xy, params.max_access_m, params.detour_factor)
    z, s, metres = (np.asarray(a) for a in access)
    keep = metres <= params.max_access_m
    z, s, walk = z[keep], s[keep], metres[keep] / speed
    add(z, first_stop_in + s, ACCESS, walk, params.walk_weight * walk, np.inf, stop=s, zone=z)
    add(first_stop_out + s, z, EGRESS, walk, params.walk_weight * walk, np.inf, stop=s, zone=z)
    if transfers is None:
        ta, tb, tm = straight_access(stop_xy, stop_xy, params.max_transfer_m, params.detour_factor)
    else:
        ta, tb, tm = (np.asarray(a) for a in transfers)
    keep = (ta != tb) & (tm <= params.max_transfer_m)
    ta, tb, walk = ta[keep], tb[keep], tm[keep] / speed
    add(first_stop_out + ta, first_stop_in + tb, TRANSFER, walk, params.walk_weight * walk,
        np.inf, stop=ta)  # fmt: skip

    # broadcast the scalars of each add() call to its length
    lengths = [len(t) for t in cols["tail"]]
    out = {}
    for key, dtype in (("tail", np.int64), ("head", np.int64), ("kind", np.int8),
                       ("time", float), ("cost", float), ("freq", float), ("line", np.int64),
                       ("seq", np.int64), ("stop", np.int64), ("zone", np.int64)):  # fmt: skip
        parts = [np.broadcast_to(p, (n,)) for p, n in zip(cols[key], lengths, strict=True)]
        out[key] = np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
    return TransitGraph(
        tail=out["tail"], head=out["head"], kind=out["kind"], time_s=out["time"],
        cost_s=out["cost"], freq_per_s=out["freq"], line=out["line"], seq=out["seq"],
        stop=out["stop"], zone=out["zone"], n_nodes=int(next_node), n_zones=n_zones,
        n_stops=n_stops, supply=supply, params=params,
    )  # fmt: skip
