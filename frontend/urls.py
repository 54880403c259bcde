from django.conf import settings
from django.urls import path, re_path

from . import views

app_name = "frontend"

urlpatterns = [
    path("", views.index, name="index"),
    re_path(rf"^{settings.STATIC_URL.strip('/')}/(?P<path>.+)$", views.static, name="static"),
]
