"""PNG tiles of raster files (COG): one band through a colour ramp, or RGB(A) as it is."""

from __future__ import annotations

import numpy as np
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

COLORMAPS = (
    "viridis",
    "magma",
    "inferno",
    "plasma",
    "cividis",
    "greys",
    "rdbu",
    "ylorrd",
    "terrain",
)


def png_tile(
    path: str, x: int, y: int, z: int, low: float, high: float, colormap: str = "viridis"
) -> bytes | None:
    """A 256 px web-mercator PNG tile of the file's first band, ``low..high`` on ``colormap``.

    Three- or four-band 8-bit files (aerial photos) are drawn as RGB(A) without a ramp.
    Returns None when the tile lies outside the raster.
    """
    try:
        with Reader(path) as cog:
            rgb = cog.dataset.count in (3, 4) and cog.dataset.dtypes[0] == "uint8"
            image = cog.tile(x, y, z, tilesize=256, indexes=(1, 2, 3) if rgb else (1,))
    except TileOutsideBounds:
        return None
    if rgb:
        return image.render(img_format="PNG")
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        high = low + 1.0
    image.rescale(in_range=((low, high),))
    return image.render(img_format="PNG", colormap=cmap.get(colormap))
