"""python manage.py power_service_mapping --grid ID mapping.csv

Link buildings to buses from a CSV ``building,bus`` (building id or external id such as
``way/123``; bus = the bus's pandapower index in the grid); the other buildings keep their
nearest-bus links. A bad row is refused naming it, nothing written.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from layers.importers import ImportRejected
from utilities.power.models import Grid
from utilities.power.service import import_mapping


class Command(BaseCommand):
    help = "Link buildings to power buses from a CSV (building,bus)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--grid", type=int, required=True)

    def handle(self, *args, **opts):
        grid = Grid.objects.filter(pk=opts["grid"]).first()
        if grid is None:
            raise CommandError(f"grid: no power grid {opts['grid']}")
        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"path: no such file: {path}")
        try:
            with transaction.atomic():
                report = import_mapping(grid, path.read_text(encoding="utf-8"))
        except ImportRejected as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(json.dumps(report))
