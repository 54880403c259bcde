"""Sun hours and irradiation over a period, per DSM cell, in an exact and a fast mode.

Exact mode: one shadow sweep (:func:`simulators.solar.shadow.shadow_mask`) per time step,
O(N * T). Fast mode: horizon angles in ``K`` azimuth sectors (one O(N) convex-hull sweep each);
the period's sun positions are shared between the two sectors next to their azimuth (linear
weights), sorted by elevation per sector and prefix-summed, so each cell needs one binary search
per sector: O(N * K * log T). The fast mode's error comes from replacing the horizon at the
sun's azimuth by the two neighbouring sector horizons; it is measured against the exact mode in
the tests and the bench (see ``docs/solar.md``).

Units: hours (h) for sun hours, kWh/m2 for irradiation (on the cell's plane: horizontal unless a
tilt/aspect raster is given). Diffuse: isotropic sky, ``DHI x SVF`` on horizontal cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .dsm import cell_size
from .kernels import accumulate_lit, accumulate_lit_tilted, accumulate_sector
from .shadow import _as_heights, horizon_scratch, horizon_tangent, sector_azimuths, shadow_mask
from .sun import parse_step, raster_lonlat, sample_times, sun_series

Progress = Callable[[float, str], None] | None


@dataclass
class Irradiation:
    """Per-cell results of :func:`irradiation` (arrays shaped like the DSM, float32).

    Attributes
    ----------
    sun_hours : hours of direct sun (sun above the local horizon and in front of the plane).
    beam_kwh_m2 : direct irradiation on the cell's plane.
    diffuse_kwh_m2 : sky diffuse irradiation (isotropic, reduced by the sky view factor).
    sky_view_factor : fraction of the sky hemisphere seen by a horizontal surface (0..1).
    sun : the sun positions and irradiance used (one row per time step, daylight only).
    """

    sun_hours: np.ndarray
    beam_kwh_m2: np.ndarray
    diffuse_kwh_m2: np.ndarray
    sky_view_factor: np.ndarray
    sun: pd.DataFrame

    @property
    def global_kwh_m2(self) -> np.ndarray:
        """Beam + diffuse on the cell's plane, kWh/m2."""
        return self.beam_kwh_m2 + self.diffuse_kwh_m2


def _plane_terms(tilt_deg, aspect_deg, shape):
    """Per-cell ``cos t``, ``sin t cos a``, ``sin t sin a`` (aspect clockwise from north)."""
    tilt = np.broadcast_to(np.radians(np.asarray(tilt_deg, np.float64)), shape)
    aspect = np.broadcast_to(np.radians(np.asarray(aspect_deg, np.float64)), shape)
    return (
        np.ascontiguousarray(np.cos(tilt)),
        np.ascontiguousarray(np.sin(tilt) * np.cos(aspect)),
        np.ascontiguousarray(np.sin(tilt) * np.sin(aspect)),
    )


def sun_positions(
    transform,
    crs,
    shape: tuple[int, int],
    start,
    end,
    step: str | pd.Timedelta = "10min",
    weather: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Daylight sun positions and irradiance for a raster's centre, with ``duration_h``."""
    lon, lat = raster_lonlat(transform, crs, shape)
    times = sample_times(start, end, step)
    sun = sun_series(times, lat, lon, weather=weather)
    sun["duration_h"] = parse_step(step) / pd.Timedelta("1h")
    return sun[sun["elevation_deg"] > 0.0]


def irradiation(
    dsm: np.ndarray,
    transform,
    crs,
    start,
    end,
    step: str | pd.Timedelta = "10min",
    mode: str = "fast",
    n_sectors: int = 72,
    weather: pd.DataFrame | None = None,
    tilt_deg: np.ndarray | float | None = None,
    aspect_deg: np.ndarray | float | None = None,
    sun: pd.DataFrame | None = None,
    progress: Progress = None,
    min_sun_elevation_deg: float = 0.0,
    window: tuple[int, int, int, int] | None = None,
) -> Irradiation:
    """Sun hours and beam/diffuse irradiation per cell over ``[start, end)``.

    Parameters
    ----------
    dsm : heights (m), north-up, square cells, in a projected metric ``crs``.
    transform, crs : raster georeference (sun positions are computed at the raster centre).
    start, end : period (ISO strings or Timestamps; naive = UTC).
    step : time step, e.g. ``"10min"``; each sample is the middle of its step.
    mode : ``"exact"`` (one sweep per step) or ``"fast"`` (sector horizons + prefix sums).
    n_sectors : azimuth sectors for the horizons (fast mode and sky view factor).
    weather : ``ghi/dni/dhi`` DataFrame (:func:`simulators.solar.sun.read_weather`); clear sky
        (Ineichen) when None.
    tilt_deg, aspect_deg : plane of each cell (scalar or raster; aspect clockwise from north,
        the direction the plane faces). Horizontal when None.
    sun : precomputed :func:`sun_positions` (overrides start/end/step/weather).
    progress : optional ``progress(fraction, stage)`` callback.
    min_sun_elevation_deg : horizons lower than this are taken as flat: a sun below it lights
        a cell when nothing around rises above it (the cell's mask at this elevation). 0 keeps
        every horizon; :mod:`simulators.solar.tiling` needs it > 0 to bound its halo.
    window : exact mode: the DSM's place in a larger grid whose digital lines the sweeps follow
        (see :func:`simulators.solar.shadow.shadow_mask`).
    """
    if mode not in ("exact", "fast"):
        raise ValueError("mode must be 'exact' or 'fast'")
    z = _as_heights(dsm)
    cell = cell_size(transform)
    if sun is None:
        sun = sun_positions(transform, crs, z.shape, start, end, step, weather)
    tilted = tilt_deg is not None and np.any(np.asarray(tilt_deg) != 0)
    if tilted:
        cos_t, st_ca, st_sa = _plane_terms(
            tilt_deg, 0.0 if aspect_deg is None else aspect_deg, z.shape
        )
    else:
        cos_t = st_ca = st_sa = np.zeros((1, 1))

    hours = np.zeros(z.shape, np.float64)
    beam = np.zeros(z.shape, np.float64)
    svf_sum = np.zeros(z.shape, np.float64)
    elev = np.radians(sun["elevation_deg"].to_numpy())
    azim = np.radians(sun["azimuth_deg"].to_numpy())
    dt = sun["duration_h"].to_numpy()
    dni_dt = sun["dni"].to_numpy() * dt / 1000.0  # kWh/m2 normal to the beam

    sectors = sector_azimuths(n_sectors)
    if mode == "fast":
        # share each sun position between the two sectors around its azimuth
        frac = (sun["azimuth_deg"].to_numpy() % 360.0) / (360.0 / n_sectors)
        k0 = np.floor(frac).astype(np.int64) % n_sectors
        w1 = frac - np.floor(frac)
        owners = [(k0, 1.0 - w1), ((k0 + 1) % n_sectors, w1)]
    scratch = horizon_scratch(z.shape)
    for k, az in enumerate(sectors):
        tan_h = horizon_tangent(z, cell, az, scratch)
        if mode == "fast":
            sel_e, sel_w, sel_a, sel_b, sel_c = [], [], [], [], []
            for owner, weight in owners:
                pick = (owner == k) & (weight > 0)
                w = weight[pick]
                e = elev[pick]
                sel_e.append(e)
                sel_w.append(dt[pick] * w)
                sel_a.append(dni_dt[pick] * w * np.sin(e))
                sel_b.append(dni_dt[pick] * w * np.cos(e) * np.cos(azim[pick]))
                sel_c.append(dni_dt[pick] * w * np.cos(e) * np.sin(azim[pick]))
            e = np.concatenate(sel_e)
            order = np.argsort(e, kind="stable")

            def suffix(parts, order=order):
                v = np.concatenate(parts)[order]
                return np.concatenate([np.cumsum(v[::-1])[::-1], [0.0]])

            accumulate_sector(
                tan_h, math.radians(az), np.ascontiguousarray(e[order]),
                suffix(sel_w), suffix(sel_a), suffix(sel_b), suffix(sel_c), tilted,
                cos_t, st_ca, st_sa, hours, beam, svf_sum, math.radians(min_sun_elevation_deg),
            )  # fmt: skip
        else:
            t = np.where(tan_h > 0, tan_h.astype(np.float64), 0.0)
            svf_sum += 1.0 / (1.0 + t * t)
        if progress:
            share = 1.0 if mode == "fast" else 0.2
            progress(share * (k + 1) / n_sectors, "horizons")
    if mode == "exact":
        n = len(sun)
        for i in range(n):
            el = max(float(sun["elevation_deg"].iat[i]), min_sun_elevation_deg)
            mask = shadow_mask(z, cell, sun["azimuth_deg"].iat[i], el, window=window)
            if tilted:
                accumulate_lit_tilted(
                    mask, dt[i], dni_dt[i], math.sin(elev[i]),
                    math.cos(elev[i]) * math.cos(azim[i]), math.cos(elev[i]) * math.sin(azim[i]),
                    cos_t, st_ca, st_sa, hours, beam,
                )  # fmt: skip
            else:
                accumulate_lit(mask, dt[i], dni_dt[i] * math.sin(elev[i]), hours, beam)
            if progress and (i % 50 == 0 or i == n - 1):
                progress(0.2 + 0.8 * (i + 1) / max(n, 1), "shadow sweeps")
    svf = svf_sum / n_sectors
    dhi_sum = float((sun["dhi"].to_numpy() * dt).sum() / 1000.0)
    if tilted:
        # isotropic sky seen by a tilted plane, bounded by what the horizons leave visible
        diffuse = dhi_sum * np.minimum(svf, (1.0 + cos_t) / 2.0)
    else:
        diffuse = dhi_sum * svf
    return Irradiation(
        sun_hours=hours.astype(np.float32),
        beam_kwh_m2=beam.astype(np.float32),
        diffuse_kwh_m2=diffuse.astype(np.float32),
        sky_view_factor=svf.astype(np.float32),
        sun=sun,
    )


def sun_hours(
    dsm: np.ndarray,
    transform,
    crs,
    start,
    end,
    step: str | pd.Timedelta = "10min",
    mode: str = "fast",
    n_sectors: int = 72,
    progress: Progress = None,
) -> np.ndarray:
    """Hours of direct sun per cell over ``[start, end)`` (float32 array shaped like ``dsm``).

    See :func:`irradiation` for the parameters; this is its ``sun_hours`` output.
    """
    return irradiation(
        dsm, transform, crs, start, end, step, mode, n_sectors, progress=progress
    ).sun_hours
