"""Import a GTFS feed with AequilibraE's GTFS importer (inside bench/.venv-transit).

Called by ``bench/transit_import.py`` in a subprocess; prints one JSON object: seconds of
the import (``new_gtfs_builder`` + ``load_date`` + ``save_to_disk``, no map matching) into a
fresh AequilibraE project, and what it wrote (trips, stops, patterns) for that date.
Usage: python transit_aequilibrae_runner.py FEED.zip YYYY-MM-DD WORKDIR

AequilibraE 1.7.2's loader asserts that a trip's arrival times strictly increase, checking
the times as read rather than the ones its own de-confliction step made strictly increasing
(``gtfs_loader.py``, ``__deconflict_stop_times``), so a feed with two stops at the same minute
(Cairns: most trips) stops it with an AssertionError. It is given a copy of the feed where
such times are spread by one second (and blank ones filled), what that step means to do;
the copy is made before the timing.
"""

import json
import logging
import sqlite3
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd


def seconds(text):
    h, m, s = (int(v) for v in text.split(":"))
    return h * 3600 + m * 60 + s


def strictly_increasing_copy(feed_path, out_path):
    """The feed with every trip's stop times strictly increasing (1 s apart at least)."""
    with zipfile.ZipFile(feed_path) as src, zipfile.ZipFile(out_path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name.endswith("stop_times.txt"):
                st = pd.read_csv(src.open(name), dtype=str, keep_default_na=False)
                st["_seq"] = st["stop_sequence"].astype(int)
                st = st.sort_values(["trip_id", "_seq"], kind="stable")
                times = st["arrival_time"].where(st["arrival_time"] != "", st["departure_time"])
                t = times.map(lambda v: seconds(v) if v else np.nan)
                t = t.groupby(st["trip_id"]).ffill().to_numpy(dtype=float, copy=True)
                trip = st["trip_id"].to_numpy()
                for i in range(1, len(t)):
                    if trip[i] == trip[i - 1] and t[i] <= t[i - 1]:
                        t[i] = t[i - 1] + 1
                text = [
                    f"{int(v) // 3600:02d}:{int(v) % 3600 // 60:02d}:{int(v) % 60:02d}" for v in t
                ]
                st["arrival_time"] = text
                st["departure_time"] = text
                data = st.drop(columns="_seq").to_csv(index=False).encode()
            dst.writestr(name, data)


def main():
    feed_path, date, workdir = sys.argv[1:4]
    logging.getLogger("aequilibrae").setLevel(logging.ERROR)
    from aequilibrae.project import Project
    from aequilibrae.transit import Transit

    fixed = Path(workdir) / "feed_increasing_times.zip"
    strictly_increasing_copy(feed_path, fixed)
    feed_path = str(fixed)
    folder = Path(workdir) / "aeq_project"
    project = Project()
    project.new(str(folder))  # the empty project is made outside the timed part
    try:
        start = time.perf_counter()
        data = Transit(project)
        feed = data.new_gtfs_builder(agency="bench", file_path=feed_path)
        feed.load_date(date)
        feed.set_allow_map_match(False)
        feed.save_to_disk()
        seconds = time.perf_counter() - start
    finally:
        project.close()
    counts = {}
    with sqlite3.connect(folder / "public_transport.sqlite") as db:
        for table in ("trips", "stops", "routes", "trips_schedule"):
            try:
                counts[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                counts[table] = None
    print(json.dumps({"seconds": seconds, "counts": counts}))


if __name__ == "__main__":
    main()
