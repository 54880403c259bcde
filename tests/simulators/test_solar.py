"""Solar engine: analytic shadows, sweep vs horizon vs ray references, SVF, daylight, SPA."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pvlib
import pytest
from affine import Affine
from shapely.geometry import box

from simulators.solar import (
    horizon_angles,
    horizon_tangent,
    irradiation,
    shadow_mask,
    shadow_mask_reference,
    shadow_polygons,
    sky_view_factor,
    sun_series,
)

UTM35 = "EPSG:32635"
# a point in Helsinki, UTM 35N (x, y) for the raster origin
X0, Y0 = 385000.0, 6672000.0


def _box_dsm(n=600, lo=280, hi=320, height=20.0):
    z = np.zeros((n, n))
    z[lo:hi, lo:hi] = height
    return z


def _city(n=300, seed=3):
    """Random box city on gently sloping ground (1 % and 0.5 %, no height ties)."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:n, 0:n]
    z = 0.01 * rr + 0.005 * cc + rng.uniform(0, 0.001, (n, n))
    for _ in range(25):
        r, c = rng.integers(10, n - 40, 2)
        h, w = rng.integers(8, 30, 2)
        z[r : r + h, c : c + w] += rng.uniform(5, 40)
    return z


@pytest.mark.parametrize("elevation", [15.0, 25.0, 35.0, 50.0])
def test_box_shadow_length_and_area_are_analytic(elevation):
    """Isolated 20 m box (0.5 m cells): shadow length h/tan(e) within a cell, area within 2%."""
    cell, height, lo, hi = 0.5, 20.0, 280, 320
    z = _box_dsm(lo=lo, hi=hi, height=height)
    side = (hi - lo) * cell
    length = height / math.tan(math.radians(elevation))
    rows, cols = np.mgrid[0 : z.shape[0], 0 : z.shape[1]]
    for azimuth in range(7, 360, 30):  # off the cell diagonals: generic edge positions
        mask = shadow_mask(z, cell, azimuth, elevation)
        mask[lo:hi, lo:hi] = 0  # the roof is lit; count ground shadow only
        a = math.radians(azimuth)
        area = length * side * (abs(math.sin(a)) + abs(math.cos(a)))  # Minkowski sum - footprint
        got = mask.sum() * cell * cell
        assert abs(got / area - 1) < 0.02, (azimuth, elevation, got, area)
        # travel direction away from the sun in metres (x east, y north)
        ux, uy = -math.sin(a), -math.cos(a)
        xs = (cols + 0.5) * cell
        ys = -(rows + 0.5) * cell
        proj = xs * ux + ys * uy
        corners = [(c * cell, -r * cell) for r in (lo, hi) for c in (lo, hi)]
        box_front = max(x * ux + y * uy for x, y in corners)
        tip = proj[mask == 1].max() - box_front
        assert abs(tip - length) <= cell * math.sqrt(2), (azimuth, elevation, tip, length)


@pytest.mark.slow
def test_sweep_mask_equals_horizon_lookup():
    z = _city()
    for azimuth, elevation in [(12.0, 20.0), (100.0, 35.0), (181.5, 8.0), (233.0, 50.0), (300, 12)]:
        mask = shadow_mask(z, 1.0, azimuth, elevation)
        lookup = horizon_tangent(z, 1.0, azimuth) > math.tan(math.radians(elevation))
        assert mask.sum() > 1000
        assert np.array_equal(mask.astype(bool), lookup), (azimuth, elevation)


def _district(n=400, buildings=12, seed=11):
    """0.5 m cells, 200 m x 200 m: about 300 buildings/km2, 10-30 m wide, 5-60 m tall."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[0:n, 0:n]
    z = 0.004 * rr + 0.002 * cc
    for _ in range(buildings):
        r, c = rng.integers(20, n - 80, 2)
        h, w = rng.integers(20, 60, 2)
        z[r : r + h, c : c + w] = rng.uniform(5, 60)
    return z


@pytest.mark.slow
def test_sweep_agrees_with_continuous_ray_reference():
    """< 0.5 % of cells differ from a per-cell continuous ray; all differences on shadow edges."""
    z = _district()
    for azimuth, elevation in [(27.0, 25.0), (145.0, 15.0), (200.0, 40.0), (290.0, 20.0)]:
        mask = shadow_mask(z, 0.5, azimuth, elevation)
        ref = shadow_mask_reference(z, 0.5, azimuth, elevation, step_cells=0.05)
        assert ref.mean() > 0.1
        differ = mask != ref
        assert differ.mean() < 0.005, (azimuth, elevation, differ.mean())
        # every disagreement lies within one cell of a reference shadow edge
        pad = np.pad(ref, 1, mode="edge")
        near_edge = np.zeros_like(differ)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                shifted = pad[1 + dr : 1 + dr + ref.shape[0], 1 + dc : 1 + dc + ref.shape[1]]
                near_edge |= shifted != ref
        assert not (differ & ~near_edge).any()


def test_night_is_all_shadow_and_flat_ground_is_lit():
    z = np.zeros((50, 60))
    assert shadow_mask(z, 1.0, 180, -3).all()
    assert not shadow_mask(z, 1.0, 180, 3).any()


@pytest.mark.parametrize("width_cells,height_m", [(21, 10.0), (21, 21.0), (41, 10.0)])
def test_street_canyon_sky_view_factor(width_cells, height_m):
    """Infinite canyon (walls along the raster's long axis): SVF = cos(atan(2H/W)) at mid-street."""
    rows, wall = 1600, 15
    cols = 2 * wall + width_cells
    z = np.zeros((rows, cols))
    z[:, :wall] = height_m
    z[:, wall + width_cells :] = height_m
    centre_col = wall + width_cells // 2
    svf = sky_view_factor(z[:, :], 1.0, n_sectors=72)
    got = svf[rows // 2, centre_col]
    expected = math.cos(math.atan(2 * height_m / width_cells))
    assert abs(got / expected - 1) < 0.02, (got, expected)
    angles = horizon_angles(z[700:900], 1.0, n_sectors=8)
    east = angles[2, 100, centre_col]  # looking east at the wall W/2 away
    assert abs(east - math.degrees(math.atan(height_m / (width_cells / 2)))) < 1.0


def test_shadow_polygons_cover_the_mask():
    z = _box_dsm(n=200, lo=90, hi=110)
    mask = shadow_mask(z, 1.0, 150.0, 30.0)
    transform = Affine(1.0, 0, X0, 0, -1.0, Y0)
    polys = shadow_polygons(mask, transform, UTM35)
    assert len(polys) >= 1
    assert polys["area_m2"].sum() == pytest.approx(mask.sum(), rel=1e-9)


def test_pvlib_reproduces_nrel_spa_reference_case():
    """Reda & Andreas (2004), Table A4.1: 2003-10-17 12:30:30 -07:00, Golden CO."""
    when = pd.DatetimeIndex([pd.Timestamp("2003-10-17 12:30:30", tz="Etc/GMT+7")])
    spa = pvlib.solarposition.get_solarposition(
        when, 39.742476, -105.1786, altitude=1830.14, pressure=82000, temperature=11,
        method="nrel_numpy", delta_t=67,
    )  # fmt: skip
    assert spa["apparent_zenith"].iat[0] == pytest.approx(50.11162, abs=1e-4)
    assert spa["azimuth"].iat[0] == pytest.approx(194.34024, abs=1e-4)
    ours = sun_series(when, 39.742476, -105.1786, altitude_m=1830.14)
    # the engine uses standard pressure: only refraction (hundredths of a degree) differs
    assert ours["zenith_deg"].iat[0] == pytest.approx(50.11162, abs=0.02)
    assert ours["azimuth_deg"].iat[0] == pytest.approx(194.34024, abs=0.01)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_flat_ground_gets_daylight_hours_and_full_beam(mode):
    transform = Affine(1.0, 0, X0, 0, -1.0, Y0)
    z = np.zeros((40, 50))
    day = pd.Timestamp("2026-06-21", tz="Europe/Helsinki")
    result = irradiation(z, transform, UTM35, day, day + pd.Timedelta("1D"), "2min", mode)
    sun = result.sun
    lon, lat = 24.94, 60.17
    # sunrise equation for the sun's centre on the apparent horizon (geometric -34' of
    # refraction), declination from Spencer (1971) via pvlib
    noon = pd.DatetimeIndex([day + pd.Timedelta("12h")])
    decl = float(pvlib.solarposition.declination_spencer71(noon.day_of_year)[0])  # radians
    h0, phi = math.radians(-34 / 60), math.radians(lat)
    cos_w0 = (math.sin(h0) - math.sin(phi) * math.sin(decl)) / (math.cos(phi) * math.cos(decl))
    daylight_h = 2 * math.degrees(math.acos(cos_w0)) / 15.0
    assert result.sun_hours.min() == pytest.approx(daylight_h, abs=0.1)
    # pvlib's sunrise/sunset (upper limb, -50') is longer by the semi-diameter's rise time only
    rst = pvlib.solarposition.sun_rise_set_transit_spa(pd.DatetimeIndex([day]), lat, lon)
    spa_h = (rst["sunset"].iat[0] - rst["sunrise"].iat[0]) / pd.Timedelta("1h")
    assert 0.0 < spa_h - result.sun_hours.min() < 0.25
    assert result.sun_hours.max() - result.sun_hours.min() < 1e-4
    beam = (sun["dni"] * np.sin(np.radians(sun["elevation_deg"])) * sun["duration_h"]).sum()
    assert np.allclose(result.beam_kwh_m2, beam / 1000.0, rtol=1e-5)
    assert np.allclose(result.sky_view_factor, 1.0)


def test_fast_mode_within_1_5_percent_of_exact():
    z = _city(n=260, seed=5)
    transform = Affine(1.0, 0, X0, 0, -1.0, Y0)
    totals = {}
    for mode in ("exact", "fast"):
        result = irradiation(
            z, transform, UTM35, "2026-03-21", "2026-03-22", "10min", mode, n_sectors=72
        )
        totals[mode] = result
    ex, fa = totals["exact"], totals["fast"]
    assert abs(fa.sun_hours.mean() / ex.sun_hours.mean() - 1) < 0.015
    assert abs(fa.beam_kwh_m2.mean() / ex.beam_kwh_m2.mean() - 1) < 0.015
    # per cell: mean absolute error small against the mean (shading edges only)
    assert np.abs(fa.sun_hours - ex.sun_hours).mean() / ex.sun_hours.mean() < 0.05
    # shading genuinely happens in this scene
    assert ex.sun_hours.min() < 0.5 * ex.sun_hours.max()


def test_fast_and_exact_agree_on_tilted_planes():
    """A south-facing 35 deg plane everywhere on open ground: both modes integrate cos(incidence)."""
    z = np.zeros((30, 30))
    transform = Affine(1.0, 0, X0, 0, -1.0, Y0)
    kw = dict(tilt_deg=35.0, aspect_deg=180.0, n_sectors=72)
    ex = irradiation(z, transform, UTM35, "2026-05-01", "2026-05-03", "10min", "exact", **kw)
    fa = irradiation(z, transform, UTM35, "2026-05-01", "2026-05-03", "10min", "fast", **kw)
    sun = ex.sun
    e, a = np.radians(sun["elevation_deg"]), np.radians(sun["azimuth_deg"])
    t = math.radians(35.0)
    cos_inc = np.sin(e) * math.cos(t) + np.cos(e) * math.sin(t) * np.cos(a - math.pi)
    beam = (sun["dni"] * np.clip(cos_inc, 0, None) * sun["duration_h"]).sum() / 1000
    assert ex.beam_kwh_m2[15, 15] == pytest.approx(beam, rel=1e-5)
    assert fa.beam_kwh_m2[15, 15] == pytest.approx(beam, rel=0.01)


def test_dsm_from_buildings_rasterizes_heights_with_halo():
    from simulators.solar import dsm_from_buildings, halo_for

    b = gpd.GeoDataFrame(
        {"id": [1, 2], "height_m": ["12 m", None], "building:levels": [None, "5"]},
        geometry=[box(X0, Y0, X0 + 20, Y0 + 10), box(X0 + 40, Y0, X0 + 50, Y0 + 10)],
        crs=UTM35,
    )
    z, transform, crs = dsm_from_buildings(b, resolution_m=0.5, min_sun_elevation_deg=10)
    halo = halo_for(15.0, 10.0)  # tallest: 5 levels x 3 m
    assert halo == pytest.approx(15.0 / math.tan(math.radians(10)))
    assert z.max() == pytest.approx(15.0)
    assert (z == 12.0).sum() * 0.25 == pytest.approx(200.0)  # "12 m" parsed
    assert (z == 15.0).sum() * 0.25 == pytest.approx(100.0)
    width = z.shape[1] * 0.5
    assert width >= 50 + 2 * halo
