"""The real evaluator: train a candidate with pruning, export int8, measure it in TFLite Micro.

Called by the search drivers (CLI worker processes, Celery worker children) as
``evaluate_candidate(architecture_json, sparsity, context, candidate_id=...)`` and returns
``(metrics, artifacts)``: the training report (``train.pipeline``) and the paths of the files
written under ``context.out_dir/<id>/``. TensorFlow is imported here, in the worker, only when an
evaluation runs. Each worker process loads its data set once and keeps it.

When ``context.options["should_stop"]`` is given (the web app's cancellation), it is polled at
every progress event of the pipeline (each epoch, each export stage) and the evaluation stops
with :class:`EvaluationCancelled`. ``context.options["fidelity"]`` is the candidate's
early-stopping plan (``search.fidelity``), when the search has early stopping on;
``context.options["on_progress"]``, when given, receives every progress event (the web app
stores and announces them: the dashboard's live progress of a running candidate).

Weight inheritance (``train.inherit``): when the driver gives ``context.options["weights_dir"]``
(a search with inheritance on: the CLI's ``<out>/weights/``, the web app's per-search folder),
every evaluation writes its trained weights to :func:`weights_file` there, ``<id>.npz``; other
searches write none. ``context.options["inherit"]`` (``Search.inheritance_plan``: ``{"parent": id,
"epochs_fraction": f}``) makes the child start from its parent's file and train the profile
shortened to ``ceil(f * epochs)`` epochs (``profiles.shortened_profile``). A parent whose file
is missing or unreadable (a reference evaluated before the switch was on, a deleted folder)
leaves the child training from scratch with the full profile; the report says which
(``inheritance``).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from .local_runner import EvaluationContext

ARTIFACTS = {"keras": "model.keras", "tflite": "model.tflite", "header": "model.h",
             "report": "report.json"}


class EvaluationCancelled(RuntimeError):
    """The driver asked the evaluation to stop."""


@lru_cache(maxsize=4)
def _dataset(name: str, data_dir: str | None, limit: int | None, seed: int,
             options: tuple[tuple[str, Any], ...]) -> Any:
    from search_engine.train.datasets import load_dataset

    return load_dataset(name, data_dir=data_dir, limit=limit, seed=seed, **dict(options))


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    return value


def weights_file(context: EvaluationContext, candidate_id: int) -> Path | None:
    """Where candidate ``candidate_id``'s trained weights are (or will be) written; ``None``
    when the search keeps no weights (no ``options["weights_dir"]``)."""
    weights_dir = context.options.get("weights_dir")
    return Path(weights_dir) / f"{candidate_id:05d}.npz" if weights_dir else None


def _inheritance(
    context: EvaluationContext, profile: Any
) -> tuple[Any, Any, dict[str, Any] | None]:
    """(profile to train with, parent weights or ``None``, what to report)."""
    plan = context.options.get("inherit")
    if not plan:
        return profile, None, None
    from search_engine.train.inherit import InheritanceError, load_weights
    from search_engine.train.profiles import shortened_profile

    parent = int(plan["parent"])
    path = weights_file(context, parent)
    if path is None:
        return profile, None, {"parent": parent, "skipped": "the search keeps no weights"}
    if not path.exists():
        return profile, None, {"parent": parent, "skipped": "the parent's weights are missing"}
    try:
        weights = load_weights(path)
    except InheritanceError as exc:
        return profile, None, {"parent": parent, "skipped": str(exc)}
    epochs = max(1, math.ceil(profile.epochs * float(plan.get("epochs_fraction", 1.0))))
    return shortened_profile(profile, epochs), weights, {"parent": parent}


def evaluate_candidate(architecture: dict[str, Any], sparsity: float,
                       context: EvaluationContext, *, candidate_id: int
                       ) -> tuple[dict[str, Any], dict[str, str]]:
    """Train, prune, export and measure one candidate; see the module docstring."""
    from search_engine.space import architecture_from_json
    from search_engine.train.pipeline import train_and_export
    from search_engine.train.profiles import get_profile

    should_stop = context.options.get("should_stop")
    on_progress = context.options.get("on_progress")

    def progress(event: dict[str, Any]) -> None:
        if on_progress is not None:
            on_progress(event)
        if should_stop is not None and should_stop():
            raise EvaluationCancelled(f"stopped during {event.get('stage', 'training')}")

    # uploads: the file's path and its loading options (image size, colour mode)
    options = tuple(sorted((str(k), _hashable(v))
                           for k, v in (context.options.get("dataset_options") or {}).items()))
    dataset = _dataset(context.dataset, context.data_dir, context.limit, context.seed, options)
    out = Path(context.out_dir) / f"{candidate_id:05d}"
    profile, init, inherited = _inheritance(context, get_profile(context.dataset,
                                                                 context.profile))
    report = train_and_export(architecture_from_json(architecture), sparsity, dataset, profile,
                              seed=context.seed, out_dir=out, progress=progress,
                              stopping=context.options.get("fidelity"), init=init,
                              weights_path=weights_file(context, candidate_id))
    if inherited is not None:
        report["inheritance"] = {**inherited, **(report.get("inheritance") or {})}

    artifacts = {kind: str(out / name) for kind, name in ARTIFACTS.items()
                 if (out / name).exists()}
    return report, artifacts
