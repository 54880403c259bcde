"""python manage.py calibrate_population CITY --total N [--jobs M] | --census-layer SLUG
--population-field F [--jobs-field G] | --default-rates"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from layers.importers import ImportRejected
from layers.models import City
from layers.population import set_population


class Command(BaseCommand):
    help = "Calibrate a city's residents and jobs to an official total or a census layer."

    def add_arguments(self, parser):
        parser.add_argument("city", help="name of the city in the twin")
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--total", type=float, help="official residents of the city")
        mode.add_argument("--census-layer", help="slug of an imported census polygon layer")
        mode.add_argument("--default-rates", action="store_true", help="back to default rates")
        parser.add_argument("--jobs", type=float, help="official jobs of the city (with --total)")
        parser.add_argument("--population-field", help="census attribute with the residents")
        parser.add_argument("--jobs-field", help="census attribute with the jobs (optional)")

    def handle(self, *args, **opts):
        city = City.objects.filter(name=opts["city"]).first()
        if city is None:
            raise CommandError(f"city: no city named {opts['city']!r}")
        request = {
            k: opts[k]
            for k in ("total", "jobs", "census_layer", "population_field", "jobs_field")
            if opts[k] is not None
        }
        if opts["default_rates"]:
            request = {"default_rates": True}
        if opts["census_layer"] and not opts["population_field"]:
            raise CommandError("population_field: name the census layer's population attribute")
        try:
            result = set_population(city, request)
        except ImportRejected as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(json.dumps(result, default=str))
