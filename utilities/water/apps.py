from django.apps import AppConfig


class WaterConfig(AppConfig):
    name = "utilities.water"
    label = "water"
    verbose_name = "Water networks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from layers.importers.targets import register_target

        from . import importer, tasks  # noqa: F401  (job kinds, Celery tasks)
        from .ogc import register_water_collections

        register_target(importer.TARGET)
        register_water_collections()
