"""python manage.py import_file PATH [--target layer|buildings|roads|utilities|raster|osm] [--city NAME]
[--name NAME] [--crs EPSG:3067] [--mapping '{"height_m": "h"}'] [--private] [--json]

The same import as POST /api/imports/, run in the foreground with a progress bar.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.progress import ConsoleProgress
from layers.importers import ImportRejected
from layers.importers.files import all_targets, inspect_upload, run_import


class Command(BaseCommand):
    help = "Import a vector file, GeoTIFF or OSM PBF into the twin (one transaction)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--target", choices=all_targets(), default="layer")
        parser.add_argument("--city", help="city name (buildings/roads/utilities/osm targets)")
        parser.add_argument("--name", help="layer name (default: the file name)")
        parser.add_argument("--crs", help="CRS of a file that declares none")
        parser.add_argument(
            "--mapping", help='JSON: twin field -> file attribute, e.g. {"height_m": "h"}'
        )
        parser.add_argument("--private", action="store_true", help="visible to the owner only")
        parser.add_argument("--owner", help="username owning the layer")
        parser.add_argument("--replace", action="store_true", help="osm target: replace the city")
        parser.add_argument(
            "--valve-layer", help="water target: none, strategic, all or JSON [[link, node], ...]"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--coordinates",
            choices=["lonlat", "schematic", "generate"],
            help="power_grid target: the geodata are lon/lat (or in --crs), a schematic to "
            "place at the city, or missing (a layout is generated)",
        )
        parser.add_argument(
            "--tolerance-m", type=float, help="power_grid target: building to bus, at most (m)"
        )

    def handle(self, *args, **opts):
        source = Path(opts["path"])
        if not source.is_file():
            raise CommandError(f"path: no such file: {source}")
        try:
            mapping = json.loads(opts["mapping"]) if opts["mapping"] else {}
        except ValueError as exc:
            raise CommandError(f"mapping: not valid JSON ({exc})") from exc
        owner_id = None
        if opts["owner"]:
            owner = get_user_model().objects.filter(username=opts["owner"]).first()
            if owner is None:
                raise CommandError(f"owner: no user {opts['owner']!r}")
            owner_id = owner.id
        params = {
            "target": opts["target"],
            "city": opts["city"],
            "name": opts["name"],
            "crs": opts["crs"],
            "mapping": mapping,
            "visibility": "private" if opts["private"] else "public",
            "replace": opts["replace"],
            "valve_layer": opts["valve_layer"],
            "coordinates": opts["coordinates"],
            "tolerance_m": opts["tolerance_m"],
        }
        params = {k: v for k, v in params.items() if v not in (None, "")}
        # work on a private copy: a zip is unpacked beside it, and the copy is removed afterwards
        workdir = Path(tempfile.mkdtemp(prefix="citytwin-import-"))
        try:
            path = workdir / source.name
            shutil.copy(source, path)
            inspect_upload(path, params)
            report = run_import(path, params, owner_id, progress=ConsoleProgress())
        except ImportRejected as exc:
            raise CommandError(f"import rejected: {exc.field}: {exc.message}") from exc
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if opts["json"]:
            self.stdout.write(json.dumps(report, default=str))
        else:
            self.stdout.write(
                f"read {report.get('read')}, imported {report.get('imported')}, repaired "
                f"{report.get('repaired', 0)}, rejected {len(report.get('rejected', []))}; "
                f"CRS {report.get('crs_detected', '?')}, reprojection: {report.get('reprojection', '-')}"
            )
            for row in report.get("rejected", [])[:20]:
                self.stdout.write(
                    f"  rejected row {row.get('row', row.get('osm_id'))}: {row['reason']}"
                )
