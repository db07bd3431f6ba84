"""Train -> materialise -> export -> measure -> report, for one candidate.

``train_and_export(arch, sparsity, dataset, profile, seed=..., out_dir=...)``:

1. train the masked model (``trainer.train_candidate``: structured pruning to ``sparsity``);
2. materialise the smaller dense model (``materialise``) and check it against the masked one;
3. resources of the pruned architecture from its op graph: parameters, model size, MACs,
   predicted peak memory in the optimal order (and the paper's figure, and the default order's);
4. full-integer int8 conversion (representative data: the training split, preprocessed);
5. operators rewritten in the memory-optimal order found on the ``.tflite`` graph;
6. the smallest TFLM arena, measured in a child process (``export.tflm.measure_arena``);
7. int8 accuracy on the whole test split in TFLM, and agreement with the float model;
8. ``DIR/model.keras`` (the materialised float model), ``DIR/model.tflite``, ``DIR/model.h``,
   ``DIR/report.json``.

Any failure raises :class:`PipelineError` naming the stage, so that a search can record it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from search_engine.space.architecture import Architecture

Progress = Callable[[dict[str, Any]], None]
REPRESENTATIVE_SAMPLES = 200
MATERIALISE_TOLERANCE = 1e-4  # relative to the largest logit; float rounding only


class PipelineError(RuntimeError):
    """A stage of the train-and-export pipeline failed; ``stage`` names it."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(f"{stage}: {message}")


def _emit(progress: Progress | None, stage: str, **info: Any) -> None:
    if progress is not None:
        progress({"stage": stage, **info})


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def _json_ready_report(report: dict[str, Any]) -> dict[str, Any]:
    ready: dict[str, Any] = _json_ready(report)  # a dict maps to a dict
    return ready


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def train_and_export(
    arch: Architecture,
    sparsity: float,
    dataset: Any,
    profile: Any,
    *,
    seed: int = 0,
    out_dir: str | Path,
    progress: Progress | None = None,
    epochs: int | None = None,
    model_name: str = "model",
    stopping: dict[str, Any] | None = None,
    init: Any = None,
    weights_path: str | Path | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline and return the report (also written to ``out_dir/report.json``).

    ``epochs`` overrides the profile's epoch count (tests, demos). ``stopping`` is an
    early-stopping plan (``search.fidelity``): a candidate that a rung stops is not exported;
    its report (:func:`stopped_report`) has the rung accuracies, ``stopped_early: true`` and
    the analytic resources of its pruned architecture. ``init`` is a parent's weights to
    start from (``train.inherit``); ``weights_path``, when given, is where the trained masked
    model's weights are written for children to inherit (stopped candidates too). Raises
    :class:`PipelineError` (with ``stage``) on any failure, and for bad input.
    """
    from search_engine.space.pruned import check_sparsity
    from search_engine.space.search_space import SearchSpace, int_shape

    started = time.perf_counter()
    out = Path(out_dir)
    try:
        sparsity = check_sparsity(sparsity)
        input_shape = int_shape(dataset.input_shape)
        num_classes = int(dataset.num_classes)
        arch = SearchSpace(input_shape, num_classes).normalise(arch)
        out.mkdir(parents=True, exist_ok=True)
    except (ValueError, OSError) as exc:
        raise PipelineError("input", str(exc)) from exc

    # 1. train ------------------------------------------------------------------------------
    from search_engine.train.trainer import (
        TrainingError,
        accuracy,
        predict_logits,
        preprocess,
        train_candidate,
    )

    try:
        trained = train_candidate(
            arch, sparsity, dataset, profile, seed=seed, progress=progress, epochs=epochs,
            stopping=stopping, init=init,
        )
        if weights_path is not None:
            from search_engine.train.inherit import save_weights

            save_weights(trained.model, arch, input_shape, num_classes, weights_path)
    except TrainingError as exc:
        raise PipelineError("train", str(exc)) from exc
    except Exception as exc:  # TensorFlow raises many types
        raise PipelineError("train", f"{type(exc).__name__}: {exc}") from exc
    if trained.stopped_at is not None:
        report = stopped_report(arch, sparsity, dataset, profile, trained, seed=seed)
        report["inheritance"] = trained.inheritance
        report["total_seconds"] = time.perf_counter() - started
        _write_report(out, report)
        _emit(progress, "done", out_dir=str(out), stopped_early=True)
        return _json_ready_report(report)
    x_train, x_val, x_test = preprocess(dataset, profile)

    # 2. materialise ------------------------------------------------------------------------
    _emit(progress, "materialise")
    from search_engine.train.materialise import materialise

    export_start = time.perf_counter()
    try:
        small, pruned = materialise(
            trained.model, arch, sparsity, input_shape, num_classes, masks=trained.masks
        )
        probe = x_test[:64] if len(x_test) else x_train[:64]
        a = np.asarray(trained.model(probe, training=False))
        b = np.asarray(small(probe, training=False))
        diff = float(np.max(np.abs(a - b))) if len(probe) else 0.0
        if diff > MATERIALISE_TOLERANCE * max(1.0, float(np.max(np.abs(a)))):
            raise PipelineError("materialise", f"pruned model differs by {diff:.3g}")
        float_logits = predict_logits(small, x_test)
        val_accuracy = accuracy(small, x_val, dataset.y_val)
        test_accuracy = (
            float(np.mean(np.argmax(float_logits, -1) == dataset.y_test))
            if len(dataset.y_test) else float("nan")
        )
    except PipelineError:
        raise
    except Exception as exc:
        raise PipelineError("materialise", f"{type(exc).__name__}: {exc}") from exc

    # 3. predicted resources of the pruned network ----------------------------------------
    from search_engine.resources import evaluate_order
    from search_engine.resources.pruned import analyse_walk
    from search_engine.space.pruned import pruned_architecture_to_json
    from search_engine.space.serialise import architecture_to_json

    predicted = analyse_walk(pruned, input_shape, num_classes)
    graph, summary, best = predicted.graph, predicted.summary, predicted.best
    default = evaluate_order(graph, [op.name for op in graph.ops])

    # 4.-7. export and measure --------------------------------------------------------------
    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.header import write_c_header
    from search_engine.export.overhead import estimate_tflm_overhead
    from search_engine.export.tflite_graph import optimise_operator_order
    from search_engine.export.tflm import evaluate_int8, measure_arena

    _emit(progress, "convert")
    try:
        tflite = convert_to_int8_tflite(
            small, x_train, num_samples=REPRESENTATIVE_SAMPLES, seed=seed
        )
        tflite, tflite_best, tflite_default = optimise_operator_order(tflite)
    except Exception as exc:
        raise PipelineError("convert", f"{type(exc).__name__}: {exc}") from exc
    _emit(progress, "measure")
    try:
        arena = measure_arena(tflite)
    except Exception as exc:
        raise PipelineError("measure", f"{type(exc).__name__}: {exc}") from exc
    _emit(progress, "evaluate", samples=len(dataset.y_test))
    try:
        if len(dataset.y_test):
            ev = evaluate_int8(
                tflite, x_test, dataset.y_test, arena_size=arena.arena_bytes,
                reference=np.argmax(float_logits, -1),
            )
            test_accuracy_int8, agreement = ev.accuracy, ev.agreement
            seconds_per_inference = ev.seconds_per_inference
        else:
            test_accuracy_int8, agreement, seconds_per_inference = float("nan"), None, None
    except Exception as exc:
        raise PipelineError("evaluate", f"{type(exc).__name__}: {exc}") from exc
    export_seconds = time.perf_counter() - export_start

    # 8. files ------------------------------------------------------------------------------
    _emit(progress, "write", out_dir=str(out))
    report = {
        "dataset": dataset.name,
        "dataset_binary": bool(getattr(dataset, "binary", False)),
        "class_names": list(dataset.class_names),
        "input_shape": list(input_shape),
        "input_normalization": profile.augmentation.normalization,
        "profile": profile.name,
        "seed": int(seed),
        "epochs": trained.epochs,
        "sparsity": sparsity,
        "architecture": architecture_to_json(arch),
        "pruned_architecture": pruned_architecture_to_json(pruned),
        "val_accuracy": val_accuracy,
        "test_accuracy": test_accuracy,
        "test_accuracy_int8": test_accuracy_int8,
        "agreement_int8": agreement,
        "masked_val_accuracy": trained.val_accuracy,
        "materialise_max_abs_diff": diff,
        "params": summary.params,
        "keras_params": summary.keras_params,
        "keras_count_params": int(small.count_params()),
        "model_size_bytes": summary.model_size_bytes,
        "tflite_bytes": len(tflite),
        "macs": summary.macs,
        "peak_memory_bytes": best.peak_bytes,
        "paper_peak_memory_bytes": best.paper_peak_bytes,
        "default_order_peak_bytes": default.peak_bytes,
        "tflite_peak_memory_bytes": tflite_best.peak_bytes,
        "tflite_default_order_peak_bytes": tflite_default.peak_bytes,
        "tflm_arena_bytes": arena.arena_bytes,
        "tflm_arena_head_bytes": arena.head_bytes,
        "tflm_arena_tail_bytes": arena.tail_bytes,
        "tflm_overhead_bytes": arena.arena_bytes - best.peak_bytes,
        "tflm_overhead_estimate_bytes": estimate_tflm_overhead(
            graph, activation_peak=best.peak_bytes
        ),
        "tflm_seconds_per_inference": seconds_per_inference,
        "op_order": list(tflite_best.order),
        "architecture_op_order": list(best.order),
        "timeline": [step.to_json() for step in best.timeline],
        "history": list(trained.history),
        "rung_accuracy": dict(trained.rung_accuracy),
        "stopped_early": False,
        "inheritance": trained.inheritance,
        "epochs_trained": trained.epochs,
        "train_seconds": trained.train_seconds,
        "train_samples_per_second": trained.samples_per_second,
        "export_seconds": export_seconds,
        "total_seconds": time.perf_counter() - started,
        "files": {"keras": "model.keras", "tflite": "model.tflite", "header": "model.h"},
    }
    try:
        small.save(out / "model.keras")
        _write_atomic(out / "model.tflite", tflite)
        write_c_header(
            tflite, out / "model.h", name=model_name, arena_bytes=arena.arena_bytes,
            class_names=dataset.class_names,
        )
        _write_report(out, report)
    except Exception as exc:
        raise PipelineError("write", f"{type(exc).__name__}: {exc}") from exc
    _emit(progress, "done", out_dir=str(out))
    return _json_ready_report(report)


def _write_report(out: Path, report: dict[str, Any]) -> None:
    _write_atomic(out / "report.json",
                  (json.dumps(_json_ready(report), indent=1) + "\n").encode("utf-8"))


def stopped_report(arch: Architecture, sparsity: float, dataset: Any, profile: Any,
                   trained: Any, *, seed: int) -> dict[str, Any]:
    """The report of a candidate stopped at a rung: what it reached, and the analytic
    resources of the network its target pruning makes (no export, no TFLM figures)."""
    from search_engine.resources.pruned import analyse_pruned
    from search_engine.space.search_space import int_shape
    from search_engine.space.serialise import architecture_to_json

    input_shape = int_shape(dataset.input_shape)
    figures = analyse_pruned(arch, sparsity, input_shape, int(dataset.num_classes))
    summary, best = figures.summary, figures.best
    last = str(trained.stopped_at)
    return {
        "dataset": dataset.name,
        "profile": profile.name,
        "seed": int(seed),
        "epochs": trained.planned_epochs,
        "epochs_trained": trained.epochs,
        "stopped_early": True,
        "stopped_at_epoch": float(trained.stopped_at),
        "rung_accuracy": dict(trained.rung_accuracy),
        "sparsity": sparsity,
        "architecture": architecture_to_json(arch),
        "val_accuracy": trained.rung_accuracy.get(last, trained.val_accuracy),
        "masked_val_accuracy": trained.val_accuracy,
        "params": summary.params,
        "model_size_bytes": summary.model_size_bytes,
        "macs": summary.macs,
        "peak_memory_bytes": best.peak_bytes,
        "history": list(trained.history),
        "train_seconds": trained.train_seconds,
        "train_samples_per_second": trained.samples_per_second,
        "files": {},
    }
