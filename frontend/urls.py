"""Page routes (mounted at the site root) and the pages' small JSON helper under ``/ui/api/``."""

from __future__ import annotations

from django.urls import path, re_path, register_converter

from . import views


class IdConverter:
    """A database id: 1 to 18 digits (larger numbers would overflow the columns)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class IndexConverter(IdConverter):
    """A candidate index: 1 to 9 digits, as the API accepts."""

    regex = "[0-9]{1,9}"


register_converter(IdConverter, "id")
register_converter(IndexConverter, "index")

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signup/", views.signup, name="signup"),
    path("projects/", views.projects, name="projects"),
    path("projects/<id:pk>/", views.project, name="project"),
    path("projects/<id:pk>/new-search/", views.new_search, name="new-search"),
    path("searches/<id:pk>/", views.search, name="search"),
    path("searches/<id:pk>/candidates/<index:index>/", views.candidate, name="candidate"),
    path("searches/<id:pk>/compare/", views.compare, name="compare"),
    path("ui/api/searches/<id:pk>/candidates/<index:index>/ops/", views.candidate_ops,
         name="candidate-ops"),
    re_path(r"^static/(?P<path>[A-Za-z0-9_./-]{1,300})$", views.static_file, name="static-file"),
]
