from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "citytwin.assistant"
    label = "assistant"
    verbose_name = "Assistant"
