"""The transit engine's input built from the transit tables (contract: ``TransitSupply``).

One :class:`~simulators.transit.network.TransitLine` per stop pattern that runs in the period:

- headway: the period's length divided by the departures from the pattern's first stop in
  it (trips of the services active that day; a trip of ``frequencies.txt`` departs every
  ``headway_secs`` over its windows instead of once);
- in-vehicle time per segment: the mean over those trips of departure to next departure
  (arrival at the last stop), so the segments add up to the trip's duration;
- segment lengths along the shape (measured at import, ``Pattern.segment_m``);
- capacity: departures per hour x the mode's vehicle capacity (``transit.modes.DEFAULTS``).

OSM lines (no timetable) run all day at their documented default headway and speed.
Trips after midnight belong to the service day before (GTFS): a period early in the morning
also counts the previous day's trips at 24:00-30:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from django.db import connection

from layers.models import City
from simulators.transit.network import TransitLine, TransitStop, TransitSupply

from .models import Calendar, CalendarDate, Feed, Frequency, Pattern, Route
from .modes import DEFAULTS

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def active_services(feed: Feed, day: dt.date | str) -> set[str]:
    """Service ids running on ``day``: a date (calendar.txt and its calendar_dates.txt
    exceptions) or a weekday name ("tuesday": calendar.txt alone, a typical week)."""
    if isinstance(day, str):
        index = DAY_NAMES.index(day.lower())
        return {c.service_id for c in Calendar.objects.filter(feed=feed) if c.weekdays[index]}
    running = {
        c.service_id
        for c in Calendar.objects.filter(feed=feed, start_date__lte=day, end_date__gte=day)
        if c.weekdays[day.weekday()]
    }
    for exception in CalendarDate.objects.filter(feed=feed, date=day):
        if exception.exception_type == CalendarDate.Kind.ADDED:
            running.add(exception.service_id)
        else:
            running.discard(exception.service_id)
    return running


def _day_before(day: dt.date | str) -> dt.date | str:
    if isinstance(day, str):
        return DAY_NAMES[(DAY_NAMES.index(day.lower()) - 1) % 7]
    return day - dt.timedelta(days=1)


def _check_day(day) -> dt.date | str:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    if isinstance(day, str):
        try:
            return dt.date.fromisoformat(day)
        except ValueError:
            if day.lower() in DAY_NAMES:
                return day.lower()
    raise ValueError(f"day: {day!r} is neither a date (YYYY-MM-DD) nor a weekday name")


def _departures(feed: Feed, day, start_s: float, end_s: float) -> pd.DataFrame:
    """Trips departing their first stop in [start_s, end_s): trip pk, pattern pk, the day
    offset (0, or -86,400 s for the previous service day) and how many departures each
    stands for (1, or its frequencies' departures in the period)."""
    frames = []
    for offset, service_day in ((0, day), (-86400, _day_before(day))):
        services = active_services(feed, service_day)
        if not services:
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT t.id, t.pattern_id, t.start_s, t.end_s,
                       EXISTS (SELECT 1 FROM transit_frequency f WHERE f.trip_id = t.id)
                FROM transit_trip t
                WHERE t.feed_id = %s AND t.service_id = ANY(%s)
                """,
                [feed.pk, list(services)],
            )
            rows = cursor.fetchall()
        trips = pd.DataFrame(rows, columns=["trip", "pattern", "start_s", "end_s", "has_freq"])
        trips["start_s"] += offset
        trips["offset"] = offset
        plain = trips[~trips["has_freq"]]
        plain = plain[(plain["start_s"] >= start_s) & (plain["start_s"] < end_s)].assign(count=1.0)
        frames.append(plain)
        templated = trips[trips["has_freq"]]
        if len(templated):
            counts = []
            for trip in templated.itertuples():
                n = 0.0
                for f in Frequency.objects.filter(trip_id=trip.trip):
                    lo, hi = max(f.start_s + offset, start_s), min(f.end_s + offset, end_s)
                    n += max(0.0, hi - lo) / f.headway_s
                counts.append(n)
            templated = templated.assign(count=counts)
            frames.append(templated[templated["count"] > 0])
    if not frames:
        return pd.DataFrame(columns=["trip", "pattern", "start_s", "end_s", "offset", "count"])
    return pd.concat(frames, ignore_index=True)


def _segment_times(trip_ids: list[int]) -> dict[int, np.ndarray]:
    """Trip pk -> in-vehicle time of each segment, s (departure to next departure)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT trip_id, arrival_s, departure_s FROM transit_stoptime
            WHERE trip_id = ANY(%s) ORDER BY trip_id, stop_sequence
            """,
            [trip_ids],
        )
        rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 3)
    out = {}
    if not len(rows):
        return out
    breaks = np.flatnonzero(np.diff(rows[:, 0])) + 1
    for block in np.split(rows, breaks):
        times = block[:, 2].astype(float)
        times[-1] = block[-1, 1]  # the last stop: its arrival
        out[int(block[0, 0])] = np.maximum(np.diff(times), 0.0)
    return out


def _stops(feeds: list[Feed], local_epsg: int) -> dict[tuple[int, str], TransitStop]:
    """(feed pk, GTFS stop id) -> stop in the city's UTM zone; ids prefixed by the feed slug
    so that two feeds' stops never clash."""
    out = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.feed_id, s.stop_id, s.name, ST_X(s.p), ST_Y(s.p), f.slug
            FROM (SELECT feed_id, stop_id, name, ST_Transform(geom, %s) AS p
                  FROM transit_stop WHERE feed_id = ANY(%s)) s
            JOIN transit_feed f ON f.id = s.feed_id
            """,
            [local_epsg, [f.pk for f in feeds]],
        )
        for feed_id, stop_id, name, x, y, slug in cursor.fetchall():
            out[(feed_id, stop_id)] = TransitStop(
                stop_id=f"{slug}/{stop_id}", name=name or stop_id, x_m=float(x), y_m=float(y)
            )
    return out


def _line_name(route: Route, pattern: Pattern) -> str:
    name = " ".join(n for n in (route.short_name, route.long_name) if n) or route.route_id
    return f"{name} to {pattern.headsign}" if pattern.headsign else name


def transit_supply(
    city: City,
    period_start_h: float,
    period_end_h: float,
    day: dt.date | str,
    *,
    feeds: Iterable[Feed] | None = None,
) -> TransitSupply:
    """The city's transit lines running in a period of a day, for the transit engine.

    Parameters
    ----------
    city : the city; its public GTFS feeds are used (its public OSM lines when it has no
        GTFS feed) unless ``feeds`` are given.
    period_start_h, period_end_h : the period, hours since the service day's midnight
        (e.g. 7 and 9 for the morning peak; up to 30 for trips after midnight).
    day : a date (calendar and its exceptions) or a weekday name ("tuesday": a typical one).
    feeds : the feeds to use (e.g. a user's private one), instead of the public ones.

    Returns
    -------
    TransitSupply
        Stops in the city's UTM zone (metres), one line per stop pattern with departures in
        the period; ``period`` reads e.g. ``"2014-06-10 07:00-09:00"``.
    """
    if not (0 <= period_start_h < period_end_h <= 48):
        raise ValueError(
            f"period: need 0 <= start < end <= 48 h, got {period_start_h}-{period_end_h}"
        )
    day = _check_day(day)
    if feeds is None:
        public = Feed.objects.filter(city=city, visibility="public").order_by("pk")
        # OSM lines stand in for a timetable where there is none: with a GTFS feed they
        # would only repeat its lines at default headways
        gtfs = public.filter(source=Feed.Source.GTFS)
        feeds = gtfs if gtfs.exists() else public
    feeds = list(feeds)
    start_s, end_s = period_start_h * 3600.0, period_end_h * 3600.0
    period_s = end_s - start_s
    stops = _stops(feeds, city.local_epsg)
    lines: list[TransitLine] = []
    used: set[tuple[int, str]] = set()
    for feed in feeds:
        patterns = {p.pk: p for p in Pattern.objects.filter(feed=feed).select_related("route")}
        segment_times: dict[int, np.ndarray] = {}
        if feed.source == Feed.Source.OSM:
            chosen = [(p, None) for p in patterns.values() if p.default_headway_s]
        else:
            departures = _departures(feed, day, start_s, end_s)
            chosen = [
                (patterns[pk], group) for pk, group in departures.groupby("pattern", sort=True)
            ]
            segment_times = _segment_times([int(t) for t in departures["trip"]])
        for pattern, group in chosen:
            route = pattern.route
            mode = route.mode if route.mode in DEFAULTS else "bus"
            segment_m = [float(v) for v in pattern.segment_m]
            if group is None:
                headway = float(pattern.default_headway_s)
                speed_ms = float(pattern.default_speed_kph) / 3.6
                times = [d / speed_ms for d in segment_m]
            else:
                departures_n = float(group["count"].sum())
                headway = period_s / departures_n
                stacked = np.array([segment_times[int(t)] for t in group["trip"]])
                weights = group["count"].to_numpy()
                times = list(np.average(stacked, axis=0, weights=weights))
            keys = [(feed.pk, s) for s in pattern.stop_ids]
            used.update(keys)
            lines.append(
                TransitLine(
                    line_id=f"{feed.slug}/{pattern.pattern_id}",
                    name=_line_name(route, pattern),
                    mode=mode,
                    stop_ids=[stops[k].stop_id for k in keys],
                    segment_time_s=[float(t) for t in times],
                    headway_s=headway,
                    capacity_per_h=3600.0 / headway * DEFAULTS[mode].vehicle_capacity,
                    route_m=segment_m,
                )
            )
    label = day.isoformat() if isinstance(day, dt.date) else day
    period = (
        f"{label} {int(period_start_h):02d}:{round(period_start_h % 1 * 60):02d}-"
        f"{int(period_end_h):02d}:{round(period_end_h % 1 * 60):02d}"
    )
    supply = TransitSupply(
        stops=[stops[k] for k in sorted(used)],
        lines=lines,
        period=period,
    )
    supply.validate()
    return supply
