"""The Django-backed engine store: a search's ``SearchState`` in its ``Search`` row and its
``Candidate`` rows.

The search-wide part of the state (config, population, proposal counter, rejections,
hypervolume history) is JSON in ``Search.engine_state``; each ``CandidateRecord`` is one
``Candidate`` row (so the candidate list is never duplicated, and every metric is a column that
the API filters and orders by). ``save`` only remembers the state; ``flush`` (called by
``nasweb.searches.session`` before its transaction commits) writes what changed since the last
load or flush: new candidates are inserted, changed ones updated, column by column.

Memory timelines are heavy and only read by one endpoint: they go to ``Candidate.timeline`` and
are not loaded back into the engine (it never reads them).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from search_engine.search import CandidateRecord, SearchState

from .models import (
    METRIC_COLUMNS,
    OBJECTIVE_COLUMNS,
    PRECHECK_COLUMNS,
    Candidate,
    Search,
)

#: Metrics kept out of ``Candidate.metrics`` (stored in their own column, fetched on demand).
HEAVY_METRICS = ("timeline",)
#: Record fields mirrored into columns of the same name.
RECORD_FIELDS = ("state", "sparsity", "parent", "morphism", "metrics", "objectives", "precheck",
                 "error_message", "pareto", "feasible", "attempts", "timings")
INT_COLUMNS = {"params", "model_size_bytes", "tflite_bytes", "macs", "peak_memory_bytes",
               "tflm_arena_bytes", "predicted_sram_bytes", "predicted_flash_bytes",
               "predicted_peak_memory_bytes"}


def _number(value: Any, integer: bool) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(round(value))
    return float(value)


def record_columns(record: CandidateRecord) -> dict[str, Any]:
    """The ``Candidate`` column values that mirror a record (timeline excluded)."""
    metrics = {k: v for k, v in record.metrics.items() if k not in HEAVY_METRICS}
    columns: dict[str, Any] = {name: getattr(record, name) for name in RECORD_FIELDS}
    columns["metrics"] = metrics
    columns["error_message"] = record.error_message or ""
    for name in METRIC_COLUMNS:
        columns[name] = _number(metrics.get(name), name in INT_COLUMNS)
    if record.objectives.get("macs") is not None and columns["macs"] is None:
        columns["macs"] = _number(record.objectives["macs"], True)
    for column, key in OBJECTIVE_COLUMNS.items():
        columns[column] = _number(record.objectives.get(key), False)
    for column, key in PRECHECK_COLUMNS.items():
        columns[column] = _number(record.precheck.get(key), True)
    return columns


def record_from_row(row: dict[str, Any]) -> CandidateRecord:
    """A ``CandidateRecord`` from a ``Candidate`` row's values."""
    return CandidateRecord(
        id=row["index"], architecture=row["architecture"], sparsity=row["sparsity"],
        parent=row["parent"], morphism=row["morphism"], state=row["state"],
        metrics=dict(row["metrics"] or {}), objectives=dict(row["objectives"] or {}),
        precheck=dict(row["precheck"] or {}), error_message=row["error_message"] or None,
        pareto=row["pareto"], feasible=row["feasible"], attempts=row["attempts"],
        timings=dict(row["timings"] or {}), artifacts={})


LOAD_FIELDS = ("id", "index", "architecture", "sparsity", "parent", "morphism", "state",
               "metrics", "objectives", "precheck", "error_message", "pareto", "feasible",
               "attempts", "timings")


@dataclass
class Flushed:
    """What a flush wrote: candidate indices inserted or changed, and whose Pareto flag moved."""

    created: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    pareto_moved: bool = False
    engine_state_changed: bool = False


class DjangoSearchStore:
    """Store for ``search_engine.search.Search`` over one (locked) ``Search`` row."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.state: SearchState | None = None
        self._columns: dict[int, dict[str, Any]] = {}  # index -> columns as last written
        self._pks: dict[int, int] = {}  # index -> Candidate pk
        self._meta: dict[str, Any] | None = None
        self.pending = Flushed()  # everything written since the last ``take``

    # -- Store protocol ---------------------------------------------------------------------

    def save(self, state: SearchState) -> None:
        self.state = state

    def load(self) -> SearchState | None:
        if self.search.engine_state is None:
            return None
        meta = copy.deepcopy(self.search.engine_state)
        rows = list(Candidate.objects.filter(search=self.search).order_by("index")
                    .values(*LOAD_FIELDS))
        records = [record_from_row(row) for row in rows]
        meta["candidates"] = [r.to_json() for r in records]
        state = SearchState.from_json(meta)
        self._meta = self.search.engine_state
        self._columns = {r.id: copy.deepcopy(record_columns(r)) for r in state.candidates}
        self._pks = {row["index"]: row["id"] for row in rows}
        self.state = state
        return state

    # -- writing ----------------------------------------------------------------------------

    def pk(self, index: int) -> int:
        return self._pks[index]

    def take(self) -> Flushed:
        """What was written since the last ``take`` (the session stamps and announces it)."""
        taken, self.pending = self.pending, Flushed()
        return taken

    def flush(self) -> Flushed:
        """Write what changed since the last load or flush (inside the caller's transaction)."""
        result = self.pending
        state = self.state
        if state is None:
            return result
        meta = state.to_json()
        meta["candidates"] = []
        if meta != self._meta:
            self.search.engine_state = meta
            self._meta = meta
            result.engine_state_changed = True
        new_rows = []
        for record in state.candidates:
            columns = record_columns(record)
            old = self._columns.get(record.id)
            if old is None:
                row = Candidate(search=self.search, index=record.id,
                                architecture=record.architecture, **columns)
                timeline = record.metrics.get("timeline")
                if timeline is not None:
                    row.timeline = timeline
                new_rows.append(row)
                result.created.append(record.id)
            else:
                changed = {k: v for k, v in columns.items() if old.get(k) != v}
                if not changed:
                    continue
                if "metrics" in changed and "timeline" in record.metrics:
                    changed["timeline"] = record.metrics["timeline"]
                Candidate.objects.filter(pk=self._pks[record.id]).update(**changed)
                if record.id not in result.changed and record.id not in result.created:
                    result.changed.append(record.id)
                if "pareto" in changed:
                    result.pareto_moved = True
            self._columns[record.id] = copy.deepcopy(columns)  # the engine mutates in place
        if new_rows:
            for row in Candidate.objects.bulk_create(new_rows):
                self._pks[row.index] = row.pk
            if any(row.pareto for row in new_rows):
                result.pareto_moved = True
        return result
