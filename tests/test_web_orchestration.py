"""Search orchestration without a broker: the Celery task bodies run in-process, in publish
order (``nasweb.searches.testing``), on real transactions, with the fast fake evaluator.

Checked against independent references: the Pareto flags against a brute-force dominance
check, the event log against its own invariants (ids grow, ``prev`` chains, one finish per
candidate), and the claim / lease / reaper rules against the cases that break them.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections import deque
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from nasweb.searches import handlers
from nasweb.searches.models import Candidate, Project, Search, SearchEvent
from nasweb.searches.testing import recording_dispatcher, run_recorded

pytestmark = pytest.mark.django_db(transaction=True)


def failing_evaluate(architecture, sparsity, context, *, candidate_id):
    if candidate_id % 3 == 1:
        raise RuntimeError(f"conversion failed for candidate {candidate_id}")
    from tests.fake_evaluator import evaluate

    return evaluate(architecture, sparsity, context, candidate_id=candidate_id)


def nan_evaluate(architecture, sparsity, context, *, candidate_id):
    from tests.fake_evaluator import evaluate

    metrics, files = evaluate(architecture, sparsity, context, candidate_id=candidate_id)
    return dict(metrics, val_accuracy=float("nan")), files


def make_search(**overrides):
    user = get_user_model().objects.create_user("ada", password="pw-unused-9f3k")
    project = Project.objects.create(owner=user, name="p", dataset="digits")
    fields = dict(name="s", dataset="digits", input_shape=[8, 8, 1], num_classes=10,
                  sram_bytes=6000, flash_bytes=24000, bound_sram_bytes=6000.0,
                  bound_flash_bytes=24000.0, rounds=8, population=4, sample=2, seed=3,
                  sparsity_min=0.05, sparsity_max=0.8, in_flight_target=2)
    fields.update(overrides)
    return handlers.create_search(project, **fields)


def dominated(a, b):
    """a is dominated by b (all objectives <=, one <)."""
    keys = ("error", "sram_bytes", "flash_bytes", "macs")
    return all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)


def check_event_log(search):
    events = list(SearchEvent.objects.filter(search=search).order_by("id"))
    assert events[0].prev == 0
    for before, after in zip(events, events[1:], strict=False):
        assert after.id > before.id and after.prev == before.id
    search.refresh_from_db()
    assert search.last_event_id == events[-1].id
    assert all(c.seq <= search.last_event_id and c.seq > 0 for c in search.candidates.all())
    return events


def test_a_whole_search_runs_to_its_budget(web_env):
    with recording_dispatcher() as recorder:
        search = make_search()
        assert search.state == "queued"
        outcomes = run_recorded(recorder)
    search.refresh_from_db()
    assert search.state == "finished", search.error_message
    assert outcomes.count("done") == 8 and "failed" not in outcomes
    rows = list(search.candidates.order_by("index"))
    assert [c.index for c in rows] == list(range(8))
    assert all(c.state == "done" and c.attempts == 1 for c in rows)
    assert search.evaluated == 8 and search.running == 0 and search.queued == 0
    # flattened columns mirror the metrics and objectives
    for c in rows:
        # the early-stopping plan reached the worker through its claim: rungs were measured
        assert c.metrics["rung_accuracy"] and c.metrics["stopped_early"] is False
        assert c.val_accuracy == pytest.approx(c.metrics["val_accuracy"])
        assert c.tflm_arena_bytes == c.metrics["tflm_arena_bytes"]
        assert c.error == pytest.approx(1 - c.metrics["val_accuracy"])
        assert c.predicted_sram_bytes == c.precheck["estimated_sram_bytes"] <= 6000
        assert c.feasible == (c.tflm_arena_bytes <= 6000 and c.tflite_bytes <= 24000)
    # Pareto flags = brute-force non-dominated set among the evaluated candidates
    objectives = {c.index: c.objectives for c in rows}
    expected = {i for i, o in objectives.items()
                if not any(dominated(o, p) for j, p in objectives.items() if j != i)}
    assert {c.index for c in rows if c.pareto} == expected
    # evolution happened (population 4 < rounds 8)
    assert any(c.parent is not None for c in rows)
    # the event log: chained, one start and one finish per candidate, ends finished
    events = check_event_log(search)
    kinds = [e.kind for e in events]
    assert kinds.count("candidate.started") == 8 and kinds.count("candidate.finished") == 8
    assert kinds.count("candidate.queued") == 8
    finished = [e.data["index"] for e in events if e.kind == "candidate.finished"]
    assert sorted(finished) == list(range(8))
    assert all(e.data["metrics"]["epochs_trained"] == 9 for e in events
               if e.kind == "candidate.finished")  # the table's "Trained" column
    # live progress of each running candidate: its epochs, as the trainer reported them
    progress = [e.data for e in events if e.kind == "candidate.progress"]
    assert sorted({p["index"] for p in progress}) == list(range(8))
    first = next(p["progress"] for p in progress if p["index"] == 0)
    assert first["stage"] == "train" and first["epoch"] == 1 and first["epochs"] == 9
    assert first["samples_per_second"] == 1000.0 and "loss" not in first  # NaN dropped
    assert all(c.progress["epoch"] == 2 for c in rows)  # the last report is kept
    assert events[-1].kind == "search.state" and events[-1].data["state"] == "finished"
    assert any(e.kind == "pareto.changed" for e in events)
    # artifacts came through the database (the fake writes only a .tflite)
    assert all(c.artifacts.filter(kind="tflite").exists() for c in rows)
    # the engine state round-trips: a fresh session reads the same candidates
    from nasweb.searches.session import locked_search

    with locked_search(search.pk) as session:
        assert session.engine.evaluated == 8 and session.engine.finished


def test_failures_are_recorded_and_the_search_goes_on(web_env, settings):
    settings.UNAS_EVALUATOR = "tests.test_web_orchestration:failing_evaluate"
    with recording_dispatcher() as recorder:
        search = make_search(rounds=6)
        run_recorded(recorder)
    search.refresh_from_db()
    assert search.state == "finished" and search.evaluated == 6
    failed = search.candidates.filter(state="failed")
    assert {c.index for c in failed} == {1, 4}
    for c in failed:
        assert c.error_message == f"RuntimeError: conversion failed for candidate {c.index}"
        assert not c.pareto
    kinds = [e.kind for e in check_event_log(search)]
    assert kinds.count("candidate.failed") == 2


def test_non_finite_metrics_fail_the_candidate(web_env, settings):
    settings.UNAS_EVALUATOR = "tests.test_web_orchestration:nan_evaluate"
    with recording_dispatcher() as recorder:
        search = make_search(rounds=2)
        run_recorded(recorder)
    rows = list(Search.objects.get(pk=search.pk).candidates.all())
    assert all(c.state == "failed" and "val_accuracy" in c.error_message for c in rows)
    # issue 12: nothing was trained, so the search failed (not "finished") and says why
    search.refresh_from_db()
    assert search.state == "failed", search.state
    assert search.error_message.startswith("all 2 candidates failed; the last error: ")
    assert "val_accuracy" in search.error_message


def test_a_search_whose_candidates_all_fail_ends_failed_with_the_reason(web_env, settings):
    """Issue 12: an image zip that no candidate could decode ended its search 'finished', with
    nothing telling the user why. The reason is in the API and in the event the page reads."""
    from rest_framework.test import APIClient

    settings.UNAS_EVALUATOR = "tests.fake_evaluator:fail"
    with recording_dispatcher() as recorder:
        search = make_search(rounds=3)
        outcomes = run_recorded(recorder)
    assert outcomes.count("failed") == 3 and "done" not in outcomes
    client = APIClient()
    client.force_authenticate(search.project.owner)
    body = client.get(f"/api/searches/{search.pk}/").json()
    assert body["state"] == "failed"
    assert body["error_message"].startswith("all 3 candidates failed; the last error: "
                                            "ValueError: zip entry 'pets/dog/")
    assert "cannot decode the image (Invalid PNG data)" in body["error_message"]
    last = check_event_log(search)[-1]  # what the dashboard shows (#search-error)
    assert last.kind == "search.state" and last.data["state"] == "failed"
    assert last.data["error_message"] == body["error_message"]


def test_pause_resume_cancel(web_env):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=6)
        run_recorded(recorder, max_tasks=1)  # the start: 2 candidates queued
        assert Search.objects.get(pk=search.pk).state == "running"
        handlers.pause_search(search)
        # queued tasks of a paused search do not claim; running ones would finish
        assert run_recorded(recorder) == ["skipped", "skipped"]
        assert search.candidates.filter(state="queued").count() == 2
        with pytest.raises(handlers.ConflictError, match="cannot pause a search that is paused"):
            handlers.pause_search(search)
        handlers.resume_search(search)
        assert len(recorder.tasks) == 2  # the queued candidates are published again
        run_recorded(recorder, max_tasks=3)
        claim_pk = recorder.tasks[0][1]
        claim = handlers.claim_candidate(claim_pk, "w:1")
        assert claim is not None
        handlers.cancel_search(search)
        search.refresh_from_db()
        assert search.state == "cancelled"
        assert recorder.revoked, "the running candidate's task is revoked"
        assert not handlers.heartbeat(claim)  # the worker learns to stop
        assert not handlers.record_result(claim, {"val_accuracy": 0.9, "macs": 1,
                                                  "peak_memory_bytes": 1,
                                                  "model_size_bytes": 1}, {})
        run_recorded(recorder)
    states = set(search.candidates.values_list("state", flat=True))
    assert states <= {"done", "cancelled"} and "cancelled" in states
    with pytest.raises(handlers.ConflictError, match="cannot resume"):
        handlers.resume_search(search)
    check_event_log(search)


def test_a_candidate_is_claimed_once(web_env):
    with recording_dispatcher() as recorder:
        search = make_search()
        run_recorded(recorder, max_tasks=1)
        pk = search.candidates.get(index=0).pk
        first = handlers.claim_candidate(pk, "w:1")
        assert first is not None and first.index == 0 and first.attempt == 1
        assert handlers.claim_candidate(pk, "w:2") is None
        assert handlers.claim_candidate(10**9, "w:2") is None  # gone


def test_the_reaper_requeues_a_dead_workers_candidate(web_env, settings):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=3)
        run_recorded(recorder, max_tasks=1)
        kind, pk, _ = recorder.tasks.popleft()
        dead = handlers.claim_candidate(pk, "dead:1")
        assert dead is not None
        later = timezone.now() + timedelta(seconds=settings.UNAS_LEASE_SECONDS + 1)
        assert handlers.reap(now=later)["requeued"] == 1
        row = Candidate.objects.get(pk=pk)
        assert row.state == "queued" and row.lease == "" and row.attempts == 1
        assert any(t[1] == pk for t in recorder.tasks)  # published again
        # the dead worker's late result is not accepted
        assert not handlers.record_result(dead, {"val_accuracy": 0.5, "macs": 1,
                                                 "peak_memory_bytes": 1,
                                                 "model_size_bytes": 1}, {})
        run_recorded(recorder)
    search.refresh_from_db()
    assert search.state == "finished"
    assert Candidate.objects.get(pk=pk).attempts == 2
    kinds = [e.kind for e in check_event_log(search)]
    assert "candidate.requeued" in kinds


def test_a_candidate_whose_workers_keep_dying_fails(web_env, settings):
    settings.UNAS_MAX_ATTEMPTS = 2
    with recording_dispatcher() as recorder:
        search = make_search(rounds=2)
        run_recorded(recorder, max_tasks=1)
        pk = recorder.tasks[0][1]
        now = timezone.now()
        for attempt in range(2):
            recorder.tasks = deque(t for t in recorder.tasks if t[1] != pk)
            assert handlers.claim_candidate(pk, f"dead:{attempt}") is not None
            now += timedelta(seconds=settings.UNAS_LEASE_SECONDS + 1)
            handlers.reap(now=now)
        row = Candidate.objects.get(pk=pk)
        assert row.state == "failed" and "lost 2 times" in row.error_message
        run_recorded(recorder)
    assert Search.objects.get(pk=search.pk).state == "finished"


def test_lost_task_messages_are_published_again(web_env, settings):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=4)
        outcomes = run_recorded(recorder, before=lambda kind, ident: kind == "start")
        assert outcomes.count("dropped") == 2  # e.g. Redis restarted without persistence
        assert search.candidates.filter(state="queued").count() == 2
        assert handlers.reap()["republished"] == 0  # not yet: they may just be waiting
        later = timezone.now() + timedelta(seconds=settings.UNAS_QUEUED_LEASE_SECONDS + 1)
        assert handlers.reap(now=later)["republished"] == 2
        run_recorded(recorder)
    search.refresh_from_db()
    assert search.state == "finished" and search.evaluated == 4


def test_a_lost_start_task_is_published_again(web_env, settings):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=2)
        recorder.tasks.clear()
        later = timezone.now() + timedelta(seconds=settings.UNAS_QUEUED_LEASE_SECONDS + 1)
        assert handlers.reap(now=later)["restarted"] == 1
        run_recorded(recorder)
    assert Search.objects.get(pk=search.pk).state == "finished"


def test_the_time_budget_ends_a_search(web_env):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=50, time_budget_seconds=60)
        run_recorded(recorder, max_tasks=3)  # start + 2 evaluations
        search.refresh_from_db()
        assert search.state == "running"
        started = search.run_started_at
        later = timezone.now() + timedelta(seconds=61)
        recorder.tasks.clear()
        handlers.reap(now=later)
        # time is up: nothing new is proposed; the in-flight candidates still finish
        assert search.candidates.count() <= 4
        pending = list(search.candidates.filter(state="queued").values_list("pk", flat=True))
        for pk in pending:
            claim = handlers.claim_candidate(pk, "w:1", now=later)
            handlers.record_result(claim, {"val_accuracy": 0.5, "macs": 10,
                                           "peak_memory_bytes": 100,
                                           "model_size_bytes": 100}, {}, now=later)
    search.refresh_from_db()
    assert search.state == "finished"
    assert search.candidates.count() < 50
    # the clock ran from the start to the reap that ended it (however long the first
    # evaluations took on a busy machine)
    assert math.isclose(search.run_seconds, (later - started).total_seconds(), abs_tol=1)
    assert search.run_seconds >= 61


def test_in_flight_target_keeps_workers_busy(web_env):
    with recording_dispatcher() as recorder:
        search = make_search(rounds=10, in_flight_target=4)
        run_recorded(recorder, max_tasks=1)
        assert search.candidates.filter(state="queued").count() == 4
        handlers.update_search(search, in_flight_target=6)
        assert search.candidates.filter(state="queued").count() == 6


def test_the_celery_parent_never_imports_tensorflow():
    """Tasks, worker body, handlers and the ASGI app import no TF: only the evaluator does,
    inside a task, in a pool child (TF misbehaves in children forked after it loaded)."""
    code = ("import os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'nasweb.settings');"
            "import django; django.setup(); from nasweb.celery import app;"
            "app.loader.import_default_modules();"
            "import nasweb.searches.tasks, nasweb.searches.worker, nasweb.asgi, nasweb.urls;"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]


def test_finalise_the_front_from_the_api(web_env):
    """POST .../finalise/ retrains the feasible front with the full profile in a worker task;
    figures and files are replaced, the screening figures kept; bad requests change nothing."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    with recording_dispatcher() as recorder:
        search = make_search(sram_bytes=12000, flash_bytes=40000, bound_sram_bytes=12000.0,
                             bound_flash_bytes=40000.0)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token "
                           + Token.objects.create(user=search.project.owner).key)
        url = f"/api/searches/{search.pk}/finalise/"
        handlers.start_search(search.pk)
        busy = client.post(url)  # a running search: its workers are busy with the search
        assert busy.status_code == 409 and "running" in str(busy.json()), busy.json()
        run_recorded(recorder)
        search.refresh_from_db()
        assert search.state == "finished"
        front = sorted(c.index for c in search.candidates.filter(pareto=True, feasible=True))
        assert front
        before = {c.index: dict(c.metrics) for c in search.candidates.all()}

        for body, field, message in (({"candidates": [99]}, "candidates", "no such candidate"),
                                     ({"candidates": [-1]}, "candidates", "greater than"),
                                     ({"candidates": []}, "candidates", "empty"),
                                     ({"candidates": "x"}, "candidates", "list"),
                                     ({"top": 0}, "top", "greater than"),
                                     ({"top": "many"}, "top", "valid integer"),
                                     ({"top": 1, "candidates": [front[0]]}, "top",
                                      "not both")):
            bad = client.post(url, body, format="json")
            assert bad.status_code == 400 and message in str(bad.json()[field]), bad.json()
        assert not recorder.tasks
        assert {c.index: dict(c.metrics) for c in search.candidates.all()} == before

        best = min(front, key=lambda i: (1 - before[i]["val_accuracy"], i))
        first = client.post(url, {"top": 1}, format="json")
        assert first.status_code == 202 and first.json()["queued"] == [best]
        queued = client.post(url)  # the rest of the front; the best is asked for already
        assert queued.status_code == 202
        assert sorted(queued.json()["queued"]) == [i for i in front if i != best]
        assert client.post(url).json()["queued"] == []  # asked already: not queued twice
        outcomes = run_recorded(recorder)
    assert outcomes == ["finalised"] * len(front)
    for c in search.candidates.filter(index__in=front):
        assert c.metrics["finalised"] is True and c.metrics["profile"] == "paper"
        assert c.metrics["screening"]["val_accuracy"] == before[c.index]["val_accuracy"]
        assert c.val_accuracy == pytest.approx(before[c.index]["val_accuracy"] + 0.01)
        assert "finalise_requested_at" not in c.timings and "finalised_at" in c.timings
        assert c.artifacts.filter(kind="tflite").exists()
    kinds = [e.kind for e in SearchEvent.objects.filter(search=search)]
    assert kinds.count("candidate.finalising") == len(front)
    assert kinds.count("candidate.finalised") == len(front)
    # a duplicate task message (redelivery) finds nothing to do
    from nasweb.searches.worker import finalise

    assert finalise(search.candidates.get(index=front[0]).pk) == "skipped"


SEEN_OPTIONS: dict[int, dict] = {}


def inheriting_evaluate(architecture, sparsity, context, *, candidate_id):
    """The fake evaluator, recording the plan it got and writing a weights file where the real
    evaluator would."""
    from search_engine.search.evaluate import weights_file
    from tests.fake_evaluator import evaluate

    SEEN_OPTIONS[candidate_id] = {k: context.options.get(k) for k in ("inherit", "weights_dir")}
    path = weights_file(context, candidate_id)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"weights")
    return evaluate(architecture, sparsity, context, candidate_id=candidate_id)


@pytest.mark.parametrize("inheritance", [True, False])
def test_children_get_their_parents_weights_plan(web_env, settings, inheritance):
    settings.UNAS_EVALUATOR = "tests.test_web_orchestration:inheriting_evaluate"
    SEEN_OPTIONS.clear()
    with recording_dispatcher() as recorder:
        search = make_search(rounds=8, inheritance=inheritance)
        run_recorded(recorder)
    search.refresh_from_db()
    assert search.state == "finished" and search.evaluated == 8
    folder = handlers.weights_dir(search.pk)
    parents = dict(search.candidates.values_list("index", "parent"))
    assert any(p is not None for p in parents.values())
    for index, seen in SEEN_OPTIONS.items():
        if not inheritance:
            assert seen == {"inherit": None, "weights_dir": None}
        elif parents[index] is None:
            assert seen == {"inherit": None, "weights_dir": str(folder)}
        else:
            assert seen["inherit"] == {"parent": parents[index], "epochs_fraction": 0.5}
    assert folder.is_dir() == inheritance
    handlers.delete_search(search)
    assert not folder.exists()


@pytest.mark.parametrize("overrides, field", [
    ({"sram_bytes": 0}, "sram_bytes"),
    ({"bound_error": -0.5}, "bound_error"),
    ({"population": 2, "sample": 3}, "sample"),
])
def test_create_search_names_the_refused_field(web_env, overrides, field):
    with pytest.raises(handlers.HandlerError) as caught:
        make_search(**overrides)
    assert caught.value.field == field and ": " not in caught.value.message
    assert Search.objects.count() == 0
