"""python manage.py apply_height_raster CITY --raster SLUG [--statistic p90] [--kind ndsm|dsm]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from layers.importers import ImportRejected
from layers.models import City, RasterLayer
from layers.population import apply_height_raster


class Command(BaseCommand):
    help = "Set building heights from an imported height raster (nDSM or DSM GeoTIFF)."

    def add_arguments(self, parser):
        parser.add_argument("city", help="name of the city in the twin")
        parser.add_argument("--raster", required=True, help="slug of the imported raster")
        parser.add_argument("--statistic", default="p90", help="median, max or pNN (default p90)")
        parser.add_argument("--kind", default="ndsm", choices=["ndsm", "dsm"])

    def handle(self, *args, **opts):
        city = City.objects.filter(name=opts["city"]).first()
        if city is None:
            raise CommandError(f"city: no city named {opts['city']!r}")
        raster = RasterLayer.objects.filter(slug=opts["raster"]).first()
        if raster is None:
            raise CommandError(f"raster: no raster {opts['raster']!r}")
        try:
            result = apply_height_raster(city, raster, opts["statistic"], opts["kind"])
        except ImportRejected as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(json.dumps(result, default=str))
