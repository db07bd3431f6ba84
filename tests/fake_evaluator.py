"""A fast stand-in for the train-and-export pipeline, for tests of the search drivers.

Metrics come from the analytic resource models (no TensorFlow); "measured" figures add a fixed
overhead, and the validation accuracy grows with the model's capacity. Every finished
evaluation appends ``<candidate id>`` to ``$UNAS_FAKE_LOG`` when that is set; each evaluation
takes ``$UNAS_FAKE_SECONDS`` seconds (default 0).

With an early-stopping plan in ``context.options["fidelity"]`` it "trains" for
``FAKE_EPOCHS`` epochs along a learning curve (``curve``) and obeys the plan's rungs, as the
real trainer does: a child below a rung's threshold stops there and is not exported.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from search_engine.resources.model_size import params
from search_engine.search.setup import analyse


def evaluate(architecture, sparsity, context, *, candidate_id):
    from search_engine.space import architecture_from_json

    time.sleep(float(os.environ.get("UNAS_FAKE_SECONDS", "0")))
    arch = architecture_from_json(architecture)
    shape = tuple(context.options.get("input_shape", (8, 8, 1)))
    figures, graph = analyse(architecture, sparsity, shape, context.options.get("num_classes", 10))
    figures["params"] = params(graph)  # the pipeline reports the pruned network's count
    accuracy = 1.0 - 0.9 * math.exp(-math.log1p(figures["macs"]) / 6) - 0.01 * len(arch.blocks)
    if context.profile == "paper":  # final training: the full profile does a little better
        accuracy = min(1.0, accuracy + 0.01)
    out = Path(context.out_dir) / f"{candidate_id:05d}"
    out.mkdir(parents=True, exist_ok=True)
    on_progress = context.options.get("on_progress")
    if on_progress is not None:  # as the trainer reports each epoch
        for epoch in range(1, 3):
            on_progress({"stage": "train", "epoch": epoch, "epochs": FAKE_EPOCHS,
                         "seconds": 0.1, "samples_per_second": 1000.0 * epoch,
                         "loss": float("nan")})
    plan = context.options.get("fidelity")
    if plan is not None:
        from search_engine.train.trainer import rung_steps

        rungs = {}
        for epoch, key in rung_steps(plan["fractions"], FAKE_EPOCHS, 1):  # one step an epoch
            rungs[key] = curve(accuracy, epoch)
            threshold = plan["thresholds"].get(key)
            if threshold is not None and rungs[key] < threshold:
                _log(candidate_id)
                return dict(figures, val_accuracy=rungs[key], rung_accuracy=rungs,
                            stopped_early=True, epochs=FAKE_EPOCHS,
                            epochs_trained=epoch), {}
        figures = dict(figures, rung_accuracy=rungs, stopped_early=False, epochs=FAKE_EPOCHS,
                       epochs_trained=FAKE_EPOCHS)
    (out / "model.tflite").write_bytes(b"fake")
    metrics = dict(figures, val_accuracy=accuracy, test_accuracy=accuracy,
                   profile=context.profile, test_accuracy_int8=accuracy - 0.002,
                   tflm_arena_bytes=figures["peak_memory_bytes"] + 2500 + 500 * figures["n_ops"],
                   tflite_bytes=figures["model_size_bytes"] + 1500 + 700 * figures["n_ops"])
    _log(candidate_id)
    return metrics, {"tflite": str(out / "model.tflite")}


FAKE_EPOCHS = 9


def curve(final_accuracy: float, epoch: int) -> float:
    """The accuracy after ``epoch`` of ``FAKE_EPOCHS`` epochs: rank-preserving, rising."""
    return final_accuracy * (0.6 + 0.4 * epoch / FAKE_EPOCHS)


def _log(candidate_id: int) -> None:
    log = os.environ.get("UNAS_FAKE_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{candidate_id}\n")


def fail(architecture, sparsity, context, *, candidate_id):
    """An evaluation that always fails, as every candidate of an untrainable data set does."""
    _log(candidate_id)
    raise ValueError(f"zip entry 'pets/dog/{candidate_id}.png': cannot decode the image "
                     "(Invalid PNG data)")
