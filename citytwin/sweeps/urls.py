from django.urls import path

from . import api

# the slash is optional: a POST must not be redirected (a redirect drops its body)
urlpatterns = [
    path("sweeps/", api.sweeps, name="sweeps"),
    path("sweeps", api.sweeps),
    path("sweeps/generators/", api.generator_list, name="sweep-generators"),
    path("sweeps/<int:pk>/", api.detail, name="sweep-detail"),
    path("sweeps/<int:pk>/cancel/", api.cancel, name="sweep-cancel"),
    path("sweeps/<int:pk>/resume/", api.resume, name="sweep-resume"),
    path("sweeps/<int:pk>/ranking/", api.ranking, name="sweep-ranking"),
]
