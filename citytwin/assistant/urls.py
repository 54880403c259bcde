from django.urls import path

from . import api

urlpatterns = [
    path("", api.assistant, name="assistant"),
    path("confirm/", api.confirm, name="assistant-confirm"),
]
