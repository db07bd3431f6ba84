"""Admin pages: read-mostly views for operators (state is changed through the API)."""

from __future__ import annotations

from django.contrib import admin

from .models import Candidate, Project, Search, SearchEvent, UploadedDataset


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "dataset", "created_at")
    search_fields = ("name", "owner__username")


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "state", "evaluated", "rounds", "running", "queued",
                    "created_at")
    list_filter = ("state",)
    readonly_fields = ("engine_state", "last_event_id")


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("search", "index", "state", "val_accuracy", "tflm_arena_bytes",
                    "tflite_bytes", "pareto", "feasible", "attempts", "worker")
    list_filter = ("state", "pareto", "feasible")
    exclude = ("timeline",)


@admin.register(SearchEvent)
class SearchEventAdmin(admin.ModelAdmin):
    list_display = ("id", "search", "kind", "created_at")
    list_filter = ("kind",)


@admin.register(UploadedDataset)
class UploadedDatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "kind", "size", "num_classes", "created_at")
