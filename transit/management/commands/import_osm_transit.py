"""python manage.py import_osm_transit CITY [--pbf PATH] [--private] [--owner USER] [--json]

The city's public-transport lines from the OSM route relations of a PBF (tram, light rail,
bus, trolleybus, subway, train, ferry), with documented default headways and speeds marked
per line: for a city without GTFS. Without --pbf the city's own source PBF is read (the demo
extract for Helsinki and Kotka). The same import as POST /api/imports/ target=transit_osm.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.progress import ConsoleProgress
from layers.geo import sha256_file
from layers.importers import ImportRejected
from layers.importers.osm import demo_pbf
from layers.models import City
from transit.models import Feed
from transit.osm_lines import import_osm_lines, lines_table


def city_pbf(city: City) -> Path:
    """The PBF a city was imported from: its source file, or the demo extract.

    A city keeps only its file's name and SHA-256 (a server path is not the public's business),
    so the file is looked for where extracts live: the working directory, ``$CITYTWIN_DATA`` and
    its ``osm/`` folder; a file of that name counts only when its SHA-256 is the city's.
    """
    data = os.environ.get("CITYTWIN_DATA", "")
    folders = [Path.cwd()] + ([Path(data), Path(data) / "osm"] if data else [])
    name = Path(city.source_file).name if city.source_file else ""
    for folder in folders if name else []:
        path = folder / name
        if path.is_file() and (not city.source_sha256 or sha256_file(path) == city.source_sha256):
            return path
    if city.name.lower() in ("helsinki", "kotka"):
        return Path(demo_pbf(city.name))
    where = ", ".join(str(f) for f in folders)
    raise CommandError(
        f"pbf: the source file of {city.name} ({name or 'unknown'}) is not in {where}; "
        "give --pbf PATH"
    )


class Command(BaseCommand):
    help = "Import a city's transit lines from OSM route relations (default headways/speeds)."

    def add_arguments(self, parser):
        parser.add_argument("city")
        parser.add_argument("--pbf", help="OSM PBF (default: the city's own source)")
        parser.add_argument("--name", help="feed name (default: '<city> OSM lines')")
        parser.add_argument("--private", action="store_true", help="visible to the owner only")
        parser.add_argument("--owner", help="username owning the feed")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts):
        city = City.objects.filter(name=opts["city"]).first()
        if city is None:
            raise CommandError(f"city: no city named {opts['city']!r}")
        path = Path(opts["pbf"]) if opts["pbf"] else city_pbf(city)
        if not path.is_file():
            raise CommandError(f"pbf: no such file: {path}")
        owner_id = None
        if opts["owner"]:
            owner = get_user_model().objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"owner: no user {opts['owner']!r}")
            owner_id = owner.id
        try:
            report = import_osm_lines(
                path,
                city.name,
                owner_id=owner_id,
                visibility="private" if opts["private"] else "public",
                name=opts["name"],
                progress=ConsoleProgress(),
            )
        except ImportRejected as exc:
            raise CommandError(f"import rejected: {exc.field}: {exc.message}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, default=str))
            return
        self.stdout.write(f"{report['feed']}: {report['summary']}")
        for warning in report["warnings"]:
            self.stdout.write(f"  warning: {warning['message']}")
        self.stdout.write(f"  {report['notes'][0]}")
        table = lines_table(Feed.objects.get(pk=report["feed_id"]))
        self.stdout.write(table.to_string(index=False))
