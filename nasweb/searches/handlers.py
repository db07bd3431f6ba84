"""The service layer between the API views / Celery tasks and the models (baserow style).

Projects and searches are created, changed and deleted here; a search's life (start, pause,
resume, cancel, finish, fail) and a candidate's (claim, heartbeat, result, failure, reaping)
run here, each as one transaction with the search row locked (``session.locked_search``).

Orchestration: after every event that frees a slot (a result, a failure, a resume, a reaped
candidate) ``fill`` proposes children until ``in_flight_target`` candidates are queued or
running, and publishes one evaluation task per new candidate after the commit. A task claims
its candidate with a conditional UPDATE (``state=queued -> running`` plus a fresh lease token),
so a candidate is never evaluated twice at once; a result is accepted only from the holder of
the current lease. ``reap`` (periodic, at worker start, and per search after each commit)
re-queues running candidates whose heartbeat is older than the lease timeout and re-publishes
queued candidates whose task was lost.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from search_engine.search import ConfigError, SearchError

from . import dispatch
from .engine import search_config
from .models import (
    Artifact,
    ArtifactKind,
    Candidate,
    CandidateState,
    Project,
    Search,
    SearchState,
)
from .session import SearchSession, locked_search

log = logging.getLogger(__name__)


class HandlerError(Exception):
    """A request the service layer refuses; ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def detail(self) -> dict[str, Any]:
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message}


class ConflictError(HandlerError):
    """The object is not in a state that allows the action (e.g. resuming a finished search)."""

    status = 409


# -- time -----------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def elapsed_seconds(search: Search, now: datetime | None = None) -> float:
    """Running time so far (paused spells excluded)."""
    extra = 0.0
    if search.state == SearchState.RUNNING and search.run_started_at is not None:
        extra = max(0.0, (_now(now) - search.run_started_at).total_seconds())
    return search.run_seconds + extra


def time_is_up(search: Search, now: datetime | None = None) -> bool:
    budget = search.time_budget_seconds
    return budget is not None and elapsed_seconds(search, now) >= budget


def _stop_clock(search: Search, now: datetime) -> None:
    if search.run_started_at is not None:
        search.run_seconds += max(0.0, (now - search.run_started_at).total_seconds())
        search.run_started_at = None


# -- projects -------------------------------------------------------------------------------


def create_project(owner: Any, **fields: Any) -> Project:
    return Project.objects.create(owner=owner, **fields)


def update_project(project: Project, **fields: Any) -> Project:
    for name, value in fields.items():
        setattr(project, name, value)
    project.save()
    return project


def weights_dir(search_id: int) -> Path:
    """Where this machine keeps a search's trained candidate weights, for children to inherit
    (``search_engine.train.inherit``); removed with the search."""
    return Path(settings.UNAS_WORK_DIR) / "weights" / f"search-{int(search_id)}"


def _remove_weights_on_commit(search_ids: list[int]) -> None:
    def remove() -> None:
        for search_id in search_ids:
            shutil.rmtree(weights_dir(search_id), ignore_errors=True)

    transaction.on_commit(remove)


def delete_project(project: Project) -> None:
    with transaction.atomic():
        running = list(Candidate.objects.filter(search__project=project,
                                                state=CandidateState.RUNNING)
                       .values_list("task_id", flat=True))
        searches = list(project.searches.values_list("pk", flat=True))
        project.delete()
        dispatch.revoke_on_commit(running)
        _remove_weights_on_commit(searches)


# -- searches: life cycle -------------------------------------------------------------------

#: engine setting (``ConfigError.field``) -> the API field a user typed it in
CONFIG_FIELDS = {
    "limits.sram_bytes": "sram_bytes", "limits.flash_bytes": "flash_bytes",
    "limits.macs": "macs", "bounds.error": "bound_error",
    "bounds.sram_bytes": "bound_sram_bytes", "bounds.flash_bytes": "bound_flash_bytes",
    "bounds.macs": "bound_macs",
}


def create_search(project: Project, **fields: Any) -> Search:
    """A new search row with its engine state; a worker starts it (state ``queued``)."""
    with transaction.atomic():
        search = Search(project=project, **fields)
        try:
            config = search_config(search)
        except ConfigError as exc:  # the setting it concerns is data, not parsed from text
            raise HandlerError(exc.message, CONFIG_FIELDS.get(exc.field, exc.field)) from None
        except ValueError as exc:
            raise HandlerError(str(exc)) from None
        search.save()
        with locked_search(search.pk) as session:
            session.create_engine(config)
            session.search.start_task_id = dispatch.new_task_id()
            session.emit("search.created", {"state": SearchState.QUEUED})
            dispatch.start_on_commit(search.pk, session.search.start_task_id)
        search.refresh_from_db()
    return search


def start_search(search_id: int, now: datetime | None = None) -> bool:
    """Task body: a queued search starts running and proposes its first candidates."""
    now = _now(now)
    with locked_search(search_id) as session:
        if session is None or session.search.state != SearchState.QUEUED:
            return False
        search = session.search
        search.state = SearchState.RUNNING
        search.started_at = search.started_at or now
        search.run_started_at = now
        fill(session, now)
        return True


def pause_search(search: Search, now: datetime | None = None) -> Search:
    now = _now(now)
    with locked_search(search.pk) as session:
        _require(session, (SearchState.QUEUED, SearchState.RUNNING), "pause")
        _stop_clock(session.search, now)
        session.search.state = SearchState.PAUSED
    search.refresh_from_db()
    return search


def resume_search(search: Search, now: datetime | None = None) -> Search:
    now = _now(now)
    with locked_search(search.pk) as session:
        _require(session, (SearchState.PAUSED,), "resume")
        row = session.search
        row.state = SearchState.RUNNING
        row.started_at = row.started_at or now
        row.run_started_at = now
        for pk in Candidate.objects.filter(search=row, state=CandidateState.QUEUED
                                           ).values_list("pk", flat=True):
            _publish(pk, now)
        fill(session, now)
    search.refresh_from_db()
    return search


def cancel_search(search: Search, now: datetime | None = None) -> Search:
    now = _now(now)
    with locked_search(search.pk) as session:
        _require(session, (SearchState.QUEUED, SearchState.RUNNING, SearchState.PAUSED),
                 "cancel")
        _end(session, SearchState.CANCELLED, now)
    search.refresh_from_db()
    return search


def update_search(search: Search, now: datetime | None = None, **fields: Any) -> Search:
    """Change what may change after creation: name, description, in-flight target."""
    now = _now(now)
    with locked_search(search.pk) as session:
        if session is None:
            raise ConflictError("the search was deleted")
        for name, value in fields.items():
            setattr(session.search, name, value)
        if "in_flight_target" in fields:
            fill(session, now)
    search.refresh_from_db()
    return search


def delete_search(search: Search) -> None:
    with transaction.atomic():
        running = list(Candidate.objects.filter(search=search, state=CandidateState.RUNNING)
                       .values_list("task_id", flat=True))
        search_id = search.pk
        search.delete()
        dispatch.revoke_on_commit(running)
        _remove_weights_on_commit([search_id])


def _require(session: SearchSession | None, states: tuple[str, ...], action: str) -> None:
    if session is None:
        raise ConflictError("the search was deleted")
    state = session.search.state
    if state not in states:
        raise ConflictError(f"cannot {action} a search that is {state} "
                            f"(only when {' or '.join(states)})", "state")


def _end(session: SearchSession, state: str, now: datetime, message: str = "") -> None:
    """Finish, fail or cancel: in-flight candidates are cancelled and their tasks revoked."""
    search = session.search
    _stop_clock(search, now)
    search.state = state
    search.finished_at = now
    if message:
        search.error_message = message
    if not session.has_engine_state:
        return
    session.sync()
    running = list(Candidate.objects.filter(search=search, state=CandidateState.RUNNING)
                   .values_list("task_id", flat=True))
    engine = session.engine
    for record in engine.in_flight():
        engine.cancel(record.id)
        session.candidate_event("candidate.cancelled", record.id)
    Candidate.objects.filter(search=search, state__in=(CandidateState.RUNNING,
                                                       CandidateState.QUEUED)
                             ).update(lease="", heartbeat=None)
    dispatch.revoke_on_commit(running)


# -- orchestration --------------------------------------------------------------------------


def _publish(candidate_pk: int, now: datetime) -> None:
    task_id = dispatch.new_task_id()
    Candidate.objects.filter(pk=candidate_pk).update(task_id=task_id, enqueued_at=now)
    dispatch.evaluate_on_commit(candidate_pk, task_id)


def fill(session: SearchSession, now: datetime | None = None) -> None:
    """Keep ``in_flight_target`` candidates in flight; finish the search when its budget is used."""
    now = _now(now)
    search = session.search
    if search.state != SearchState.RUNNING:
        return
    engine = session.engine
    _reap_stale(session, now)
    time_up = time_is_up(search, now)
    in_flight = len(engine.in_flight())
    if engine.finished or ((time_up or engine.budget_left <= 0) and in_flight == 0):
        reason = engine.all_failed_reason()
        if reason is not None:
            # nothing was ever trained: say why instead of "finished" with an empty front
            _end(session, SearchState.FAILED, now, reason)
            return
        _end(session, SearchState.FINISHED, now)
        return
    if time_up:
        return
    proposed = []
    while in_flight < search.in_flight_target and engine.budget_left > 0:
        try:
            record = engine.propose()
        except SearchError as exc:
            _end(session, SearchState.FAILED, now, str(exc))
            return
        except Exception as exc:  # a bug or a broken space: fail visibly, don't loop
            log.exception("search %s: proposing a candidate failed", search.pk)
            _end(session, SearchState.FAILED, now, f"proposing a candidate failed: {exc}")
            return
        if record is None:
            break
        in_flight += 1
        proposed.append(record.id)
    if proposed:
        session.store.flush()  # the new rows need their primary keys for the tasks
        for index in proposed:
            session.candidate_event("candidate.queued", index)
            _publish(session.candidate_pk(index), now)


def _reap_stale(session: SearchSession, now: datetime) -> int:
    """Running candidates of this search whose heartbeat lapsed go back to the queue."""
    cutoff = now - timedelta(seconds=settings.UNAS_LEASE_SECONDS)
    session.sync()
    stale = list(Candidate.objects.filter(search=session.search, state=CandidateState.RUNNING)
                 .filter(Q(heartbeat__lt=cutoff) | Q(heartbeat=None))
                 .values_list("pk", "index", "task_id"))
    if not stale:
        return 0
    engine = session.engine
    running = session.search.state == SearchState.RUNNING
    for pk, index, _task_id in stale:
        record = engine.state.by_id(index)
        Candidate.objects.filter(pk=pk).update(lease="", worker="", heartbeat=None)
        if record.attempts >= settings.UNAS_MAX_ATTEMPTS:
            engine.fail(index, f"the worker evaluating it was lost {record.attempts} times "
                               "(killed, out of memory, or its machine went away)")
            session.candidate_event("candidate.failed", index)
            continue
        engine.requeue(index)
        session.candidate_event("candidate.requeued", index)
        if running:
            _publish(pk, now)
    return len(stale)


# -- candidates: claim, heartbeat, result ---------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A worker's hold on one candidate; only the holder of ``lease`` may report on it."""

    candidate_pk: int
    search_id: int
    index: int
    lease: str
    architecture: dict[str, Any]
    sparsity: float
    attempt: int
    #: the early-stopping plan (``search_engine.search.fidelity``), or ``None``
    fidelity: dict[str, Any] | None = None
    #: the weight-inheritance plan (``Search.inheritance_plan``), or ``None``
    inherit: dict[str, Any] | None = None


def claim_candidate(candidate_pk: int, worker: str, task_id: str = "",
                    now: datetime | None = None) -> Claim | None:
    """Claim a queued candidate of a running search; ``None`` if another worker has it, it is
    done or cancelled, or its search is paused or gone."""
    now = _now(now)
    search_id = (Candidate.objects.filter(pk=candidate_pk)
                 .values_list("search_id", flat=True).first())
    if search_id is None:
        return None
    with locked_search(search_id) as session:
        if session is None or session.search.state != SearchState.RUNNING:
            return None
        engine = session.engine
        lease = uuid.uuid4().hex
        claimed = Candidate.objects.filter(pk=candidate_pk, state=CandidateState.QUEUED).update(
            state=CandidateState.RUNNING, lease=lease, worker=worker[:200], heartbeat=now,
            task_id=task_id[:64] or F("task_id"))
        if claimed != 1:
            return None
        index = Candidate.objects.values_list("index", flat=True).get(pk=candidate_pk)
        record = engine.start(index)
        session.candidate_event("candidate.started", index)
        return Claim(candidate_pk, search_id, index, lease, record.architecture,
                     record.sparsity, record.attempts, engine.stopping_plan(index),
                     engine.inheritance_plan(index))


def heartbeat(claim: Claim, now: datetime | None = None) -> bool:
    """Renew the lease; ``False`` when it is gone (cancelled, reaped or deleted): stop."""
    return Candidate.objects.filter(pk=claim.candidate_pk, lease=claim.lease,
                                    state=CandidateState.RUNNING
                                    ).update(heartbeat=_now(now)) == 1


#: What a progress report keeps of a pipeline event (``search_engine.train``): numbers only.
PROGRESS_KEYS = ("epoch", "epochs", "seconds", "samples_per_second", "val_accuracy",
                 "threshold", "samples")


def report_progress(claim: Claim, event: Mapping[str, Any]) -> bool:
    """Store a running evaluation's progress and announce it (``candidate.progress``);
    ``False`` when the lease is gone."""
    stage = str(event.get("stage", ""))[:20]
    data: dict[str, Any] = {"stage": stage, "at": time.time()}
    for key in PROGRESS_KEYS:
        value = event.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value):
            data[key] = value
    if event.get("stopped") is True:
        data["stopped"] = True
    with locked_search(claim.search_id) as session:
        if session is None:
            return False
        held = Candidate.objects.filter(pk=claim.candidate_pk, lease=claim.lease,
                                        state=CandidateState.RUNNING).update(progress=data)
        if held:
            session.emit("candidate.progress", {"index": claim.index, "progress": data})
        return held == 1


def still_held(claim: Claim) -> bool:
    return Candidate.objects.filter(pk=claim.candidate_pk, lease=claim.lease,
                                    state=CandidateState.RUNNING).exists()


def _holds(session: SearchSession | None, claim: Claim) -> bool:
    return session is not None and still_held(claim)


def _store_artifacts(candidate_pk: int, artifacts: Mapping[str, bytes]) -> None:
    """A candidate's files (known kinds only), replacing what it had of each kind."""
    for kind, content in artifacts.items():
        if kind not in ArtifactKind.values:
            continue
        Artifact.objects.update_or_create(
            candidate_id=candidate_pk, kind=kind,
            defaults={"content": content, "size": len(content),
                      "sha256": hashlib.sha256(content).hexdigest()})


def record_result(claim: Claim, metrics: Mapping[str, Any], artifacts: Mapping[str, bytes],
                  now: datetime | None = None) -> bool:
    """Store an evaluation and its files; ``False`` (nothing stored) if the lease is gone."""
    now = _now(now)
    with locked_search(claim.search_id) as session:
        if not _holds(session, claim):
            return False
        engine = session.engine
        engine.complete(claim.index, metrics, {})
        _store_artifacts(claim.candidate_pk, artifacts)
        Candidate.objects.filter(pk=claim.candidate_pk).update(lease="", heartbeat=None)
        session.candidate_event("candidate.finished", claim.index)
        fill(session, now)
        return True


def record_failure(claim: Claim, message: str, now: datetime | None = None) -> bool:
    """Record that the evaluation raised; the search goes on."""
    now = _now(now)
    with locked_search(claim.search_id) as session:
        if not _holds(session, claim):
            return False
        session.engine.fail(claim.index, message[:2000] or "evaluation failed")
        Candidate.objects.filter(pk=claim.candidate_pk).update(lease="", heartbeat=None)
        session.candidate_event("candidate.failed", claim.index)
        fill(session, now)
        return True


# -- final training (search_engine.search.finalise) ------------------------------------------

#: Candidate timing set when its final training is asked for (cleared when recorded).
FINALISE_REQUESTED = "finalise_requested_at"


def request_finalise(search: Search, indices: list[int] | None = None,
                     now: datetime | None = None, top: int | None = None) -> list[int]:
    """Queue final training for ``indices`` (default: the feasible Pareto front not finalised
    yet, or its ``top`` most accurate) of a search that is not running; returns the indices
    queued."""
    from search_engine.search.finalise import choose_targets

    now = _now(now)
    with locked_search(search.pk) as session:
        _require(session, (SearchState.PAUSED, SearchState.FINISHED, SearchState.CANCELLED,
                           SearchState.FAILED), "finalise candidates of")
        engine = session.engine
        try:
            targets = choose_targets(engine, indices, top)
        except ValueError as exc:
            raise HandlerError(str(exc), "candidates") from None
        targets = [c for c in targets if FINALISE_REQUESTED not in c.timings]
        for record in targets:
            record.timings[FINALISE_REQUESTED] = now.timestamp()
            dispatch.finalise_on_commit(session.candidate_pk(record.id), dispatch.new_task_id())
            session.candidate_event("candidate.finalising", record.id)
        engine.store.save(engine.state)
        return [c.id for c in targets]


def finalise_target(candidate_pk: int) -> tuple[Search, int, dict[str, Any], float] | None:
    """What a finalise task needs: (search, index, architecture, sparsity); ``None`` when the
    request is gone (recorded already, the search deleted)."""
    row = (Candidate.objects.select_related("search", "search__upload")
           .filter(pk=candidate_pk).first())
    if row is None or FINALISE_REQUESTED not in (row.timings or {}):
        return None
    return row.search, row.index, row.architecture, row.sparsity


def record_final(search_id: int, index: int, metrics: Mapping[str, Any] | None,
                 artifacts: Mapping[str, bytes], message: str = "") -> bool:
    """Store a final training's result (or, with ``metrics=None``, that it failed: the
    candidate keeps its screening figures); ``False`` when the request is gone."""
    with locked_search(search_id) as session:
        if session is None:
            return False
        engine = session.engine
        record = engine.state.by_id(index)
        if FINALISE_REQUESTED not in record.timings:
            return False  # a duplicate message recorded it already
        del record.timings[FINALISE_REQUESTED]
        pk = session.candidate_pk(index)
        if metrics is None:
            record.timings["finalise_failed_at"] = time.time()
            engine.store.save(engine.state)
            log.warning("final training of candidate %s failed: %s", pk, message)
            session.candidate_event("candidate.finalise_failed", index)
            return True
        engine.finalise(index, metrics, {})
        _store_artifacts(pk, artifacts)
        session.candidate_event("candidate.finalised", index)
        return True


# -- the reaper -----------------------------------------------------------------------------


def reap(now: datetime | None = None) -> dict[str, int]:
    """Repair what lost workers and a lost broker left behind; returns what it did."""
    now = _now(now)
    done = {"requeued": 0, "republished": 0, "restarted": 0, "filled": 0}
    lease_cutoff = now - timedelta(seconds=settings.UNAS_LEASE_SECONDS)
    queued_cutoff = now - timedelta(seconds=settings.UNAS_QUEUED_LEASE_SECONDS)
    # 1. running candidates whose worker stopped beating (killed, machine lost)
    stale_searches = set(Candidate.objects.filter(state=CandidateState.RUNNING)
                         .filter(Q(heartbeat__lt=lease_cutoff) | Q(heartbeat=None))
                         .values_list("search_id", flat=True))
    for search_id in stale_searches:
        with locked_search(search_id) as session:
            if session is not None and session.has_engine_state:
                done["requeued"] += _reap_stale(session, now)
                fill(session, now)
    # 2. queued candidates of running searches whose task message was lost (broker restart)
    lost = list(Candidate.objects.filter(state=CandidateState.QUEUED,
                                         search__state=SearchState.RUNNING)
                .filter(Q(enqueued_at__lt=queued_cutoff) | Q(enqueued_at=None))
                .values_list("pk", flat=True))
    for pk in lost:
        with transaction.atomic():
            task_id = dispatch.new_task_id()
            if Candidate.objects.filter(pk=pk, state=CandidateState.QUEUED).update(
                    task_id=task_id, enqueued_at=now):
                dispatch.evaluate_on_commit(pk, task_id)
                done["republished"] += 1
    # 3. searches whose start task was lost
    for search_id in Search.objects.filter(state=SearchState.QUEUED,
                                           updated_at__lt=queued_cutoff
                                           ).values_list("pk", flat=True):
        with transaction.atomic():
            task_id = dispatch.new_task_id()
            if Search.objects.filter(pk=search_id, state=SearchState.QUEUED).update(
                    start_task_id=task_id, updated_at=now):
                dispatch.start_on_commit(search_id, task_id)
                done["restarted"] += 1
    # 4. running searches with free slots (lost proposals, time budget used up while idle)
    short = Search.objects.filter(state=SearchState.RUNNING).filter(
        Q(running__lt=F("in_flight_target") - F("queued")) | Q(time_budget_seconds__isnull=False))
    for search_id in short.values_list("pk", flat=True):
        with locked_search(search_id) as session:
            if session is not None and session.has_engine_state:
                before = session.search.last_event_id
                fill(session, now)
                done["filled"] += int(session.search.last_event_id != before)
    # 5. temporary folders of evaluations that were killed (their worker never removed them)
    done["cleaned"] = clean_work_dirs()
    return done


WORK_DIR_NAME = re.compile(r"^c([0-9]{1,18})-")


def clean_work_dirs(grace_seconds: float = 60.0) -> int:
    """Remove this machine's evaluation folders (``UNAS_WORK_DIR/c<pk>-*``, made by
    ``worker.evaluate``) whose candidate is no longer running: a worker killed mid-evaluation
    leaves its folder behind. Folders younger than ``grace_seconds`` are left alone."""
    root = Path(settings.UNAS_WORK_DIR)
    if not root.is_dir():
        return 0
    found: dict[int, list[Path]] = {}
    cutoff = time.time() - grace_seconds
    for entry in root.iterdir():
        match = WORK_DIR_NAME.match(entry.name)
        try:
            if match and entry.is_dir() and not entry.is_symlink() \
                    and entry.stat().st_mtime < cutoff:
                found.setdefault(int(match.group(1)), []).append(entry)
        except OSError:
            continue
    if not found:
        return 0
    running = set(Candidate.objects.filter(pk__in=list(found), state=CandidateState.RUNNING)
                  .values_list("pk", flat=True))
    removed = 0
    for pk, folders in found.items():
        if pk in running:
            continue
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
            removed += not folder.exists()
    return removed
