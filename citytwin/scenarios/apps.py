from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "citytwin.scenarios"
    label = "scenarios"
    verbose_name = "Scenarios and runs"
