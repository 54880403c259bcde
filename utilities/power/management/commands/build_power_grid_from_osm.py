"""python manage.py build_power_grid_from_osm --city Helsinki [--tolerance-m 1000] [--json]

A coarse power grid from the city's OSM power lines and substations (utilities.power.osm_grid),
with its buildings linked to the substations; the report says how coarse it is.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from layers.models import City
from utilities.power.osm_grid import build_osm_grid


class Command(BaseCommand):
    help = "Build a coarse power grid from the city's OSM power lines and substations."

    def add_arguments(self, parser):
        parser.add_argument("--city", required=True)
        parser.add_argument("--tolerance-m", type=float, default=1000.0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        city = City.objects.filter(name=opts["city"]).first()
        if city is None:
            raise CommandError(f"city: no city named {opts['city']!r}")
        try:
            report = build_osm_grid(city, tolerance_m=opts["tolerance_m"])
        except ValueError as exc:
            raise CommandError(f"city: {exc}") from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, default=str))
        else:
            self.stdout.write(report["coarse_topology"])
            self.stdout.write(f"elements: {report['imported']}")
            self.stdout.write(f"buildings: {report['service_points']}")
