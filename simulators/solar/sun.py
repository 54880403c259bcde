"""Sun positions and irradiance time series (pvlib), and weather files.

Sun position: pvlib's NREL Solar Position Algorithm (Reda & Andreas 2004, ``method="nrel_numpy"``),
apparent (refraction-corrected) elevation. Clear sky: Ineichen-Perez model with pvlib's monthly
Linke turbidity climatology (``pvlib.clearsky.lookup_linke_turbidity``, SoDa/Remund 2003 maps,
shipped with pvlib, no network). A weather file (EPW, TMY3 CSV or a plain CSV with ``ghi``,
``dni``, ``dhi`` columns and a time column) replaces the clear sky when given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
from pyproj import Transformer


def parse_step(step: str | pd.Timedelta) -> pd.Timedelta:
    """``"10min"``, ``"1h"``, ``"30s"`` or a Timedelta -> Timedelta (must be positive)."""
    delta = pd.Timedelta(step)
    if delta <= pd.Timedelta(0):
        raise ValueError(f"time step must be positive, got {step!r}")
    return delta


def sample_times(start, end, step) -> pd.DatetimeIndex:
    """Mid-points of the ``step`` intervals covering ``[start, end)``; each stands for ``step``.

    Naive timestamps are taken as UTC.
    """
    start, end, delta = pd.Timestamp(start), pd.Timestamp(end), parse_step(step)
    if start.tzinfo is None:
        start = start.tz_localize("UTC")
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    if end <= start:
        raise ValueError("end must be after start")
    n = int(np.ceil((end - start) / delta))
    return pd.DatetimeIndex([start + delta * (k + 0.5) for k in range(n)])


def raster_lonlat(transform, crs, shape: tuple[int, int]) -> tuple[float, float]:
    """Longitude and latitude (degrees, WGS 84) of a raster's centre."""
    rows, cols = shape
    x, y = transform @ (cols / 2.0, rows / 2.0)
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(x, y)
    return float(lon), float(lat)


def read_weather(path: str | Path, year: int | None = None) -> pd.DataFrame:
    """Irradiance from a weather file as a DataFrame with ``ghi``, ``dni``, ``dhi`` in W/m2.

    EPW (``.epw``) and TMY3 (``.csv`` with the TMY3 header) are read with pvlib; their hourly
    values are averages over the hour *ending* at the label, so labels are moved back 30 minutes
    to the middle of the hour. Any other CSV needs a first column of ISO times and ``ghi``,
    ``dni``, ``dhi`` columns. ``year`` rewrites the year of typical-year files.
    """
    path = Path(path)
    if path.suffix.lower() == ".epw":
        data, _meta = pvlib.iotools.read_epw(path, coerce_year=year)
        data = data.rename(columns=str.lower)
        data.index = data.index - pd.Timedelta("30min")
    else:
        head = path.read_text(errors="replace").splitlines()[:2]
        if len(head) == 2 and head[0].count(",") in (6, 7) and "Date" in head[1]:
            data, _meta = pvlib.iotools.read_tmy3(path, coerce_year=year, map_variables=True)
            data.index = data.index - pd.Timedelta("30min")
        else:
            data = pd.read_csv(path, index_col=0, parse_dates=True)
            data.columns = [c.lower() for c in data.columns]
            if data.index.tz is None:
                data.index = data.index.tz_localize("UTC")
    missing = {"ghi", "dni", "dhi"} - set(data.columns)
    if missing:
        raise ValueError(f"weather file {path} lacks columns {sorted(missing)}")
    return data[["ghi", "dni", "dhi"]].astype(float)


def sun_series(
    times: pd.DatetimeIndex,
    latitude: float,
    longitude: float,
    altitude_m: float = 0.0,
    weather: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Sun position and irradiance at ``times``.

    Returns a DataFrame indexed by ``times`` with ``azimuth_deg`` (clockwise from north),
    ``elevation_deg`` (apparent), ``zenith_deg`` and ``ghi``, ``dni``, ``dhi`` in W/m2 (clear sky
    Ineichen unless ``weather`` is given; weather is matched to the nearest record).
    """
    location = pvlib.location.Location(latitude, longitude, altitude=altitude_m)
    position = location.get_solarposition(times, method="nrel_numpy")
    frame = pd.DataFrame(
        {
            "azimuth_deg": position["azimuth"].to_numpy(),
            "elevation_deg": position["apparent_elevation"].to_numpy(),
            "zenith_deg": position["apparent_zenith"].to_numpy(),
        },
        index=times,
    )
    if weather is None:
        sky = location.get_clearsky(times, model="ineichen", solar_position=position)
        for col in ("ghi", "dni", "dhi"):
            frame[col] = sky[col].to_numpy()
    else:
        w = weather.copy()
        w.index = w.index.tz_convert(times.tz) if w.index.tz is not None else w.index
        w = w[~w.index.duplicated()].sort_index()
        matched = w.reindex(times, method="nearest")
        for col in ("ghi", "dni", "dhi"):
            frame[col] = matched[col].fillna(0.0).clip(lower=0.0).to_numpy()
    frame.loc[frame["elevation_deg"] <= 0.0, ["ghi", "dni", "dhi"]] = 0.0
    return frame
