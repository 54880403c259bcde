"""Whole-city sun hours in tiles: equal to one untiled sweep, cell by cell; plans within budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rasterio.transform import array_bounds

from simulators.solar import building_labels, dsm_from_buildings, irradiation
from simulators.solar.sunhours import sun_positions
from simulators.solar.tiling import (
    choose_cell_m,
    halo_cells,
    plan_tiles,
    sun_hours_cog,
    tile_bytes,
    tiled_sun_hours,
)
from simulators.synthetic import generate_city


@pytest.fixture(scope="module")
def small_city():
    """A synthetic city of about 600 buildings (0.8 x 0.85 km, tallest 38 m), seeded."""
    return generate_city(n_road_links=200, seed=3).buildings


def _untiled(buildings, plan, sun):
    """Reference: one surface model over the plan's whole reference raster, one sweep per step
    over all of it (:func:`irradiation`, exact mode, on the output grid's digital lines),
    cropped to the output grid."""
    rows, cols = plan.reference_shape
    bounds = array_bounds(rows, cols, plan.reference_transform)
    dsm, transform, crs = dsm_from_buildings(
        buildings, resolution_m=plan.cell_m, bounds=(bounds[0], bounds[1], bounds[2], bounds[3]),
        halo_m=0.0,
    )  # fmt: skip
    assert transform == plan.reference_transform and dsm.shape == (rows, cols)
    hours = irradiation(
        dsm, transform, crs, None, None, sun=sun, mode="exact", n_sectors=4,
        min_sun_elevation_deg=plan.min_sun_elevation_deg,
        window=(-plan.halo, -plan.halo, *plan.shape),
    ).sun_hours  # fmt: skip
    h = plan.halo
    return hours[h : rows - h, h : cols - h]


def _stitch(plan, results):
    hours = np.full(plan.shape, np.nan, np.float32)
    labels = np.full(plan.shape, -2, np.int32)
    for r in results:
        rows, cols = r.sun_hours.shape
        assert np.isnan(hours[r.row0 : r.row0 + rows, r.col0 : r.col0 + cols]).all()
        hours[r.row0 : r.row0 + rows, r.col0 : r.col0 + cols] = r.sun_hours
        labels[r.row0 : r.row0 + rows, r.col0 : r.col0 + cols] = r.labels
    return hours, labels


@pytest.mark.slow
@pytest.mark.parametrize(("date", "tile_cells", "threads"), [
    ("2026-03-20", 96, 2),   # equinox: 25 tiles of 192 m, two threads
    ("2026-12-21", 150, 1),  # midwinter at 60 N: the sun never passes 7 deg, longest shadows
])  # fmt: skip
def test_tiled_sun_hours_equal_untiled_cell_by_cell(small_city, date, tile_cells, threads):
    plan = plan_tiles(
        tuple(small_city.total_bounds), float(small_city["height_m"].max()), small_city.crs,
        cell_m=2.0, tile_cells=tile_cells, threads=threads,
    )  # fmt: skip
    assert plan.describe()["tiles"] > 1
    sun = sun_positions(plan.transform, small_city.crs, plan.shape, date,
                        np.datetime64(date) + np.timedelta64(1, "D"), "20min")  # fmt: skip
    tiled, labels = _stitch(plan, tiled_sun_hours(small_city, plan, sun, labels=True))
    reference = _untiled(small_city, plan, sun)
    assert not np.isnan(tiled).any()
    np.testing.assert_array_equal(tiled, reference)
    # a real result: shade somewhere, full sun somewhere
    full_day = float(sun["duration_h"].sum())
    assert reference.min() < 0.5 * full_day and reference.max() == pytest.approx(full_day)
    # roof labels are the untiled rasterization's too
    np.testing.assert_array_equal(labels, building_labels(small_city, plan.transform, plan.shape))


def test_a_wider_halo_changes_nothing(small_city):
    """Two plans of the same grid, one with twice the relief (a scenario with a tower far away
    gets a wider halo): the same sun hours in every cell, so scenarios can be differenced."""
    bounds, relief = tuple(small_city.total_bounds), float(small_city["height_m"].max())
    narrow = plan_tiles(bounds, relief, small_city.crs, cell_m=2.0, tile_cells=128)
    wide = plan_tiles(bounds, 2 * relief, small_city.crs, cell_m=2.0, tile_cells=200, threads=2)
    assert wide.halo > narrow.halo and wide.transform == narrow.transform
    sun = sun_positions(narrow.transform, small_city.crs, narrow.shape, "2026-03-20",
                        "2026-03-21", "30min")  # fmt: skip
    a, _ = _stitch(narrow, tiled_sun_hours(small_city, narrow, sun, labels=True))
    b, _ = _stitch(wide, tiled_sun_hours(small_city, wide, sun, labels=True))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_low_sun_counts_when_nothing_rises_above_the_cutoff(mode):
    """Sun at 2 deg due south of a 12 m wall (shadow 344 m long): a cell 100 m north of it
    (wall at 6.8 deg) stays in shadow; one 300 m north (2.3 deg, under the 5 deg cut-off) is
    lit, as if its horizon were flat. Without the cut-off both are in shadow."""
    z = np.zeros((500, 41))
    z[450, :] = 12.0  # a wall running east-west near the south edge
    sun = pd.DataFrame({"azimuth_deg": [180.0], "elevation_deg": [2.0], "duration_h": [1.0],
                        "dni": [100.0], "dhi": [20.0]})  # fmt: skip
    transform = Affine(1.0, 0, 385000.0, 0, -1.0, 6672000.0)

    def hours(cutoff):
        return irradiation(z, transform, "EPSG:32635", None, None, sun=sun, mode=mode,
                           n_sectors=72, min_sun_elevation_deg=cutoff).sun_hours  # fmt: skip

    plain, cut = hours(0.0), hours(5.0)
    assert plain[350, 20] == 0 and plain[150, 20] == 0
    assert cut[350, 20] == 0 and cut[150, 20] == 1.0
    assert plain[470, 20] == cut[470, 20] == 1.0  # south of the wall: lit either way


def test_plan_chooses_cell_and_tiles_within_the_memory_budget():
    # 100 km2: 1 m cells (10^8 cells); 400 km2: 2 m; a country of 160 km x 160 km: 20 m
    assert choose_cell_m((0.3, 0.3, 10_000.3, 10_000.3)) == 1.0
    assert choose_cell_m((0, 0, 20_000, 20_000)) == 2.0
    assert choose_cell_m((0, 0, 160_000, 160_000)) == 20.0
    assert choose_cell_m((0, 0, 500, 500)) == 1.0
    plan = plan_tiles((0, 0, 10_000, 10_000), 60.0, "EPSG:32635", memory_budget_mb=2000,
                      threads=2)  # fmt: skip
    described = plan.describe()
    assert described["cell_m"] == 1.0 and described["cells"] == 10_000 * 10_000
    # halo: 60 m / tan(5 deg) = 686 m, plus the margins
    assert 686 <= described["halo_m"] <= 700
    assert halo_cells(60.0, 1.0, 5.0) == 688
    # three tiles in flight (two threads + the one being stored) fit in the budget
    assert 3 * tile_bytes(plan.tile_cells, plan.halo, 0) <= 2000e6
    assert described["tiles"] == len(plan.windows()) > 1
    with pytest.raises(ValueError, match="memory_budget_mb"):
        plan_tiles((0, 0, 10_000, 10_000), 60.0, "EPSG:32635", memory_budget_mb=5)
    with pytest.raises(ValueError, match="min_sun_elevation_deg"):
        plan_tiles((0, 0, 100, 100), 10.0, "EPSG:32635", min_sun_elevation_deg=0.0)


def test_sun_hours_cog_is_one_stitched_cloud_optimized_raster(small_city, tmp_path):
    plan = plan_tiles(
        tuple(small_city.total_bounds), float(small_city["height_m"].max()), small_city.crs,
        cell_m=4.0, tile_cells=64, threads=2,
    )  # fmt: skip
    sun = sun_positions(plan.transform, small_city.crs, plan.shape, "2026-06-21",
                        "2026-06-22", "30min")  # fmt: skip
    out = tmp_path / "sun_hours.tif"
    summary = sun_hours_cog(small_city, plan, sun, out)
    hours, _ = _stitch(plan, tiled_sun_hours(small_city, plan, sun, labels=True))
    with rasterio.open(out) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.is_tiled
        assert src.transform == plan.transform and src.shape == plan.shape
        assert src.crs == small_city.crs
        np.testing.assert_array_equal(src.read(1), hours)
    assert summary["plan"]["tiles"] == len(plan.windows())
    assert summary["max_sun_hours_h"] == pytest.approx(float(hours.max()))
    assert list(tmp_path.iterdir()) == [out]  # the temporary GeoTIFF is gone
