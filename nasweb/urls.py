"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("nasweb.searches.urls")),
    path("", include("frontend.urls")),
]
