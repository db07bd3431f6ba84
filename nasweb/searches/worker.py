"""The body of one evaluation task: claim, heartbeat, evaluate, store (runs in a worker child).

The evaluator (``settings.UNAS_EVALUATOR``, ``"module:function"``; the real one trains with
TensorFlow) is imported here, inside the task, so TensorFlow is only ever loaded in the Celery
pool's child processes, never in the parent before it forks.

While the evaluator runs, a heartbeat thread renews the candidate's lease every
``UNAS_HEARTBEAT_SECONDS``. When the lease is gone (the search was cancelled or deleted, or the
reaper gave the candidate to another worker) it sets the stop flag that the evaluator can poll
(``context.options["should_stop"]()``, e.g. once per epoch); an evaluator that does not poll is
stopped by ending the worker child after ``UNAS_STOP_GRACE_SECONDS`` (``hard_stop``, Celery
only; cancellation also revokes the task with ``terminate=True``). A result that arrives
without the lease is discarded.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from search_engine.search.local_runner import EvaluationContext, failure_reason, load_evaluator

from . import handlers
from .datasets import local_upload_path
from .models import ArtifactKind, Search

log = logging.getLogger(__name__)

#: Metrics the objectives are computed from: a non-finite value makes the evaluation a failure.
REQUIRED_FINITE = ("val_accuracy", "macs")


def worker_name(hostname: str | None = None) -> str:
    return f"{hostname or socket.gethostname()}:{os.getpid()}"


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars and arrays become Python values, NaN/inf become None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluator's metrics as JSON-safe values; raises ``ValueError`` for bad objectives."""
    if not isinstance(metrics, Mapping):
        raise ValueError(f"the evaluator returned {type(metrics).__name__}, not a dict")
    clean = _plain(metrics)
    json.dumps(clean, allow_nan=False)
    for name in REQUIRED_FINITE:
        if clean.get(name) is None:
            raise ValueError(f"metric {name} is missing or not a finite number")
    return clean


def read_artifacts(paths: Mapping[str, str]) -> dict[str, bytes]:
    """The ``.tflite`` and header files the evaluator wrote (bounded by the artifact limit)."""
    files = {}
    for kind in ArtifactKind.values:
        path = paths.get(kind) if isinstance(paths, Mapping) else None
        if not path or not Path(path).is_file():
            continue
        size = Path(path).stat().st_size
        if size > settings.UNAS_ARTIFACT_MAX_BYTES:
            log.warning("artifact %s is %d bytes, over UNAS_ARTIFACT_MAX_BYTES; not stored",
                        kind, size)
            continue
        files[kind] = Path(path).read_bytes()
    return files


def evaluation_context(search: Search, out_dir: str, should_stop: Any,
                       fidelity: dict[str, Any] | None = None,
                       on_progress: Any = None,
                       inherit: dict[str, Any] | None = None) -> EvaluationContext:
    options: dict[str, Any] = {"input_shape": list(search.input_shape),
                               "num_classes": search.num_classes, "should_stop": should_stop}
    if search.inheritance:  # trained weights outlive the candidate's temporary folder
        options["weights_dir"] = str(handlers.weights_dir(search.pk))
    if inherit is not None:
        options["inherit"] = inherit
    if on_progress is not None:
        options["on_progress"] = on_progress
    if fidelity is not None:
        options["fidelity"] = fidelity
    if search.upload_id is not None:
        upload = search.upload
        options["dataset_options"] = {"path": str(local_upload_path(upload)), **upload.options}
    return EvaluationContext(dataset=search.dataset, profile=search.profile,
                             seed=int(search.seed), out_dir=out_dir,
                             data_dir=str(settings.DATASETS_DIR), limit=search.data_limit,
                             options=options)


class Heartbeat(threading.Thread):
    """Renews the lease; sets ``stop`` when it is lost, and ends the process if asked to."""

    def __init__(self, claim: handlers.Claim, stop: threading.Event, hard_stop: bool) -> None:
        super().__init__(name=f"heartbeat-{claim.candidate_pk}", daemon=True)
        self.claim = claim
        self.stop = stop
        self.hard_stop = hard_stop
        self.done = threading.Event()

    def run(self) -> None:
        interval = settings.UNAS_HEARTBEAT_SECONDS
        grace = float(getattr(settings, "UNAS_STOP_GRACE_SECONDS", 10.0))
        try:
            while not self.done.wait(interval):
                try:
                    held = handlers.heartbeat(self.claim)
                except Exception:  # noqa: BLE001 - a busy database: try again next beat
                    log.warning("heartbeat for candidate %s failed", self.claim.candidate_pk,
                                exc_info=True)
                    continue
                if not held:
                    self.stop.set()
                    log.info("candidate %s: lease lost, stopping", self.claim.candidate_pk)
                    if self.hard_stop and not self.done.wait(grace):
                        log.warning("evaluator did not stop; ending this worker process")
                        os.kill(os.getpid(), signal.SIGTERM)
                    return
        finally:
            connection.close()

    def finish(self) -> None:
        if not self.done.is_set():
            self.done.set()
            self.join(timeout=5)


#: Seconds between progress reports of one evaluation (epoch ends and stage changes are
#: reported as they come, other events at most this often).
PROGRESS_INTERVAL = 2.0


def progress_reporter(claim: handlers.Claim) -> Any:
    """The evaluator's ``on_progress``: stores and announces epoch ends, rungs and stage
    changes (``handlers.report_progress``); a failing report never stops the training."""
    last = {"stage": None, "at": 0.0}

    def report(event: Mapping[str, Any]) -> None:
        stage = event.get("stage")
        now = time.monotonic()
        if stage not in ("train", "rung") and stage == last["stage"] \
                and now - last["at"] < PROGRESS_INTERVAL:
            return
        last.update(stage=stage, at=now)
        try:
            handlers.report_progress(claim, event)
        except Exception:  # noqa: BLE001 - progress is a courtesy; the result is what counts
            log.warning("progress report for candidate %s failed", claim.candidate_pk,
                        exc_info=True)

    return report


def evaluate(candidate_pk: int, task_id: str = "", worker: str | None = None,
             hard_stop: bool = False) -> str:
    """Claim and evaluate one candidate; returns what happened (for the task result/log)."""
    claim = handlers.claim_candidate(candidate_pk, worker or worker_name(), task_id)
    if claim is None:
        return "skipped"
    search = Search.objects.select_related("upload").filter(pk=claim.search_id).first()
    if search is None:
        return "skipped"
    stop = threading.Event()
    beat = Heartbeat(claim, stop, hard_stop)
    beat.start()
    settings.UNAS_WORK_DIR.mkdir(parents=True, exist_ok=True)
    out_dir = tempfile.mkdtemp(prefix=f"c{candidate_pk}-", dir=settings.UNAS_WORK_DIR)
    try:
        try:
            evaluator = load_evaluator(settings.UNAS_EVALUATOR)
            metrics, paths = evaluator(claim.architecture, claim.sparsity,
                                       evaluation_context(search, out_dir, stop.is_set,
                                                          claim.fidelity,
                                                          progress_reporter(claim),
                                                          claim.inherit),
                                       candidate_id=claim.index)
            metrics = clean_metrics(metrics)
            files = read_artifacts(paths or {})
        except Exception as exc:  # the candidate's failure, not the search's
            beat.finish()
            if stop.is_set():
                return "stopped"
            log.warning("candidate %s failed", candidate_pk, exc_info=True)
            handlers.record_failure(claim, failure_reason(exc))
            return "failed"
        beat.finish()  # the lease is still good for UNAS_LEASE_SECONDS: plenty to commit
        if stop.is_set():
            return "stopped"
        return "done" if handlers.record_result(claim, metrics, files) else "stale"
    finally:
        beat.finish()
        shutil.rmtree(out_dir, ignore_errors=True)


def finalise(candidate_pk: int, worker: str | None = None) -> str:
    """Run one candidate's final training (``handlers.request_finalise``) and record it."""
    from search_engine.search.finalise import FINAL_PROFILE, final_context

    target = handlers.finalise_target(candidate_pk)
    if target is None:
        return "skipped"
    search, index, architecture, sparsity = target
    settings.UNAS_WORK_DIR.mkdir(parents=True, exist_ok=True)
    out_dir = tempfile.mkdtemp(prefix=f"c{candidate_pk}-final-", dir=settings.UNAS_WORK_DIR)
    try:
        try:
            evaluator = load_evaluator(settings.UNAS_EVALUATOR)
            context = final_context(evaluation_context(search, out_dir, lambda: False),
                                    FINAL_PROFILE, out_dir)
            metrics, paths = evaluator(architecture, sparsity, context, candidate_id=index)
            metrics = clean_metrics(metrics)
            files = read_artifacts(paths or {})
        except Exception as exc:  # the candidate keeps its screening figures
            log.warning("final training of candidate %s failed", candidate_pk, exc_info=True)
            handlers.record_final(search.pk, index, None, {}, failure_reason(exc))
            return "failed"
        return "finalised" if handlers.record_final(search.pk, index, metrics, files) \
            else "stale"
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
