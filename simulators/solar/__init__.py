"""Solar engine: shadows, horizons, sun hours, irradiation and rooftop PV over DSM rasters.

Pure Python + numba; no Django. Rasters are north-up, square cells, heights in metres, in a
projected metric CRS. See ``docs/solar.md``.
"""

from .dsm import (
    building_heights,
    building_labels,
    dsm_from_buildings,
    halo_for,
    read_dsm,
    write_raster,
)
from .ranking import rank_roofs
from .roof import roof_planes, roof_pv
from .scenario import proposed_building_impact
from .shadow import (
    horizon_angles,
    horizon_tangent,
    shadow_mask,
    shadow_mask_reference,
    shadow_polygons,
    sky_view_factor,
)
from .sun import read_weather, sample_times, sun_series
from .sunhours import Irradiation, irradiation, sun_hours, sun_positions

__all__ = [
    "rank_roofs",
    "Irradiation",
    "building_heights",
    "building_labels",
    "dsm_from_buildings",
    "halo_for",
    "horizon_angles",
    "horizon_tangent",
    "irradiation",
    "proposed_building_impact",
    "read_dsm",
    "read_weather",
    "roof_planes",
    "roof_pv",
    "sample_times",
    "shadow_mask",
    "shadow_mask_reference",
    "shadow_polygons",
    "sky_view_factor",
    "sun_hours",
    "sun_positions",
    "sun_series",
    "write_raster",
]
