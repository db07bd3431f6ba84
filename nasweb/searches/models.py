"""Database rows: projects, uploaded data sets, searches, candidates, artifacts and events.

A search's engine state (``search_engine.search.SearchState``) lives in the database: the
search-wide part (config, population, proposal counter, hypervolume history) as JSON in
``Search.engine_state`` and every candidate as a ``Candidate`` row, which is also what the API
filters and orders. ``nasweb.searches.store`` converts between the two.

Cursors: every change to a search or its candidates is recorded as a ``SearchEvent`` row, whose
auto-increment id is the cursor for ``?after=`` reads and websocket resumes. A candidate's
``seq`` is the id of the event that last changed it. Events of one search are only written while
its row is locked (``nasweb.searches.session``), so within a search the ids grow in commit
order: a reader that has seen cursor N has seen every change with a smaller id.
"""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models


class SearchState(models.TextChoices):
    QUEUED = "queued"  # created; waiting for a worker to start it
    RUNNING = "running"
    PAUSED = "paused"  # proposes nothing; running candidates finish
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_SEARCH_STATES = (SearchState.QUEUED, SearchState.RUNNING, SearchState.PAUSED)
TERMINAL_SEARCH_STATES = (SearchState.FINISHED, SearchState.FAILED, SearchState.CANCELLED)


class CandidateState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DatasetKind(models.TextChoices):
    NPZ = "npz"
    IMAGE_FOLDER = "image-folder"


class ArtifactKind(models.TextChoices):
    TFLITE = "tflite"
    HEADER = "header"


def upload_path(instance: UploadedDataset, filename: str) -> str:
    """Stored name of an upload: never derived from what the user typed."""
    suffix = ".npz" if instance.kind == DatasetKind.NPZ else ".zip"
    return str(PurePosixPath("datasets") / str(instance.owner_id) / f"{uuid.uuid4().hex}{suffix}")


class UploadedDataset(models.Model):
    """A user's own data set (``.npz`` arrays or a zip of class folders), validated on upload."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="unas_datasets")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=DatasetKind.choices)
    file = models.FileField(upload_to=upload_path, max_length=255)
    size = models.BigIntegerField()
    # what counts against the owner's quota: the larger of the file and its uncompressed data
    quota_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    input_shape = models.JSONField()
    num_classes = models.PositiveIntegerField()
    class_names = models.JSONField(default=list)
    options = models.JSONField(default=dict)  # loader options (image_size, color_mode)
    summary = models.JSONField(default=dict)  # what validation found (sample counts, ...)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Project(models.Model):
    """A user's named collection of searches on one data set."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="unas_projects")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    dataset = models.CharField(max_length=40, default="digits")
    upload = models.ForeignKey(UploadedDataset, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="projects")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"],
                                               name="unique_project_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class Search(models.Model):
    """One μNAS search: what the user asked for, its progress and its engine state."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="searches")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    # data
    dataset = models.CharField(max_length=40)
    upload = models.ForeignKey(UploadedDataset, on_delete=models.PROTECT, null=True, blank=True,
                               related_name="searches")
    input_shape = models.JSONField()
    num_classes = models.PositiveIntegerField()
    data_limit = models.PositiveIntegerField(null=True, blank=True)  # samples per split
    # hard limits (the device)
    sram_bytes = models.BigIntegerField()
    flash_bytes = models.BigIntegerField()
    macs = models.BigIntegerField(null=True, blank=True)
    # soft bounds (steer the search)
    bound_error = models.FloatField(null=True, blank=True)
    bound_sram_bytes = models.FloatField(null=True, blank=True)
    bound_flash_bytes = models.FloatField(null=True, blank=True)
    bound_macs = models.FloatField(null=True, blank=True)
    # the method
    strategy = models.CharField(max_length=20, default="evolution")
    population = models.PositiveIntegerField(default=20)
    sample = models.PositiveIntegerField(default=5)
    rounds = models.PositiveIntegerField(default=60)  # budget in candidates
    time_budget_seconds = models.PositiveIntegerField(null=True, blank=True)
    profile = models.CharField(max_length=20, default="quick")
    sparsity_min = models.FloatField()
    sparsity_max = models.FloatField()
    seed = models.BigIntegerField(default=0)
    #: children start from their parent's trained weights (``search_engine.train.inherit``)
    inheritance = models.BooleanField(default=False)
    in_flight_target = models.PositiveIntegerField(default=2)
    # progress
    state = models.CharField(max_length=20, choices=SearchState.choices,
                             default=SearchState.QUEUED, db_index=True)
    error_message = models.TextField(blank=True, default="")
    evaluated = models.PositiveIntegerField(default=0)
    running = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    best_error = models.FloatField(null=True, blank=True)
    hypervolume = models.FloatField(default=0.0)
    engine_state = models.JSONField(null=True, blank=True)  # SearchState minus the candidates
    last_event_id = models.BigIntegerField(default=0)
    start_task_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True)  # start of this running spell
    run_seconds = models.FloatField(default=0.0)  # running time of earlier spells

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "searches"

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


#: Candidate columns copied from the training report's metrics (filterable, orderable).
METRIC_COLUMNS: tuple[str, ...] = (
    "val_accuracy", "test_accuracy", "test_accuracy_int8", "params", "model_size_bytes",
    "tflite_bytes", "macs", "peak_memory_bytes", "tflm_arena_bytes", "evaluation_seconds",
)
#: Candidate columns copied from the objectives (what the search minimises).
OBJECTIVE_COLUMNS: dict[str, str] = {
    "error": "error", "sram_bytes": "sram_bytes", "flash_bytes": "flash_bytes",
}
#: Candidate columns copied from the pre-training check (predicted figures).
PRECHECK_COLUMNS: dict[str, str] = {
    "predicted_sram_bytes": "estimated_sram_bytes",
    "predicted_flash_bytes": "estimated_flash_bytes",
    "predicted_peak_memory_bytes": "peak_memory_bytes",
}


class Candidate(models.Model):
    """One proposed architecture and, once evaluated, its metrics (engine ``CandidateRecord``)."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="candidates")
    index = models.PositiveIntegerField()  # the engine's candidate id
    state = models.CharField(max_length=20, choices=CandidateState.choices,
                             default=CandidateState.QUEUED)
    architecture = models.JSONField()
    sparsity = models.FloatField()
    parent = models.PositiveIntegerField(null=True, blank=True)
    morphism = models.CharField(max_length=64, null=True, blank=True)
    metrics = models.JSONField(default=dict)  # the training report, timeline excluded
    timeline = models.JSONField(null=True, blank=True)  # memory timeline (fetched separately)
    objectives = models.JSONField(default=dict)
    precheck = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    error_message = models.TextField(blank=True, default="")
    pareto = models.BooleanField(default=False)
    feasible = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    # flattened for filtering and ordering
    error = models.FloatField(null=True, blank=True)
    sram_bytes = models.FloatField(null=True, blank=True)
    flash_bytes = models.FloatField(null=True, blank=True)
    val_accuracy = models.FloatField(null=True, blank=True)
    test_accuracy = models.FloatField(null=True, blank=True)
    test_accuracy_int8 = models.FloatField(null=True, blank=True)
    params = models.BigIntegerField(null=True, blank=True)
    model_size_bytes = models.BigIntegerField(null=True, blank=True)
    tflite_bytes = models.BigIntegerField(null=True, blank=True)
    macs = models.BigIntegerField(null=True, blank=True)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    tflm_arena_bytes = models.BigIntegerField(null=True, blank=True)
    evaluation_seconds = models.FloatField(null=True, blank=True)
    predicted_sram_bytes = models.BigIntegerField(null=True, blank=True)
    predicted_flash_bytes = models.BigIntegerField(null=True, blank=True)
    predicted_peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    # work tracking (not engine state)
    seq = models.BigIntegerField(default=0)  # id of the event that last changed this row
    task_id = models.CharField(max_length=64, blank=True, default="")
    lease = models.CharField(max_length=64, blank=True, default="")  # the running claim's token
    worker = models.CharField(max_length=200, blank=True, default="")
    heartbeat = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    #: the running evaluation's last progress report (stage, epoch, samples/s; see
    #: ``handlers.report_progress``); not part of the engine's record
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["search", "index"],
                                               name="unique_candidate_index")]
        indexes = [models.Index(fields=["search", "seq"]),
                   models.Index(fields=["search", "state"]),
                   models.Index(fields=["state", "heartbeat"])]

    def __str__(self) -> str:
        return f"candidate {self.index} of search {self.search_id} ({self.state})"


class Artifact(models.Model):
    """A candidate's exported file, kept in the database (small: bounded by the MCU's Flash)."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="artifacts")
    kind = models.CharField(max_length=20, choices=ArtifactKind.choices)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["candidate", "kind"],
                                               name="unique_artifact_kind")]


class SearchEvent(models.Model):
    """One change of a search, in order; ``id`` is the cursor, ``prev`` the search's previous."""

    id = models.BigAutoField(primary_key=True)
    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="events")
    prev = models.BigIntegerField(default=0)
    kind = models.CharField(max_length=40)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["search", "id"])]

    def as_message(self) -> dict:
        """What clients receive (websocket and ``/events/``)."""
        return {"id": self.id, "prev": self.prev, "search": self.search_id, "type": self.kind,
                "created": self.created_at.isoformat() if self.created_at else None,
                "data": self.data}
