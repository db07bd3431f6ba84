"""Drive a search with local worker processes (the CLI's evaluator pool).

Workers are started with ``spawn``, never ``fork``: TensorFlow deadlocks in a forked child of a
parent that has run TF ops, and spawn also keeps each worker's TF state its own. An evaluator
is named by its import path (``"package.module:function"``) so the workers can import it; it is
called as ``evaluate(architecture, sparsity, context)`` and returns ``(metrics, artifacts)``.

Asynchronous steady state: as soon as a worker is free the engine proposes the next child.
A candidate whose evaluation raises is recorded as failed with the reason; a worker process
that dies (e.g. killed) fails nothing: the pool is rebuilt and its candidates run again.
Each candidate gets its early-stopping plan (``search.fidelity``) in
``context.options["fidelity"]``, computed when it starts.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .engine import Search
from .state import CandidateRecord

DEFAULT_EVALUATOR = "search_engine.search.evaluate:evaluate_candidate"
MAX_ATTEMPTS = 3  # a candidate whose worker dies this often is recorded as failed


@dataclass(frozen=True)
class EvaluationContext:
    """What every evaluation shares: the data set, the training profile, where files go."""

    dataset: str
    profile: str
    seed: int
    out_dir: str
    data_dir: str | None = None
    limit: int | None = None
    options: dict[str, Any] = field(default_factory=dict)


class CandidateFailed(Exception):
    """An evaluation that raised; carries a one-line reason for the record."""


def load_evaluator(path: str) -> Callable[..., tuple[dict[str, Any], dict[str, str]]]:
    module_name, _, function = path.partition(":")
    if not module_name or not function:
        raise ValueError(f"evaluator: expected 'module:function', got {path!r}")
    evaluator: Callable[..., tuple[dict[str, Any], dict[str, str]]] = getattr(
        importlib.import_module(module_name), function
    )
    return evaluator


def _init_worker(log_path: str | None) -> None:
    """Send the worker's stdout/stderr (TensorFlow's C++ logging, converter chatter) to a log
    file so that the terminal shows only the driver's progress."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if log_path is None:
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)


def failure_reason(exc: BaseException) -> str:
    """The one-line reason a failed evaluation is recorded with: ``"Type: message"``."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _evaluate_in_worker(evaluator: str, candidate_id: int, architecture: dict[str, Any],
                        sparsity: float, context: EvaluationContext
                        ) -> tuple[dict[str, Any], dict[str, str], float]:
    started = time.monotonic()
    try:
        metrics, artifacts = load_evaluator(evaluator)(
            architecture, sparsity, context, candidate_id=candidate_id)
    except Exception as exc:  # reported as the candidate's failure, not the search's
        raise CandidateFailed(failure_reason(exc)) from None
    return metrics, artifacts, time.monotonic() - started


def candidate_context(search: Search, candidate_id: int, context: EvaluationContext
                      ) -> EvaluationContext:
    """``context`` with the candidate's early-stopping plan in ``options["fidelity"]`` and its
    weight-inheritance plan in ``options["inherit"]``, when the search has them on."""
    extra = {"fidelity": search.stopping_plan(candidate_id),
             "inherit": search.inheritance_plan(candidate_id)}
    extra = {k: v for k, v in extra.items() if v is not None}
    if not extra:
        return context
    return replace(context, options={**context.options, **extra})


def run_local(search: Search, context: EvaluationContext, *, workers: int = 1,
              evaluator: str = DEFAULT_EVALUATOR,
              on_event: Callable[[str, CandidateRecord | None], None] | None = None,
              log_path: str | None = None, deadline: float | None = None) -> Search:
    """Run ``search`` until its budget is used, with ``workers`` spawned processes whose output
    goes to ``log_path`` (when given). With ``deadline`` (a ``time.monotonic()`` value), no
    candidate is started after it; those running then finish, and the search can be resumed."""
    notify = on_event or (lambda kind, candidate: None)
    ctx = multiprocessing.get_context("spawn")

    def time_left() -> bool:
        return deadline is None or time.monotonic() < deadline

    while not search.finished and time_left():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                   initializer=_init_worker, initargs=(log_path,))
        futures: dict[Future[tuple[dict[str, Any], dict[str, str], float]], int] = {}
        broken = False
        try:
            while True:
                while not broken and len(futures) < workers and time_left():
                    queued = search.queued()
                    candidate = queued[0] if queued else search.propose()
                    if candidate is None:
                        break
                    search.start(candidate.id)
                    notify("started", candidate)
                    futures[pool.submit(_evaluate_in_worker, evaluator, candidate.id,
                                        candidate.architecture, candidate.sparsity,
                                        candidate_context(search, candidate.id, context)
                                        )] = candidate.id
                if not futures:
                    break
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    candidate_id = futures.pop(future)
                    try:
                        metrics, artifacts, seconds = future.result()
                    except CandidateFailed as exc:
                        notify("failed", search.fail(candidate_id, str(exc)))
                    except BrokenProcessPool:
                        broken = True  # a worker died: re-run its candidates in a new pool
                    else:
                        metrics = dict(metrics, evaluation_seconds=round(seconds, 3))
                        notify("finished", search.complete(candidate_id, metrics, artifacts))
                if broken and not futures:
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if broken:
            for candidate in search.in_flight():
                if candidate.attempts >= MAX_ATTEMPTS:
                    notify("failed", search.fail(
                        candidate.id, f"worker process died {candidate.attempts} times"))
            for candidate_id in search.requeue_in_flight():
                notify("requeued", search.state.by_id(candidate_id))
        elif not futures and search.budget_left <= 0 and not search.in_flight():
            break
    return search
