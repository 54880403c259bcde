from django.apps import AppConfig


class SweepsConfig(AppConfig):
    name = "citytwin.sweeps"
    label = "sweeps"
    verbose_name = "What-if sweeps"

    def ready(self) -> None:
        from . import ogc, tasks  # noqa: F401  (job kind, Celery tasks, OGC collection)

        ogc.register_collections()
