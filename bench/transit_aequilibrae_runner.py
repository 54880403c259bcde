"""Import a GTFS feed with AequilibraE's GTFS importer (inside bench/.venv-transit).

Called by ``bench/transit_import.py`` in a subprocess; prints one JSON object: seconds of
the import (``new_gtfs_builder`` + ``load_date`` + ``save_to_disk``, no map matching) into a
fresh AequilibraE project, and what it wrote (trips, stops, patterns) for that date.
Usage: python transit_aequilibrae_runner.py FEED.zip YYYY-MM-DD WORKDIR
"""

import json
import logging
import sqlite3
import sys
import time
from pathlib import Path


def main():
    feed_path, date, workdir = sys.argv[1:4]
    logging.getLogger("aequilibrae").setLevel(logging.ERROR)
    from aequilibrae.project import Project
    from aequilibrae.transit import Transit

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
