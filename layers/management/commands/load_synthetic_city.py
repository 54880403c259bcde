"""python manage.py load_synthetic_city NAME --links 20000 --seed 1 [--buildings N] [--replace].

Generates a synthetic city (simulators.synthetic.generate_city: a pure function) and loads it
into the twin in one transaction, through the same writers as the OSM importer.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from jobs.progress import ConsoleProgress
from layers.geo import time_zone_at, to_geos
from layers.importers.citydata import write_buildings, write_road_network
from layers.models import City
from simulators.synthetic import generate_city


class Command(BaseCommand):
    help = "Generate a synthetic city (roads + buildings) and load it into the twin."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--links", type=int, default=2000, help="directed road links (about)")
        parser.add_argument("--buildings", type=int, default=None, help="number of buildings")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--crs", default="EPSG:32635", help="projected CRS of the city")
        parser.add_argument("--replace", action="store_true")

    def handle(self, *args, **opts):
        progress = ConsoleProgress()
        started = time.perf_counter()
        if City.objects.filter(name=opts["name"]).exists() and not opts["replace"]:
            raise CommandError(f"city: {opts['name']!r} exists; pass --replace")
        if opts["links"] < 24:
            raise CommandError("--links: must be at least 24")
        progress(0.05, "generating")
        try:
            city = generate_city(
                n_road_links=opts["links"],
                seed=opts["seed"],
                crs=opts["crs"],
                n_buildings=opts["buildings"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        progress(0.3, "preparing frames")
        epsg = int(city.crs.split(":")[1])
        nodes = city.nodes.to_crs(4326)
        node_osm = nodes["osmid"].to_numpy(np.int64)
        osm_of = pd.Series(node_osm, index=city.nodes.index)
        edges = city.edges.to_crs(4326)
        u_osm, v_osm = osm_of.loc[edges["u"]].to_numpy(), osm_of.loc[edges["v"]].to_numpy()
        node_frame = nodes.assign(osm_id=node_osm)
        edge_frame = edges.assign(
            u_osm=u_osm,
            v_osm=v_osm,
            name="",
            osm_ids=[[int(x)] for x in edges["osmid"]],
            speed_source="default",
            lanes_source="default",
        )
        buildings = city.buildings.to_crs(4326).assign(
            height_source="imported",
            building_type="synthetic",
            name="",
            footprint_area_m2=city.buildings.geometry.area.to_numpy(),
            external_id=[f"synthetic/{i}" for i in city.buildings["building_id"]],
            osm_id=None,
            tags=[{} for _ in range(len(city.buildings))],
        )
        boundary = city.edges.geometry.union_all().convex_hull
        boundary_4326 = gpd.GeoSeries([boundary], crs=city.crs).to_crs(4326).iloc[0]
        progress(0.45, "writing")
        with transaction.atomic():
            City.objects.filter(name=opts["name"]).delete()
            row = City.objects.create(
                name=opts["name"],
                local_epsg=epsg,
                time_zone=time_zone_at(boundary_4326.centroid.x, boundary_4326.centroid.y),
                boundary=to_geos(shapely.MultiPolygon([boundary_4326])),
                source_file=f"synthetic(links={opts['links']}, seed={opts['seed']})",
            )
            write_buildings(row.id, buildings)
            progress(0.75, "writing roads")
            written = write_road_network(row.id, node_frame, edge_frame)
            n_nodes, n_edges = written["nodes"], written["edges"]
            row.imported_at = timezone.now()
            row.import_report = {
                "synthetic": True,
                "buildings": len(buildings),
                "road_nodes": n_nodes,
                "road_edges": n_edges,
            }
            row.save()
        progress(1.0, "done")
        self.stdout.write(
            f"loaded synthetic city {opts['name']!r}: {len(buildings)} buildings, {n_nodes} road nodes, "
            f"{n_edges} road edges in {time.perf_counter() - started:.1f} s"
        )
