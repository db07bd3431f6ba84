"""Final training ("finalise"): retrain chosen candidates with the full profile.

The search screens candidates cheaply (the quick profile, early stopping at rungs); the models a
user deploys deserve the full recipe (the paper's profile: more epochs, augmentation, the
paper's pruning schedule). Finalising a candidate trains its architecture again from scratch
with that profile, exports and verifies it again in TFLite Micro, and replaces its metrics,
objectives, feasibility and files; the screening figures are kept under
``metrics["screening"]`` so a user sees both. The front is recomputed from the final figures.

By default the feasible Pareto front is finalised (:func:`default_targets`), or only its ``top``
most accurate members (:func:`choose_targets`). The drivers: the
CLI's ``finalise`` command (``finalise_local``, spawned workers) and the web app's finalise
task; both call :meth:`Search.finalise` with the evaluator's result.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Search
    from .local_runner import EvaluationContext
    from .state import CandidateRecord

FINAL_PROFILE = "paper"
#: Screening figures kept beside the final ones.
SCREENING_KEYS = ("profile", "epochs", "epochs_trained", "val_accuracy", "test_accuracy",
                  "test_accuracy_int8", "tflm_arena_bytes", "tflite_bytes", "macs", "params",
                  "train_seconds", "evaluation_seconds")


def is_finalised(metrics: Mapping[str, Any]) -> bool:
    return bool(metrics.get("finalised", False))


def finalised_metrics(screening: Mapping[str, Any], final: Mapping[str, Any]) -> dict[str, Any]:
    """The final report with ``finalised: true`` and the screening figures under
    ``screening`` (a candidate finalised twice keeps its first screening figures)."""
    kept = screening.get("screening") if is_finalised(screening) else {
        k: screening[k] for k in SCREENING_KEYS if k in screening}
    return dict(final, finalised=True, screening=dict(kept or {}))


def default_targets(candidates: Iterable[CandidateRecord]) -> list[CandidateRecord]:
    """The feasible Pareto front not finalised yet, by candidate id."""
    return [c for c in candidates
            if c.state == "done" and c.pareto and c.feasible and not is_finalised(c.metrics)]


def most_accurate(candidates: Iterable[CandidateRecord], top: int) -> list[CandidateRecord]:
    """The ``top`` candidates of lowest validation error (ties: lower id), by candidate id."""
    ranked = sorted(candidates, key=lambda c: (c.objectives.get("error", 1.0), c.id))
    return sorted(ranked[:top], key=lambda c: c.id)


def choose_targets(search: Search, ids: Sequence[int] | None,
                   top: int | None = None) -> list[CandidateRecord]:
    """``ids`` (each must be a trained candidate that was not stopped early), or the default
    targets, of which only the ``top`` most accurate when ``top`` is given (a front of 18 on
    MNIST is hours of full training; the few most accurate are what most users deploy).
    Raises ``ValueError`` naming what is wrong."""
    from .fidelity import stopped_early

    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a whole number of candidates, at least 1 (got {top!r})")
    if ids and top is not None:
        raise ValueError("name candidates or give top, not both")
    if not ids:
        targets = default_targets(search.state.candidates)
        return most_accurate(targets, top) if top is not None else targets
    chosen = []
    for i in ids:
        if not 0 <= i < len(search.state.candidates):
            raise ValueError(f"candidate {i}: no such candidate (0 to "
                             f"{len(search.state.candidates) - 1})")
        candidate = search.state.by_id(i)
        if candidate.state != "done":
            raise ValueError(f"candidate {i} is {candidate.state}: only trained candidates "
                             "can be finalised")
        if stopped_early(candidate.metrics):
            raise ValueError(f"candidate {i} was stopped early: it was never fully screened")
        chosen.append(candidate)
    return chosen


def final_context(context: EvaluationContext, profile: str, out_dir: str) -> EvaluationContext:
    """``context`` for final training: the full profile from scratch (no early stopping, no
    inherited weights; the weights it writes go under ``out_dir``)."""
    options = {k: v for k, v in context.options.items()
               if k not in ("fidelity", "inherit", "weights_dir")}
    return replace(context, profile=profile, out_dir=out_dir, options=options)


def finalise_local(search: Search, context: EvaluationContext,
                   targets: Sequence[CandidateRecord], *, profile: str = FINAL_PROFILE,
                   workers: int = 1, evaluator: str | None = None,
                   on_event: Callable[[str, CandidateRecord, str], None] | None = None,
                   log_path: str | None = None) -> list[int]:
    """Finalise ``targets`` with ``workers`` spawned processes; returns the ids finalised.
    A candidate whose final training fails keeps its screening figures (reported through
    ``on_event("failed", candidate, reason)``)."""
    from .local_runner import DEFAULT_EVALUATOR, CandidateFailed, _evaluate_in_worker, _init_worker

    notify = on_event or (lambda kind, candidate, detail: None)
    ctx = multiprocessing.get_context("spawn")
    final = final_context(context, profile, f"{context.out_dir}/final")
    done: list[int] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(log_path,)) as pool:
        futures = {}
        for candidate in targets:
            notify("started", candidate, "")
            futures[pool.submit(_evaluate_in_worker, evaluator or DEFAULT_EVALUATOR,
                                candidate.id, candidate.architecture, candidate.sparsity,
                                final)] = candidate
        for future in as_completed(futures):
            candidate = futures[future]
            try:
                metrics, artifacts, seconds = future.result()
            except CandidateFailed as exc:
                notify("failed", candidate, str(exc))
                continue
            metrics = dict(metrics, evaluation_seconds=round(seconds, 3))
            notify("finished", search.finalise(candidate.id, metrics, artifacts), "")
            done.append(candidate.id)
    return done
