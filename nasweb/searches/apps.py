"""App configuration."""

from __future__ import annotations

from django.apps import AppConfig


class SearchesConfig(AppConfig):
    name = "nasweb.searches"
    label = "searches"
    verbose_name = "μNAS searches"
    default_auto_field = "django.db.models.BigAutoField"
