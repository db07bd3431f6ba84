"""API routes, mounted under ``/api/`` (see docs/web.md for the list)."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("projects", views.ProjectViewSet, basename="project")
router.register("searches", views.SearchViewSet, basename="search")
router.register("datasets/uploads", views.UploadViewSet, basename="upload")

candidate = "searches/<int:search_pk>/candidates/<int:index>/"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("auth/signup/", views.SignupView.as_view(), name="api-signup"),
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("auth/login/", views.LoginView.as_view(), name="api-login"),
    path("auth/logout/", views.LogoutView.as_view(), name="api-logout"),
    path("auth/me/", views.MeView.as_view(), name="api-me"),
    path("datasets/", views.DatasetListView.as_view(), name="api-datasets"),
    path("mcu-presets/", views.McuPresetView.as_view(), name="api-mcu-presets"),
    path("searches/<int:search_pk>/candidates/", views.CandidateListView.as_view(),
         name="api-candidates"),
    path(candidate, views.CandidateDetailView.as_view(), name="api-candidate"),
    path(candidate + "timeline/", views.CandidateTimelineView.as_view(),
         name="api-candidate-timeline"),
    path(candidate + "usage-example/", views.CandidateUsageExampleView.as_view(),
         name="api-candidate-usage-example"),
    re_path(r"^searches/(?P<search_pk>[0-9]{1,18})/candidates/(?P<index>[0-9]{1,9})/files/"
            r"(?P<kind>tflite|header)/$", views.ArtifactDownloadView.as_view(),
            name="api-candidate-file"),
    path("", include(router.urls)),
]
