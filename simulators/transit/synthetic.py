"""Synthetic transit lines over a city (no OSM, no GTFS): a grid of straight two-way lines.

For benchmarks and for cities without transit data: lines run east-west and north-south every
``line_spacing_m`` across the box of the given points, with a stop every ``stop_spacing_m``;
walking links join the stops to the streets like any stop.
"""

from __future__ import annotations

import numpy as np

from .network import TransitLine, TransitStop, TransitSupply

__all__ = ["grid_supply"]


def grid_supply(
    xy: np.ndarray,
    line_spacing_m: float = 1500.0,
    stop_spacing_m: float = 400.0,
    speed_kph: float = 20.0,
    headways_s: tuple[float, ...] = (300.0, 600.0, 900.0),
    vehicle_capacity: float = 150.0,
    seed: int = 0,
) -> TransitSupply:
    """A grid of two-way bus lines over the bounding box of ``xy`` (m, UTM).

    Each line gets a headway drawn from ``headways_s`` (seeded); segment times are
    length / speed.
    """
    rng = np.random.default_rng(seed)
    xy = np.asarray(xy, dtype=float)
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    stops: list[TransitStop] = []
    lines: list[TransitLine] = []
    speed = speed_kph / 3.6

    def add_line(name: str, points: np.ndarray) -> None:
        if len(points) < 2:
            return
        ids = []
        for p in points:
            sid = f"{name}-s{len(ids)}"
            stops.append(TransitStop(sid, f"{name} stop {len(ids) + 1}", float(p[0]), float(p[1])))
            ids.append(sid)
        seg = list(np.hypot(*np.diff(points, axis=0).T))
        headway = float(rng.choice(headways_s))
        for suffix, order in (("", 1), ("-back", -1)):
            lines.append(
                TransitLine(f"{name}{suffix}", f"Bus {name}", "bus", ids[::order],
                            [d / speed for d in seg[::order]], headway,
                            vehicle_capacity * 3600.0 / headway, seg[::order])
            )  # fmt: skip

    for k, y in enumerate(np.arange(y0 + line_spacing_m / 2, y1, line_spacing_m)):
        xs = np.arange(x0, x1 + 1e-9, stop_spacing_m)
        add_line(f"h{k}", np.column_stack([xs, np.full(len(xs), y)]))
    for k, x in enumerate(np.arange(x0 + line_spacing_m / 2, x1, line_spacing_m)):
        ys = np.arange(y0, y1 + 1e-9, stop_spacing_m)
        add_line(f"v{k}", np.column_stack([np.full(len(ys), x), ys]))
    return TransitSupply(stops, lines, "synthetic grid")
