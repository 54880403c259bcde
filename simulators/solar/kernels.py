"""Numba kernels: line sweeps over a digital surface model (DSM).

Geometry shared by every kernel
-------------------------------
The DSM is a 2-D array of heights in metres, row 0 at the north edge (north-up GeoTIFF), cells
square with side ``cell`` metres. Heights are *point samples at cell centres* (the usual DSM
convention, also used by whitebox and UMEP).

A direction of travel (away from the sun, or away from a horizon azimuth) is turned into a set of
*parallel digital lines*: one template line ``offset[i] = round(i * slope)`` along the primary
axis, translated by every integer secondary offset. Each cell lies on exactly one line and has
exactly one predecessor (the previous cell of its line), so a recurrence along the lines visits
each cell once: O(N) whatever the heights. The caller flips the array (numpy views with negative
strides) so that travel always goes towards increasing row and column indices; the kernels then
only handle the two cases "row-primary" (travel mostly along rows) and "column-primary".

Distances along a line are measured on the ideal (straight) line: ``step`` metres per primary
step, ``step = cell * sqrt(1 + slope**2)``; the digital line deviates from it by at most half a
cell sideways.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def line_offsets(n: int, slope: float, phase: int = 0) -> np.ndarray:
    """Secondary offset of the template digital line at each primary index (round-half-up).

    ``phase`` is the primary index of the array's first line in a larger raster: a window of
    that raster given its phase gets the same digital lines (hence the same cells) as the
    whole raster, which is what makes tiled sweeps equal to an untiled one.
    """
    off = np.empty(n, np.int64)
    for i in range(n):
        off[i] = int(math.floor((i + phase) * slope + 0.5))
    return off


@njit(cache=True)
def line_spills(n: int, slope: float, phase: int = 0) -> np.ndarray:
    """Side (-1, 0, +1) on which the template's ideal line also crosses a neighbour cell.

    Between primary positions ``i - 1/2`` and ``i + 1/2`` the ideal line moves ``slope`` cells
    sideways, so it can cross into the neighbour of the digital line's cell. Sampling only the
    digital cell would miss obstacles that the ray merely clips (a biased, too narrow shadow);
    casting from the higher of the two cells makes the sweep follow the ideal line's supercover.
    """
    spill = np.zeros(n, np.int64)
    for i in range(n):
        y = (i + phase) * slope
        f = y - math.floor(y + 0.5)
        if f + 0.5 * slope > 0.5 + 1e-12:
            spill[i] = 1
        elif f - 0.5 * slope < -0.5 - 1e-12:
            spill[i] = -1
    return spill


@njit(cache=True)
def cast_height(z, i, j, row_primary, col_dir, spill_i, spill_j):
    """Height a cell casts from: its own, or the higher neighbour the ideal line also crosses."""
    nr, nc = z.shape
    h = z[i, j]
    if row_primary:
        if spill_i != 0:
            jn = j + spill_i * col_dir
            if 0 <= jn < nc and z[i, jn] > h:
                h = z[i, jn]
    elif spill_j != 0:
        inb = i + spill_j
        if 0 <= inb < nr and z[inb, j] > h:
            h = z[inb, j]
    return h


@njit(cache=True, nogil=True)
def shadow_sweep(z, slope, row_primary, col_dir, drop, out, phase=0):
    """Shadow mask by one sweep along parallel digital lines.

    Parameters
    ----------
    z : 2-D float array (possibly a flipped view), heights in metres, travel towards +row/+col.
    slope : float in [0, 1], secondary/primary ratio of the travel direction.
    row_primary : bool, True when the travel direction is mostly along rows (north-south).
    col_dir : +1 or -1, column direction of travel in the row-primary case (the column axis is
        not flipped there, so the inner loop stays in memory order and vectorizes).
    drop : float, metres the shadow surface falls per primary step, ``step * tan(elevation)``.
    out : 2-D uint8 array (same view layout as ``z``), set to 1 where shadowed, else 0.
    phase : primary index of the view's first line in the raster it is a window of
        (:func:`line_offsets`); 0 for a whole raster.

    Notes
    -----
    Cells are flat-topped columns: a cell's top reaches half a step further along the line than
    its centre, so it casts from ``z + drop / 2`` (this puts a building's wall at the cell edge,
    not at the centre of its outermost cell). The shadow surface ``S`` follows
    ``S(p) = max(z(p) + drop / 2, S(pred(p)) - drop)``; a cell (its centre) is shadowed when
    ``S(pred(p)) - drop > z(p)``. Only two row buffers are kept, so memory traffic is one read of
    ``z`` and one write of ``out`` per cell. Where the ideal line crosses into a neighbour cell
    (:func:`line_spills`) the cast height is the higher of the two.
    """
    nr, nc = z.shape
    half = 0.5 * drop
    prev = np.empty(nc, np.float64)
    cur = np.empty(nc, np.float64)
    if row_primary:
        off = line_offsets(nr, slope, phase)
        spill = line_spills(nr, slope, phase)
        for j in range(nc):
            prev[j] = cast_height(z, 0, j, True, col_dir, spill[0], 0) + half
            out[0, j] = 0
        for i in range(1, nr):
            d = off[i] - off[i - 1]
            sp = spill[i]
            for j in range(nc):
                zz = z[i, j]
                cast = zz
                if sp != 0:
                    jn = j + sp * col_dir
                    if 0 <= jn < nc and z[i, jn] > cast:
                        cast = z[i, jn]
                jp = j - d * col_dir
                if jp < 0 or jp >= nc:
                    cur[j] = cast + half
                    out[i, j] = 0
                else:
                    hp = prev[jp] - drop
                    if hp > zz:
                        cur[j] = max(hp, cast + half)
                        out[i, j] = 1
                    else:
                        cur[j] = cast + half
                        out[i, j] = 0
            prev, cur = cur, prev
    else:
        off = line_offsets(nc, slope, phase)
        spill = line_spills(nc, slope, phase)
        for i in range(nr):
            cur[0] = cast_height(z, i, 0, False, 1, 0, spill[0]) + half
            out[i, 0] = 0
            for j in range(1, nc):
                zz = z[i, j]
                cast = zz
                sp = spill[j]
                if sp != 0:
                    inb = i + sp
                    if 0 <= inb < nr and z[inb, j] > cast:
                        cast = z[inb, j]
                d = off[j] - off[j - 1]
                if d == 0:
                    hp = cur[j - 1] - drop
                elif i > 0:
                    hp = prev[j - 1] - drop
                else:
                    cur[j] = cast + half
                    out[i, j] = 0
                    continue
                if hp > zz:
                    cur[j] = max(hp, cast + half)
                    out[i, j] = 1
                else:
                    cur[j] = cast + half
                    out[i, j] = 0
            prev, cur = cur, prev


@njit(cache=True)
def horizon_sweep(z, slope, row_primary, col_dir, step, tan_h, hull_next, hull_s, hull_c):
    """Tangent of the horizon angle towards one azimuth, by an upper convex hull per line.

    Parameters
    ----------
    z : 2-D float array (flipped view), heights in metres; travel goes towards +row/+col, i.e.
        *away* from the azimuth looked at, so every cell between a cell and the horizon has been
        visited before it.
    slope, row_primary, col_dir : as in :func:`shadow_sweep`.
    step : float, metres along the ideal line per primary step.
    tan_h : 2-D float32 output (same view layout), tangent of the horizon elevation angle;
        ``-inf`` where nothing lies towards the azimuth (raster edge).
    hull_next : 1-D int64 scratch array of size ``z.size``.
    hull_s, hull_c : 1-D float64 scratch arrays of size ``z.size`` (hull point position along
        the line and cast height, stored so the hull walk reads flat arrays only).

    Notes
    -----
    Cells are flat-topped columns as in :func:`shadow_sweep`: an obstacle cell ``q`` is seen at
    distance ``s_p - s_q - step / 2`` (its near edge) with its cast height (own or spilled
    neighbour, :func:`line_spills`), so ``tan_h > tan(e)`` is exactly the
    sweep's shadow test. Each line keeps the upper convex hull of the points ``(s, z)`` already visited, as a linked
    list (``hull_next``) whose head is the predecessor cell. For a new cell ``p`` the hull vertices
    that lie under the line from ``p`` to the next vertex are dropped (they can never be the
    tangent point again); the head left is the tangent point, which gives the horizon. Every cell
    is pushed once and dropped at most once, so the sweep is O(N) amortized per azimuth
    (Stewart 1998, "Fast horizon computation at all points of a terrain with visibility and
    shading applications").
    """
    nr, nc = z.shape
    half = 0.5 * step
    if row_primary:
        off = line_offsets(nr, slope)
        spill = line_spills(nr, slope)
    else:
        off = line_offsets(nc, slope)
        spill = line_spills(nc, slope)
    for i in range(nr):
        for j in range(nc):
            p = i * nc + j
            if row_primary:
                sp = i * step
                cp = cast_height(z, i, j, True, col_dir, spill[i], 0)
                if i == 0:
                    pi = -1
                    pj = -1
                else:
                    pi = i - 1
                    pj = j - (off[i] - off[i - 1]) * col_dir
            else:
                sp = j * step
                cp = cast_height(z, i, j, False, 1, 0, spill[j])
                if j == 0:
                    pi = -1
                    pj = -1
                else:
                    pi = i - (off[j] - off[j - 1])
                    pj = j - 1
            sh = sp + half
            hull_s[p] = sh
            hull_c[p] = cp
            if pi < 0 or pj < 0 or pj >= nc:
                tan_h[i, j] = -np.inf
                hull_next[p] = -1
                continue
            zp = z[i, j]
            head = pi * nc + pj
            # query: walk the (upper, concave) hull while the slope from p still rises
            top = head
            best = (hull_c[top] - zp) / (sp - hull_s[top])
            nxt = hull_next[top]
            while nxt >= 0:
                cand = (hull_c[nxt] - zp) / (sp - hull_s[nxt])
                if best <= cand:
                    best = cand
                    top = nxt
                    nxt = hull_next[top]
                else:
                    break
            tan_h[i, j] = best
            # push p's own hull point (s_p + half, cast height): drop the vertices under it
            top = head
            while True:
                nxt = hull_next[top]
                if nxt < 0:
                    break
                # top stays if it is strictly above the chord from the new point to nxt
                if (hull_c[top] - cp) * (sh - hull_s[nxt]) > (hull_c[nxt] - cp) * (
                    sh - hull_s[top]
                ):
                    break
                top = nxt
            hull_next[p] = top


@njit(cache=True, nogil=True)
def accumulate_hours(shadow, weight_hours, hours):
    """Add ``weight_hours`` to ``hours`` where ``shadow`` is 0 (a lit cell)."""
    nr, nc = shadow.shape
    for i in range(nr):
        for j in range(nc):
            if shadow[i, j] == 0:
                hours[i, j] += weight_hours


@njit(cache=True)
def accumulate_lit(shadow, weight_hours, weight_beam, hours, beam):
    """Add ``weight_hours`` to ``hours`` and ``weight_beam`` to ``beam`` where not shadowed."""
    nr, nc = shadow.shape
    for i in range(nr):
        for j in range(nc):
            if shadow[i, j] == 0:
                hours[i, j] += weight_hours
                beam[i, j] += weight_beam


@njit(cache=True)
def accumulate_lit_tilted(
    shadow, dt_h, dni_dt, sun_a, sun_b, sun_c, cos_t, sin_t_cos_a, sin_t_sin_a, hours, beam
):
    """Exact-mode accumulation on tilted cells: beam += DNI dt max(0, cos incidence) where lit.

    ``sun_a = sin(elevation)``, ``sun_b = cos(elevation) cos(azimuth)``,
    ``sun_c = cos(elevation) sin(azimuth)``; the per-cell normal is given by ``cos_t = cos(tilt)``,
    ``sin_t_cos_a = sin(tilt) cos(aspect)``, ``sin_t_sin_a = sin(tilt) sin(aspect)``.
    """
    nr, nc = shadow.shape
    for i in range(nr):
        for j in range(nc):
            if shadow[i, j] == 0:
                cos_inc = (
                    sun_a * cos_t[i, j] + sun_b * sin_t_cos_a[i, j] + sun_c * sin_t_sin_a[i, j]
                )
                if cos_inc > 0.0:
                    hours[i, j] += dt_h
                    beam[i, j] += dni_dt * cos_inc


@njit(cache=True)
def accumulate_sector(
    tan_h,
    sector_az,
    sorted_elev,
    suffix_hours,
    suffix_a,
    suffix_b,
    suffix_c,
    tilted,
    cos_t,
    sin_t_cos_a,
    sin_t_sin_a,
    hours,
    beam,
    svf_sum,
    min_elevation=0.0,
):
    """Fast-mode accumulation for one azimuth sector (horizon lookup + prefix sums).

    For each cell the sector's sun positions with elevation above the cell's horizon (and, on a
    tilted cell, above the plane's own self-shading horizon) are found by a binary search in
    ``sorted_elev``; their summed durations / beam components come from the suffix sums
    (``suffix[k]`` = sum over positions ``k..end``). ``svf_sum`` accumulates
    ``cos^2(max(horizon, 0))`` for the sky view factor. A horizon below ``min_elevation``
    (radians) is taken as flat (see :func:`simulators.solar.sunhours.irradiation`).
    """
    nr, nc = tan_h.shape
    m = sorted_elev.shape[0]
    for i in range(nr):
        for j in range(nc):
            t = tan_h[i, j]
            if t > 0.0:
                svf_sum[i, j] += 1.0 / (1.0 + t * t)
                thr = math.atan(t)
            else:
                svf_sum[i, j] += 1.0
                thr = -0.5 * math.pi if t == -np.inf else math.atan(t)
            if thr < min_elevation and thr > 0.0:
                thr = 0.0
            if tilted:
                st = math.sqrt(sin_t_cos_a[i, j] ** 2 + sin_t_sin_a[i, j] ** 2)
                if st > 1e-9:
                    # plane self-shading horizon: cos(incidence) > 0  <=>
                    # tan(e) > -(sin t cos(phi - aspect)) / cos t
                    proj = sin_t_cos_a[i, j] * math.cos(sector_az) + sin_t_sin_a[i, j] * math.sin(
                        sector_az
                    )
                    self_thr = math.atan2(-proj, cos_t[i, j])
                    if self_thr > thr:
                        thr = self_thr
            if m == 0:
                continue
            k = np.searchsorted(sorted_elev, thr, side="right")
            if k >= m:
                continue
            hours[i, j] += suffix_hours[k]
            if tilted:
                beam[i, j] += (
                    suffix_a[k] * cos_t[i, j]
                    + suffix_b[k] * sin_t_cos_a[i, j]
                    + suffix_c[k] * sin_t_sin_a[i, j]
                )
            else:
                beam[i, j] += suffix_a[k]


@njit(cache=True)
def shadow_reference_ray(z, cell, sun_azimuth_deg, sun_elevation_deg, step_cells):
    """Brute-force reference: a continuous ray per cell over flat-topped cell columns.

    O(N * L) and slow; for tests only. The ray leaves each cell centre towards the sun in the
    exact (non-digital) direction, samples the piecewise-constant surface (each cell a column)
    every ``step_cells`` cells and stops at the raster edge. Row 0 is north, columns grow east.
    """
    nr, nc = z.shape
    az = math.radians(sun_azimuth_deg)
    tan_e = math.tan(math.radians(sun_elevation_deg))
    dr = -math.cos(az) * step_cells
    dc = math.sin(az) * step_cells
    rise = step_cells * cell * tan_e
    out = np.zeros((nr, nc), np.uint8)
    for i in range(nr):
        for j in range(nc):
            z0 = z[i, j]
            r = float(i)
            c = float(j)
            level = z0
            while True:
                r += dr
                c += dc
                level += rise
                ri = int(math.floor(r + 0.5))
                ci = int(math.floor(c + 0.5))
                if ri < 0 or ci < 0 or ri >= nr or ci >= nc:
                    break
                if z[ri, ci] > level:
                    out[i, j] = 1
                    break
    return out
