"""Read and check a GTFS feed (zip) into plain tables ready for the database.

Two phases, like every import of the twin:

``inspect_gtfs(path)``
    what can be checked in the request (a 4xx at once): a safe zip, the required files and
    their required columns, route types. Small files only; stop_times.txt is never read here.
``read_gtfs(path, local_epsg, boundary)``
    the whole feed with pandas, checked and turned into the rows to write
    (:class:`GtfsTables`), with a validation report in words: files missing, orphan stops,
    trips without stop times, times past midnight, shapes missing (drawn through the stops),
    stops far outside the city. Structural errors raise ``ImportRejected`` naming the file
    and column; nothing is written by this module.

Times are seconds since the service day's midnight (``25:10:00`` is 90,600 s). Distances are
measured in the city's UTM zone along the trip's shape: every stop of a stop pattern is
projected onto the shape in order (never backwards), so a trip's distance is the distance
along the shape from its first to its last stop.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely import ops

from layers.importers import ImportRejected
from layers.importers.files import check_zip_members, describe

from .modes import route_type_mode

#: file -> columns every row needs (https://gtfs.org/schedule/reference/)
REQUIRED_FILES = {
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
}
OPTIONAL_FILES = {
    "agency.txt": ("agency_name",),
    "calendar.txt": (
        "service_id",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "start_date",
        "end_date",
    ),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: stops further than this outside the city's boundary are reported (kept: regional lines)
FAR_OUTSIDE_KM = 50.0
TIME_RE = re.compile(r"(\d{1,3}):([0-5]\d):([0-5]\d)")
#: how many ids a report lists before "and N more"
EXAMPLES = 5


def _examples(values) -> str:
    values = [str(v) for v in values]
    head = ", ".join(values[:EXAMPLES])
    return head + (f" and {len(values) - EXAMPLES} more" if len(values) > EXAMPLES else "")


# -- the zip ---------------------------------------------------------------------------------


def _members(path: Path) -> dict[str, zipfile.ZipInfo]:
    """GTFS file name -> zip member (the files may sit in one folder of the zip)."""
    members = [m for m in check_zip_members(path) if not m.is_dir()]
    found: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        name = PurePosixPath(info.filename.replace("\\", "/")).name.lower()
        if name.endswith(".txt") and name not in found:
            found[name] = info
    return found


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[str]:
    with archive.open(info) as handle:
        line = handle.readline(1 << 16)
    text = line.decode("utf-8-sig", errors="replace").strip()
    return [c.strip().strip('"') for c in text.split(",")] if text else []


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> pd.DataFrame:
    try:
        with archive.open(info) as handle:
            frame = pd.read_csv(
                io.BytesIO(handle.read()),
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skipinitialspace=True,
            )
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise ImportRejected(name, f"{name} cannot be read as CSV ({describe(exc)})") from exc
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ImportRejected("file", f"the zip is damaged: {name} does not unpack") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda col: col.str.strip())


def _check_columns(name: str, columns: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise ImportRejected(
            f"{name} {missing[0]}",
            f"{name} has no {', '.join(missing)} column (it has {', '.join(columns) or 'none'})",
        )


def inspect_gtfs(path: Path) -> dict:
    """The checks done in the request (cheap): raises ``ImportRejected`` (400) or returns
    what was found (files, routes, modes)."""
    members = _members(path)
    missing = [n for n in REQUIRED_FILES if n not in members]
    if missing:
        raise ImportRejected(
            missing[0],
            f"the GTFS zip has no {', '.join(missing)}: a feed needs stops.txt, routes.txt, "
            "trips.txt and stop_times.txt (and calendar.txt or calendar_dates.txt)",
        )
    if "calendar.txt" not in members and "calendar_dates.txt" not in members:
        raise ImportRejected(
            "calendar.txt",
            "the GTFS zip has neither calendar.txt nor calendar_dates.txt: no trip has a day",
        )
    with zipfile.ZipFile(path) as archive:
        for name, required in {**REQUIRED_FILES, **OPTIONAL_FILES}.items():
            if name in members:
                _check_columns(name, _header(archive, members[name]), required)
        routes = _read(archive, members["routes.txt"], "routes.txt")
    modes = _route_modes(routes)
    return {
        "kind": "gtfs",
        "files": sorted(members),
        "routes": len(routes),
        "modes": sorted(set(modes)),
    }


def _route_modes(routes: pd.DataFrame) -> list[str]:
    """Engine mode per route; an unknown route_type is a rejection naming the routes."""
    numbers = pd.to_numeric(routes["route_type"], errors="coerce")
    modes = [route_type_mode(int(n)) if pd.notna(n) else None for n in numbers]
    bad = [i for i, m in enumerate(modes) if m is None]
    if bad:
        pairs = [f"{routes['route_id'].iat[i]} ({routes['route_type'].iat[i]!r})" for i in bad]
        raise ImportRejected(
            "routes.txt route_type",
            f"unknown route_type for route {_examples(pairs)}: use a GTFS route type "
            "(0-7, 11, 12, or an extended type 100-1799)",
        )
    return modes


# -- times and dates --------------------------------------------------------------------------


def parse_times(values: pd.Series, name: str, column: str, rows: np.ndarray) -> np.ndarray:
    """``H:MM:SS`` (hours may pass 24) -> seconds since service-day midnight; blank -> NaN.

    ``rows`` are the file's line numbers, for the message naming a bad value.
    """
    # a feed repeats few distinct times (Cairns: ~1,400 in 37,790): parse each once
    distinct, inverse = np.unique(values.to_numpy(dtype=str), return_inverse=True)
    parsed = np.full(len(distinct), np.nan)
    for k, text in enumerate(distinct.tolist()):
        if text == "":
            continue
        match = TIME_RE.fullmatch(text)
        if match is None:
            i = int(np.flatnonzero(inverse == k)[0])
            raise ImportRejected(
                f"{name} {column}",
                f"line {rows[i]}: {text!r} is not a time of day HH:MM:SS "
                "(hours may pass 24 for trips after midnight)",
            )
        h, m, sec = match.groups()
        parsed[k] = int(h) * 3600 + int(m) * 60 + int(sec)
    return parsed[inverse.reshape(-1)]


def _dates(values: pd.Series, name: str, column: str) -> list[dt.date]:
    parsed = pd.to_datetime(values, format="%Y%m%d", errors="coerce")
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise ImportRejected(
            f"{name} {column}", f"line {i + 2}: {values.iat[i]!r} is not a date YYYYMMDD"
        )
    return [d.date() for d in parsed]


def _integers(values: pd.Series, name: str, column: str, default: int | None = None) -> np.ndarray:
    if default is not None:
        values = values.mask(values.eq(""), str(default))
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers != np.floor(numbers))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ImportRejected(
            f"{name} {column}", f"line {i + 2}: {values.iat[i]!r} is not a whole number"
        )
    return numbers.to_numpy(dtype=np.int64)


def format_time(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


# -- geometry ----------------------------------------------------------------------------------


def stop_distances(
    line: shapely.LineString, points: np.ndarray, reach_m: float = 1000.0
) -> np.ndarray:
    """Distance along ``line`` of each point, in the points' order and never backwards.

    A shape may pass a stop twice (a loop, an out-and-back street), so the nearest point of
    the whole line is not always where the vehicle stops. Each stop gets candidate positions
    where its distance to the shape has a local minimum (no further than ``reach_m`` beyond
    its nearest distance); the chosen positions are the non-decreasing sequence with the
    least total distance between stops and shape (dynamic programming over the candidates).
    Units are those of the coordinates (metres in UTM).
    """
    coords = shapely.get_coordinates(line)
    a, b = coords[:-1], coords[1:]
    ab = b - a
    seg_len = np.hypot(ab[:, 0], ab[:, 1])
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    safe = np.where(seg_len > 0, seg_len**2, 1.0)
    candidates: list[tuple[np.ndarray, np.ndarray]] = []
    for x, y in points:
        t = np.clip(((x - a[:, 0]) * ab[:, 0] + (y - a[:, 1]) * ab[:, 1]) / safe, 0.0, 1.0)
        px, py = a[:, 0] + t * ab[:, 0], a[:, 1] + t * ab[:, 1]
        gap = np.hypot(px - x, py - y)
        padded = np.concatenate([[np.inf], gap, [np.inf]])
        local_min = (gap <= padded[:-2]) & (gap <= padded[2:])
        near = np.flatnonzero(local_min & (gap <= gap.min() + reach_m))
        pos = cum[near] + t[near] * seg_len[near]
        candidates.append((pos, gap[near]))
    # cost[j]: least total gap with the current stop at candidate j
    pos, cost = candidates[0]
    back: list[np.ndarray] = []
    for next_pos, next_gap in candidates[1:]:
        allowed = pos[None, :] <= next_pos[:, None] + 1e-6
        total = np.where(allowed, cost[None, :], np.inf)
        best = np.argmin(total, axis=1)
        best_cost = total[np.arange(len(next_pos)), best]
        # no earlier candidate fits (the stop would lie behind): stay at the best earlier
        # position, paying the distance it would have to go back
        stuck = ~np.isfinite(best_cost)
        if stuck.any():
            best[stuck] = int(np.argmin(cost))
            behind = np.abs(pos[best] - next_pos)
            next_pos = np.where(stuck, pos[best], next_pos)
            best_cost = np.where(stuck, cost[best] + behind, best_cost)
        back.append(best)
        pos, cost = next_pos, best_cost + next_gap
        candidates[len(back)] = (pos, cost)
    j = int(np.argmin(cost))
    out = np.zeros(len(points))
    for i in range(len(points) - 1, -1, -1):
        out[i] = candidates[i][0][j]
        if i > 0:
            j = int(back[i - 1][j])
    return out


# -- the tables handed to the writer ----------------------------------------------------------


@dataclass
class GtfsTables:
    """A checked feed: plain frames in the shape of the transit tables (lon/lat geometries,
    lengths in metres, times in seconds) and the report."""

    agencies: pd.DataFrame
    routes: pd.DataFrame
    stops: pd.DataFrame
    shapes: pd.DataFrame
    patterns: pd.DataFrame
    trips: pd.DataFrame
    stop_times: pd.DataFrame
    calendars: pd.DataFrame
    calendar_dates: pd.DataFrame
    frequencies: pd.DataFrame
    timezone: str = ""
    service_start: dt.date | None = None
    service_end: dt.date | None = None
    warnings: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def warn(self, code: str, message: str) -> None:
        self.warnings.append({"code": code, "message": message})


def read_gtfs(
    path: Path,
    local_epsg: int,
    boundary: shapely.Geometry | None = None,
    progress=lambda f, s: None,
) -> GtfsTables:
    """Read, check and prepare a whole GTFS zip (see the module's docstring).

    Parameters
    ----------
    path : the GTFS zip.
    local_epsg : the city's UTM zone (EPSG code), where lengths are measured.
    boundary : the city's boundary in EPSG:4326, to report stops far outside it.
    progress : ``progress(fraction, stage)``, fractions 0-0.6 of the whole import.
    """
    members = _members(path)
    info = inspect_gtfs(path)
    raw: dict[str, pd.DataFrame] = {}
    with zipfile.ZipFile(path) as archive:
        for i, name in enumerate(info["files"]):
            if name in REQUIRED_FILES or name in OPTIONAL_FILES:
                progress(0.02 + 0.1 * i / len(info["files"]), f"reading {name}")
                raw[name] = _read(archive, members[name], name)
    to_local = pyproj.Transformer.from_crs(4326, local_epsg, always_xy=True)
    out = GtfsTables(*([pd.DataFrame()] * 10))
    for name in OPTIONAL_FILES:
        if name not in raw:
            out.notes.append(f"{name} is not in the feed")

    agencies = raw.get("agency.txt", pd.DataFrame(columns=["agency_name"]))
    out.agencies = pd.DataFrame(
        {
            "agency_id": agencies.get("agency_id", pd.Series([""] * len(agencies))).to_numpy(),
            "name": agencies["agency_name"].to_numpy(),
            "url": agencies.get("agency_url", pd.Series([""] * len(agencies))).to_numpy(),
            "timezone": agencies.get("agency_timezone", pd.Series([""] * len(agencies))).to_numpy(),
        }
    )
    if "agency.txt" not in raw:
        out.warn("no_agency", "agency.txt is missing: the feed's time zone is not known")
    out.timezone = str(out.agencies["timezone"].iat[0]) if len(out.agencies) else ""

    progress(0.15, "checking stops")
    _stops(raw["stops.txt"], out, to_local, boundary)
    _routes(raw["routes.txt"], out)
    progress(0.2, "checking trips and stop times")
    trips = _trips(raw["trips.txt"], out)
    stop_times = _stop_times(raw["stop_times.txt"], trips, out)
    progress(0.35, "stop patterns and shapes")
    shapes = _shapes(raw.get("shapes.txt"), out, to_local)
    _patterns(trips, stop_times, shapes, out, to_local)
    progress(0.5, "calendars")
    _calendars(raw.get("calendar.txt"), raw.get("calendar_dates.txt"), out)
    _frequencies(raw.get("frequencies.txt"), out)
    used = set(out.trips["service_id"])
    known = set(out.calendars.get("service_id", [])) | set(out.calendar_dates.get("service_id", []))
    never = sorted(used - known)
    if never:
        out.warn(
            "service_without_calendar",
            f"{len(never)} service ids of trips are in neither calendar.txt nor "
            f"calendar_dates.txt, so their trips never run: {_examples(never)}",
        )
    return out


def _stops(frame: pd.DataFrame, out: GtfsTables, to_local, boundary) -> None:
    dup = frame["stop_id"][frame["stop_id"].duplicated()]
    if len(dup):
        raise ImportRejected("stops.txt stop_id", f"stop ids repeat: {_examples(dup.unique())}")
    location = _integers(
        frame.get("location_type", pd.Series([""] * len(frame))), "stops.txt", "location_type", 0
    )
    lat = pd.to_numeric(frame.get("stop_lat"), errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(frame.get("stop_lon"), errors="coerce").to_numpy(dtype=float)
    # entrances' generic nodes and boarding areas (3, 4) may lack a position: not stops
    placeless = np.isnan(lat) | np.isnan(lon)
    skip = placeless & (location >= 3)
    bad = (placeless & ~skip) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImportRejected(
            "stops.txt stop_lat",
            f"stop {frame['stop_id'].iat[i]} (line {i + 2}) has no valid position: latitude "
            f"{frame.get('stop_lat').iat[i]!r}, longitude {frame.get('stop_lon').iat[i]!r}",
        )
    keep = ~skip
    frame, lat, lon, location = frame[keep], lat[keep], lon[keep], location[keep]
    x, y = to_local.transform(lon, lat)
    outside = np.full(len(frame), np.nan)
    if boundary is not None and not boundary.is_empty:
        local_boundary = shapely.transform(
            boundary, lambda c: np.column_stack(to_local.transform(c[:, 0], c[:, 1]))
        )
        dist_km = shapely.distance(local_boundary, shapely.points(x, y)) / 1000.0
        outside = np.where(dist_km > 0, dist_km, np.nan)
        far = np.flatnonzero(dist_km > FAR_OUTSIDE_KM)
        if len(far) == len(frame):
            raise ImportRejected(
                "city",
                f"every stop of the feed is more than {FAR_OUTSIDE_KM:.0f} km outside the city "
                f"(the nearest {dist_km.min():.0f} km): is this the feed of another city?",
            )
        if len(far):
            listed = [f"{frame['stop_id'].iat[i]} ({dist_km[i]:,.0f} km)" for i in far]
            out.warn(
                "stops_far_outside",
                f"{len(far)} stops lie more than {FAR_OUTSIDE_KM:.0f} km outside the city: "
                f"{_examples(listed)}; they are kept (a regional line may go there) and marked",
            )
    out.stops = pd.DataFrame(
        {
            "stop_id": frame["stop_id"].to_numpy(),
            "code": frame.get("stop_code", pd.Series([""] * len(frame))).to_numpy(),
            "name": frame.get("stop_name", pd.Series([""] * len(frame))).to_numpy(),
            "lon": lon,
            "lat": lat,
            "x_m": x,
            "y_m": y,
            "location_type": location,
            "parent_station": frame.get("parent_station", pd.Series([""] * len(frame))).to_numpy(),
            "outside_city_km": outside,
        }
    )
    if skip.any():
        out.notes.append(f"{int(skip.sum())} entrances/boarding areas without a position skipped")


def _routes(frame: pd.DataFrame, out: GtfsTables) -> None:
    dup = frame["route_id"][frame["route_id"].duplicated()]
    if len(dup):
        raise ImportRejected("routes.txt route_id", f"route ids repeat: {_examples(dup.unique())}")
    modes = _route_modes(frame)
    empty = pd.Series([""] * len(frame), index=frame.index)
    out.routes = pd.DataFrame(
        {
            "route_id": frame["route_id"].to_numpy(),
            "agency_id": frame.get("agency_id", empty).to_numpy(),
            "short_name": frame.get("route_short_name", empty).to_numpy(),
            "long_name": frame.get("route_long_name", empty).to_numpy(),
            "route_type": pd.to_numeric(frame["route_type"]).astype(int).to_numpy(),
            "mode": modes,
            "color": frame.get("route_color", empty).str.upper().str[:6].to_numpy(),
            "text_color": frame.get("route_text_color", empty).str.upper().str[:6].to_numpy(),
        }
    )


def _trips(frame: pd.DataFrame, out: GtfsTables) -> pd.DataFrame:
    dup = frame["trip_id"][frame["trip_id"].duplicated()]
    if len(dup):
        raise ImportRejected("trips.txt trip_id", f"trip ids repeat: {_examples(dup.unique())}")
    unknown = sorted(set(frame["route_id"]) - set(out.routes["route_id"]))
    if unknown:
        raise ImportRejected(
            "trips.txt route_id", f"trips name routes not in routes.txt: {_examples(unknown)}"
        )
    empty = pd.Series([""] * len(frame), index=frame.index)
    direction = pd.to_numeric(frame.get("direction_id", empty), errors="coerce")
    return pd.DataFrame(
        {
            "trip_id": frame["trip_id"].to_numpy(),
            "route_id": frame["route_id"].to_numpy(),
            "service_id": frame["service_id"].to_numpy(),
            "headsign": frame.get("trip_headsign", empty).to_numpy(),
            "direction_id": direction.to_numpy(),
            "block_id": frame.get("block_id", empty).to_numpy(),
            "shape_id": frame.get("shape_id", empty).to_numpy(),
        }
    )


def _stop_times(frame: pd.DataFrame, trips: pd.DataFrame, out: GtfsTables) -> pd.DataFrame:
    lines = np.arange(2, len(frame) + 2)
    seq = _integers(frame["stop_sequence"], "stop_times.txt", "stop_sequence")
    empty = pd.Series([""] * len(frame), index=frame.index)
    arrival = parse_times(frame.get("arrival_time", empty), "stop_times.txt", "arrival_time", lines)
    departure = parse_times(
        frame.get("departure_time", empty), "stop_times.txt", "departure_time", lines
    )
    # one of the two given: the other is the same moment
    arrival = np.where(np.isnan(arrival), departure, arrival)
    departure = np.where(np.isnan(departure), arrival, departure)
    st = pd.DataFrame(
        {
            "trip_id": frame["trip_id"].to_numpy(),
            "stop_id": frame["stop_id"].to_numpy(),
            "stop_sequence": seq,
            "arrival_s": arrival,
            "departure_s": departure,
            "pickup_type": _integers(
                frame.get("pickup_type", empty), "stop_times.txt", "pickup_type", 0
            ),
            "drop_off_type": _integers(
                frame.get("drop_off_type", empty), "stop_times.txt", "drop_off_type", 0
            ),
        }
    )
    unknown_stops = sorted(set(st["stop_id"]) - set(out.stops["stop_id"]))
    if unknown_stops:
        raise ImportRejected(
            "stop_times.txt stop_id",
            f"stop times name stops not in stops.txt: {_examples(unknown_stops)}",
        )
    unknown_trips = sorted(set(st["trip_id"]) - set(trips["trip_id"]))
    if unknown_trips:
        out.warn(
            "stop_times_unknown_trip",
            f"{len(unknown_trips)} trip ids of stop_times.txt are not in trips.txt; their stop "
            f"times are left out: {_examples(unknown_trips)}",
        )
        st = st[~st["trip_id"].isin(unknown_trips)]
    st = st.sort_values(["trip_id", "stop_sequence"], kind="stable").reset_index(drop=True)
    dup = st.duplicated(["trip_id", "stop_sequence"])
    if dup.any():
        row = st[dup].iloc[0]
        raise ImportRejected(
            "stop_times.txt stop_sequence",
            f"trip {row['trip_id']} has stop_sequence {row['stop_sequence']} twice",
        )
    counts = st.groupby("trip_id").size()
    without = sorted(set(trips["trip_id"]) - set(counts.index))
    if without:
        out.warn(
            "trips_without_stop_times",
            f"{len(without)} trips have no stop times and are left out: {_examples(without)}",
        )
    single = sorted(counts.index[counts < 2])
    if single:
        out.warn(
            "trips_with_one_stop",
            f"{len(single)} trips have a single stop time and are left out: {_examples(single)}",
        )
        st = st[~st["trip_id"].isin(single)]
    # first and last stop must have times; the ones between may be blank (interpolated later)
    first = st.groupby("trip_id", sort=False).head(1)
    last = st.groupby("trip_id", sort=False).tail(1)
    untimed = sorted(
        set(first.loc[first["departure_s"].isna(), "trip_id"])
        | set(last.loc[last["arrival_s"].isna(), "trip_id"])
    )
    if untimed:
        out.warn(
            "trips_without_end_times",
            f"{len(untimed)} trips lack a time at their first or last stop and are left out: "
            f"{_examples(untimed)}",
        )
        st = st[~st["trip_id"].isin(untimed)]
    return st.reset_index(drop=True)


def _shapes(frame: pd.DataFrame | None, out: GtfsTables, to_local) -> dict:
    """shape_id -> (lon/lat LineString, local LineString)."""
    if frame is None or frame.empty:
        return {}
    seq = _integers(frame["shape_pt_sequence"], "shapes.txt", "shape_pt_sequence")
    lat = pd.to_numeric(frame["shape_pt_lat"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(frame["shape_pt_lon"], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(lat) | np.isnan(lon) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ImportRejected(
            "shapes.txt shape_pt_lat",
            f"line {i + 2}: shape {frame['shape_id'].iat[i]} has no valid point",
        )
    pts = pd.DataFrame(
        {"shape_id": frame["shape_id"].to_numpy(), "seq": seq, "lon": lon, "lat": lat}
    )
    pts = pts.sort_values(["shape_id", "seq"], kind="stable")
    x, y = to_local.transform(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    pts["x"], pts["y"] = x, y
    shapes = {}
    short = []
    for shape_id, group in pts.groupby("shape_id", sort=False):
        if len(group) < 2:
            short.append(shape_id)
            continue
        shapes[shape_id] = (
            shapely.linestrings(group[["lon", "lat"]].to_numpy()),
            shapely.linestrings(group[["x", "y"]].to_numpy()),
        )
    if short:
        out.warn(
            "shapes_too_short",
            f"{len(short)} shapes have fewer than two points and are not used: {_examples(short)}",
        )
    return shapes


def _patterns(
    trips: pd.DataFrame, st: pd.DataFrame, shapes: dict, out: GtfsTables, to_local
) -> None:
    """Group trips by route, direction, shape and stop sequence; measure each pattern."""
    kept = trips[trips["trip_id"].isin(st["trip_id"])].copy()
    sequences = st.groupby("trip_id", sort=False)["stop_id"].agg(tuple)
    kept["stops"] = kept["trip_id"].map(sequences)
    missing_shape = ~kept["shape_id"].isin(list(shapes))
    if missing_shape.any():
        named = kept.loc[missing_shape & kept["shape_id"].ne(""), "shape_id"].unique()
        if len(named):
            out.warn(
                "unknown_shapes",
                f"{len(named)} shape ids of trips.txt are not in shapes.txt: {_examples(named)}",
            )
        kept.loc[missing_shape, "shape_id"] = ""
    kept["dir_key"] = kept["direction_id"].fillna(-1).astype(int)
    keys = ["route_id", "dir_key", "shape_id", "stops"]
    kept["pattern_n"] = kept.groupby(keys, sort=True).ngroup()
    where = {sid: i for i, sid in enumerate(out.stops["stop_id"])}
    stop_xy = out.stops[["x_m", "y_m"]].to_numpy()
    stop_lonlat = out.stops[["lon", "lat"]].to_numpy()
    patterns, derived_shapes = [], []
    per_route: dict[str, int] = {}
    pattern_ids = {}
    for n, group in kept.groupby("pattern_n", sort=True):
        head = group.iloc[0]
        route_id = head["route_id"]
        per_route[route_id] = per_route.get(route_id, 0) + 1
        pattern_id = f"{route_id}:{per_route[route_id]}"
        pattern_ids[n] = pattern_id
        stops = list(head["stops"])
        index = [where[sid] for sid in stops]
        xy, lonlat = stop_xy[index], stop_lonlat[index]
        if head["shape_id"]:
            shape_id = head["shape_id"]
            geom, local = shapes[shape_id]
        else:
            shape_id = f"derived:{pattern_id}"
            geom, local = shapely.linestrings(lonlat), shapely.linestrings(xy)
            derived_shapes.append((shape_id, geom, float(local.length)))
        dist = stop_distances(local, xy)
        headsigns = group["headsign"][group["headsign"].ne("")]
        patterns.append(
            {
                "pattern_id": pattern_id,
                "route_id": route_id,
                "direction_id": None if head["dir_key"] < 0 else int(head["dir_key"]),
                "headsign": headsigns.mode().iat[0] if len(headsigns) else "",
                "stop_ids": stops,
                "stop_dist_m": dist,
                "segment_m": np.diff(dist).tolist(),
                "shape_id": shape_id,
                "geom": _pattern_geometry(geom, local, dist),
                "length_m": float(dist[-1] - dist[0]),
                "trip_count": len(group),
            }
        )
    out.patterns = pd.DataFrame(patterns)
    kept["pattern_id"] = kept["pattern_n"].map(pattern_ids)
    if derived_shapes:
        n_trips = int((kept["shape_id"] == "").sum())
        out.warn(
            "shapes_derived",
            f"{len(derived_shapes)} stop patterns ({n_trips} trips) have no shape in the feed: "
            "their shape is drawn through the stops in order (straight lines, shorter than the "
            "streets)",
        )
    kept.loc[kept["shape_id"] == "", "shape_id"] = "derived:" + kept["pattern_id"]
    shape_rows = [
        {"shape_id": sid, "geom": g, "length_m": float(loc.length), "derived": False}
        for sid, (g, loc) in shapes.items()
    ] + [
        {"shape_id": sid, "geom": g, "length_m": ln, "derived": True}
        for sid, g, ln in derived_shapes
    ]
    out.shapes = pd.DataFrame(shape_rows, columns=["shape_id", "geom", "length_m", "derived"])
    _trip_times(kept, st, out)


def _pattern_geometry(geom, local, dist: np.ndarray):
    """The lon/lat shape cut to the stretch between the pattern's first and last stops."""
    if local.length <= 0 or dist[-1] <= dist[0]:
        return geom
    # the fraction along the local line is (nearly) the fraction along the lon/lat line
    start, end = dist[0] / local.length, dist[-1] / local.length
    part = ops.substring(geom, start, end, normalized=True)
    return part if part.geom_type == "LineString" else geom


def _trip_times(trips: pd.DataFrame, st: pd.DataFrame, out: GtfsTables) -> None:
    """Trip start/end/distance; blank intermediate times interpolated by distance."""
    dist_of = {r.pattern_id: r.stop_dist_m for r in out.patterns.itertuples()}
    st = st[st["trip_id"].isin(trips["trip_id"])].copy()
    pattern_of = trips.set_index("trip_id")["pattern_id"]
    st["pattern_id"] = st["trip_id"].map(pattern_of)
    st["position"] = st.groupby("trip_id", sort=False).cumcount()
    # each stop time's distance: its pattern's stop distances, by position in the trip
    flat = np.concatenate([np.asarray(d, dtype=float) for d in dist_of.values()])
    starts = np.cumsum([0] + [len(d) for d in dist_of.values()])[:-1]
    first = dict(zip(dist_of, starts))
    st["shape_dist_m"] = flat[st["pattern_id"].map(first).to_numpy() + st["position"].to_numpy()]
    st["interpolated"] = st["arrival_s"].isna()
    if st["interpolated"].any():
        blank_trips = st.loc[st["interpolated"], "trip_id"].unique()
        rows_of = st.groupby("trip_id", sort=False).indices
        arrival = st["arrival_s"].to_numpy(copy=True)
        departure = st["departure_s"].to_numpy(copy=True)
        d_all = st["shape_dist_m"].to_numpy()
        for trip_id in blank_trips:
            rows = rows_of[trip_id]
            d, t = d_all[rows], departure[rows]
            known = ~np.isnan(t)
            filled = np.interp(d, d[known], t[known])
            arrival[rows] = np.where(known, arrival[rows], filled)
            departure[rows] = np.where(known, t, filled)
        st["arrival_s"], st["departure_s"] = arrival, departure
        out.notes.append(
            f"{int(st['interpolated'].sum())} stop times without a time interpolated along the "
            f"shape ({len(blank_trips)} trips)"
        )
    grouped = st.groupby("trip_id", sort=False)
    start = grouped["departure_s"].first()
    end = grouped["arrival_s"].last()
    first_d = grouped["shape_dist_m"].first()
    last_d = grouped["shape_dist_m"].last()
    trips = trips.set_index("trip_id")
    trips["start_s"] = start
    trips["end_s"] = end
    trips["distance_m"] = last_d - first_d
    trips = trips.reset_index()
    backwards = st["departure_s"].to_numpy()
    order_bad = (np.diff(backwards) < 0) & (
        st["trip_id"].to_numpy()[1:] == st["trip_id"].to_numpy()[:-1]
    )
    if order_bad.any():
        bad_trips = st["trip_id"].to_numpy()[1:][order_bad]
        out.warn(
            "times_go_backwards",
            f"{len(set(bad_trips))} trips have a stop time earlier than the one before: "
            f"{_examples(sorted(set(bad_trips)))}",
        )
    late = trips[trips["end_s"] >= 86400]
    if len(late):
        out.notes.append(
            f"{len(late)} trips run past midnight (the latest ends at "
            f"{format_time(late['end_s'].max())}): kept as times of the service day that "
            "began before midnight"
        )
    out.trips = trips[
        [
            "trip_id",
            "route_id",
            "pattern_id",
            "service_id",
            "headsign",
            "direction_id",
            "block_id",
            "shape_id",
            "start_s",
            "end_s",
            "distance_m",
        ]
    ]
    out.stop_times = st[
        [
            "trip_id",
            "stop_id",
            "stop_sequence",
            "arrival_s",
            "departure_s",
            "interpolated",
            "shape_dist_m",
            "pickup_type",
            "drop_off_type",
        ]
    ].reset_index(drop=True)
    served = set(st["stop_id"])
    orphans = out.stops.loc[~out.stops["stop_id"].isin(served) & out.stops["location_type"].eq(0)]
    out.stops["served"] = out.stops["stop_id"].isin(served)
    if len(orphans):
        out.warn(
            "orphan_stops",
            f"{len(orphans)} stops are served by no trip (kept, marked unserved): "
            f"{_examples(orphans['stop_id'])}",
        )


def _calendars(cal: pd.DataFrame | None, dates: pd.DataFrame | None, out: GtfsTables) -> None:
    spans = []
    if cal is not None and len(cal):
        weekdays = np.column_stack([_integers(cal[d], "calendar.txt", d) == 1 for d in WEEKDAYS])
        starts = _dates(cal["start_date"], "calendar.txt", "start_date")
        ends = _dates(cal["end_date"], "calendar.txt", "end_date")
        out.calendars = pd.DataFrame(
            {
                "service_id": cal["service_id"].to_numpy(),
                "weekdays": [list(map(bool, row)) for row in weekdays],
                "start_date": starts,
                "end_date": ends,
            }
        )
        spans += starts + ends
    else:
        out.calendars = pd.DataFrame(columns=["service_id", "weekdays", "start_date", "end_date"])
    if dates is not None and len(dates):
        days = _dates(dates["date"], "calendar_dates.txt", "date")
        kinds = _integers(dates["exception_type"], "calendar_dates.txt", "exception_type")
        if not np.isin(kinds, (1, 2)).all():
            i = int(np.flatnonzero(~np.isin(kinds, (1, 2)))[0])
            raise ImportRejected(
                "calendar_dates.txt exception_type",
                f"line {i + 2}: exception_type must be 1 (added) or 2 (removed), not {kinds[i]}",
            )
        out.calendar_dates = pd.DataFrame(
            {"service_id": dates["service_id"].to_numpy(), "date": days, "exception_type": kinds}
        )
        spans += [d for d, k in zip(days, kinds) if k == 1]
    else:
        out.calendar_dates = pd.DataFrame(columns=["service_id", "date", "exception_type"])
    if spans:
        out.service_start, out.service_end = min(spans), max(spans)


def _frequencies(frame: pd.DataFrame | None, out: GtfsTables) -> None:
    if frame is None or frame.empty:
        out.frequencies = pd.DataFrame(
            columns=["trip_id", "start_s", "end_s", "headway_s", "exact_times"]
        )
        return
    lines = np.arange(2, len(frame) + 2)
    start = parse_times(frame["start_time"], "frequencies.txt", "start_time", lines)
    end = parse_times(frame["end_time"], "frequencies.txt", "end_time", lines)
    headway = _integers(frame["headway_secs"], "frequencies.txt", "headway_secs")
    if np.isnan(start).any() or np.isnan(end).any() or (headway <= 0).any() or (end <= start).any():
        raise ImportRejected(
            "frequencies.txt",
            "every frequency needs a start before its end and a positive headway_secs",
        )
    exact = _integers(
        frame.get("exact_times", pd.Series([""] * len(frame))), "frequencies.txt", "exact_times", 0
    )
    freq = pd.DataFrame(
        {
            "trip_id": frame["trip_id"].to_numpy(),
            "start_s": start.astype(int),
            "end_s": end.astype(int),
            "headway_s": headway,
            "exact_times": exact == 1,
        }
    )
    unknown = ~freq["trip_id"].isin(out.trips["trip_id"])
    if unknown.any():
        out.warn(
            "frequencies_unknown_trip",
            f"{int(unknown.sum())} frequencies name trips that are not imported; left out: "
            f"{_examples(freq.loc[unknown, 'trip_id'].unique())}",
        )
    out.frequencies = freq[~unknown].reset_index(drop=True)
