from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "citytwin.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
