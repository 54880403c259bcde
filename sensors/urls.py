from django.urls import path, re_path

from .sta.views import sta_view

urlpatterns = [
    path("sta/v1.1", sta_view, name="sta-root-noslash"),
    re_path(r"^sta/v1\.1/(?P<path>.*)$", sta_view, name="sta"),
]
