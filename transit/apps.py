from django.apps import AppConfig


class TransitConfig(AppConfig):
    name = "transit"
    label = "transit"
    verbose_name = "Public transport (GTFS and OSM lines)"

    def ready(self) -> None:
        # the GTFS and OSM-lines import targets (layers' import API, CLI and jobs) and the
        # stops/lines OGC collections
        from . import importer, ogc, osm_lines  # noqa: F401
