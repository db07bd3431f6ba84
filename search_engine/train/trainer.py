"""The training loop: one candidate (architecture, sparsity) on one data set with one profile.

``train_candidate(arch, sparsity, dataset, profile, seed=...)`` builds the Keras model
(``keras_builder``), attaches the pruning masks (``pruning.Pruner``), and runs ``model.fit``:

* optimiser from the profile: SGD with momentum or AdamW, both with decoupled weight decay.
  Keras 3 decays every trainable variable by ``lr_t * weight_decay`` per step, directly on the
  variable (not through the gradient or momentum: decoupled). The paper's numbers are the
  per-step decay of TensorFlow Addons' SGDW/AdamW at the initial learning rate, so Keras gets
  ``weight_decay / lr_0``: the per-step decay is ``wd * lr_t / lr_0``, i.e. Loshchilov &
  Hutter's SGDW/AdamW whose decay follows the learning-rate schedule multiplier.
* step learning-rate schedule by epoch (``PiecewiseConstantDecay`` on optimiser steps);
* batch size and epochs from the profile; pruning by the cubic schedule between the profile's
  start and end epochs (``pruning.PruningSchedule``: masks recomputed at each epoch start,
  exact target at the end);
* training batches come from a ``tf.data`` pipeline: without augmentation the arrays are
  sliced in-graph (like plain ``fit``); with augmentation, a generator builds each batch with
  ``augment.make_train_batch_fn`` (numpy) in tf.data's background thread, ``prefetch`` keeps
  it off the training step's critical path. Batch ``i`` of epoch ``e`` uses its own rng
  seeded from ``(seed, e, i)``, and the shuffling permutation of epoch ``e`` comes from
  ``(seed, e)``.

Determinism: ``keras.utils.set_random_seed(seed)`` seeds Python, NumPy and TensorFlow (initial
weights, dropout), so a run is a function of (architecture, sparsity, data set, profile, seed).
On CPU, two runs with the same inputs give identical weights (tested in one process; two CLI
runs in fresh processes wrote identical ``.tflite`` files); GPU kernels may differ in the last
bits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search_engine.space.architecture import Architecture
from search_engine.space.pruned import check_sparsity

Progress = Callable[[dict[str, Any]], None]


class TrainingError(RuntimeError):
    """Training could not run or diverged (non-finite loss)."""


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A trained masked (pruned in place) model and what training measured."""

    model: Any
    masks: dict[int, np.ndarray] = field(repr=False)
    history: tuple[dict[str, Any], ...]
    val_accuracy: float
    test_accuracy: float
    train_seconds: float
    samples_per_second: float
    #: epochs run: the profile's, or where a rung stopped training (may be a fraction, 0.33)
    epochs: float
    #: validation accuracy at each rung reached, keyed by epochs (``{"0.33": 0.81, "1": 0.93}``)
    rung_accuracy: dict[str, float] = field(default_factory=dict)
    #: the rung that stopped training (its key, epochs as in ``rung_accuracy``), or ``None``
    stopped_at: str | None = None
    #: the epochs training was asked for (``epochs`` is what ran)
    planned_epochs: int = 0
    #: what the model took from its parent's weights (``train.inherit``), or ``None``
    inheritance: dict[str, Any] | None = None


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow/Keras."""
    import keras

    keras.utils.set_random_seed(int(seed))


def steps_per_epoch(num_samples: int, batch_size: int) -> int:
    return max(1, math.ceil(num_samples / batch_size))


def make_optimizer(profile: Any, steps: int) -> Any:
    """The profile's optimiser with its step learning-rate schedule (see module docstring)."""
    import keras

    boundaries = [start * steps - 1 for start, _ in profile.lr_schedule[1:]]
    values = [float(lr) for _, lr in profile.lr_schedule]
    if boundaries:
        lr: Any = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    else:
        lr = values[0]
    cfg = profile.optimizer
    wd = cfg.weight_decay / values[0] if cfg.weight_decay > 0 else None
    if cfg.kind == "sgdw":
        return keras.optimizers.SGD(learning_rate=lr, momentum=cfg.momentum, weight_decay=wd)
    if cfg.kind == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=wd or 0.0)
    raise TrainingError(f"unknown optimizer kind {cfg.kind!r}")


def preprocess(dataset: Any, profile: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, x_val, x_test) as the model sees them without augmentation (normalised)."""
    from search_engine.train.augment import make_preprocessor

    pre = make_preprocessor(profile.augmentation)
    return (
        np.asarray(pre(dataset.x_train), dtype=np.float32),
        np.asarray(pre(dataset.x_val), dtype=np.float32),
        np.asarray(pre(dataset.x_test), dtype=np.float32),
    )


def make_train_data(
    dataset: Any, profile: Any, *, seed: int, epochs: int, augment: bool = True
) -> tuple[Any, int]:
    """(tf.data pipeline of (x, y) batches for ``epochs`` epochs, steps per epoch)."""
    import tensorflow as tf

    from search_engine.train.augment import make_train_batch_fn

    n = len(dataset.y_train)
    if n == 0:
        raise TrainingError("the training split is empty")
    batch = int(profile.batch_size)
    steps = steps_per_epoch(n, batch)
    y = np.asarray(dataset.y_train, dtype=np.int64)
    config = profile.augmentation
    if not augment or config.is_identity:
        x, _, _ = preprocess(dataset, profile)
        perms = np.concatenate(
            [np.random.default_rng([seed, e]).permutation(n) for e in range(epochs)]
        )
        # Eager tensors, not NumPy arrays, in the map function: a captured NumPy array becomes
        # a constant inside the function's graph, which tf.data then copies and optimises
        # (15-20 s before the first MNIST batch, for every candidate); an eager tensor is
        # captured by reference (0.3 s).
        x_all, y_all = tf.constant(x), tf.constant(y)
        data = (
            tf.data.Dataset.from_tensor_slices(perms.reshape(-1, n))
            .flat_map(lambda p: tf.data.Dataset.from_tensor_slices(p).batch(batch))
            .map(lambda idx: (tf.gather(x_all, idx), tf.gather(y_all, idx)))
        )
        return data.prefetch(tf.data.AUTOTUNE), steps
    batch_fn = make_train_batch_fn(dataset, config, seed)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for e in range(epochs):
            perm = np.random.default_rng([seed, e]).permutation(n)
            for i in range(steps):
                idx = perm[i * batch : (i + 1) * batch]
                xb = batch_fn(idx, np.random.default_rng([seed, e, i]))
                yield np.asarray(xb, dtype=np.float32), y[idx]

    shape = tuple(dataset.input_shape)
    data = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec((None, *shape), tf.float32),
            tf.TensorSpec((None,), tf.int64),
        ),
    )
    return data.prefetch(4), steps


def _progress_callback(progress: Progress | None, epochs: int, samples: int) -> Any:
    import keras

    class EpochProgress(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped: Callback is Any
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.start = time.perf_counter()
            self.cpu_start = time.process_time()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            loss = float(logs.get("loss", float("nan")))
            if not math.isfinite(loss):
                self.model.stop_training = True
                self.diverged = True
            seconds = time.perf_counter() - self.start
            cpu_seconds = time.process_time() - self.cpu_start
            event = {
                "stage": "train",
                "epoch": epoch + 1,
                "epochs": epochs,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,  # all threads of this process
                "samples_per_second": samples / seconds if seconds > 0 else 0.0,
                **{k: float(v) for k, v in logs.items()},
            }
            self.history.append(event)
            if progress is not None:
                progress(event)

    cb = EpochProgress()
    cb.history = []
    cb.diverged = False
    return cb


def rung_steps(fractions: Any, epochs: int, steps: int) -> list[tuple[int, str]]:
    """The rungs of ``epochs`` epochs of ``steps`` steps each: ``(step, key)`` for each
    fraction ``f``, at training step ``max(1, round(f * epochs * steps))`` (counted from 1 over
    the whole run, so a rung may fall inside an epoch: MNIST's quick profile has 3 epochs, and
    its first rung, 1/9, is a third of the first), before the last step (the end is full
    training, not a rung), ascending, without duplicates. ``key`` is the rung's place in epochs
    to two decimals (``"0.33"``, ``"1"``): what the records and the dashboard show."""
    total = int(epochs) * int(steps)
    points = {max(1, round(float(f) * total)) for f in fractions}
    return [(p, epochs_key(p, steps)) for p in sorted(points) if p < total]


def epochs_key(step: int, steps: int) -> str:
    """``step`` training steps as epochs, two decimals, trailing zeros dropped."""
    return f"{step / steps:.2f}".rstrip("0").rstrip(".")


def _rung_callback(stopping: dict[str, Any], epochs: int, steps: int, x_val: np.ndarray,
                   y_val: np.ndarray, progress: Progress | None) -> Any:
    """Measures validation accuracy at the rungs of ``stopping`` (``search.fidelity`` plan:
    ``fractions`` and ``thresholds``; steps from :func:`rung_steps`) and stops training below
    a rung's threshold, mid-epoch if the rung is there."""
    import keras

    rungs = dict(rung_steps(stopping.get("fractions") or (), epochs, steps))
    thresholds = {str(k): float(v) for k, v in (stopping.get("thresholds") or {}).items()}

    class Rungs(keras.callbacks.Callback):  # type: ignore[misc]  # keras is untyped: Callback is Any
        accuracy: dict[str, float]
        stopped_at: str | None
        step: int

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.step += 1
            key = rungs.get(self.step)
            if key is None or len(y_val) == 0:
                return
            acc = accuracy(self.model, x_val, y_val)
            self.accuracy[key] = acc
            threshold = thresholds.get(key)
            stop = threshold is not None and acc < threshold
            if progress is not None:
                progress({"stage": "rung", "epoch": float(key), "val_accuracy": acc,
                          "threshold": threshold, "stopped": stop})
            if stop:
                self.stopped_at = key
                self.model.stop_training = True

    cb = Rungs()
    cb.accuracy = {}
    cb.stopped_at = None
    cb.step = 0
    return cb


def compile_model(model: Any, profile: Any, steps: int) -> None:
    import keras

    model.compile(
        optimizer=make_optimizer(profile, steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def predict_logits(model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits of ``model`` on ``x``, in inference mode, by eager batched calls (no
    ``predict``: a traced function per model would be retraced for every candidate)."""
    if len(x) == 0:
        return np.zeros((0, *model.output.shape[1:]), dtype=np.float32)
    return np.concatenate([
        np.asarray(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ])


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 512) -> float:
    """Top-1 accuracy of a logits model (NaN for an empty split)."""
    if len(y) == 0:
        return float("nan")
    logits = predict_logits(model, x, batch_size)
    return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(y)))


def train_candidate(
    arch: Architecture,
    sparsity: float,
    dataset: Any,
    profile: Any,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    epochs: int | None = None,
    augment: bool = True,
    epoch_validation: bool = False,
    stopping: dict[str, Any] | None = None,
    init: Any = None,
) -> TrainResult:
    """Train ``arch`` with structured pruning to ``sparsity``; a pure function of its inputs.

    ``epochs`` overrides the profile's (the pruning window is clamped to it); ``augment=False``
    turns augmentation off; ``epoch_validation`` also evaluates the validation split after each
    epoch (reported through ``progress``); ``stopping`` is an early-stopping plan
    (``search.fidelity.stopping_plan``): validation accuracy is measured at its rung epochs
    and training stops at a rung below its threshold (``TrainResult.stopped_at``). ``init``,
    a parent's :class:`~search_engine.train.inherit.ParentWeights`, replaces the fresh
    initialisation where shapes allow (``train.inherit``; ``TrainResult.inheritance``).
    Raises :class:`TrainingError` on a non-finite loss.
    """
    from search_engine.train.keras_builder import build_keras_model
    from search_engine.train.pruning import Pruner, PruningSchedule, make_pruning_callback

    sparsity = check_sparsity(sparsity)
    epochs = int(epochs if epochs is not None else profile.epochs)
    if epochs < 1:
        raise TrainingError(f"epochs must be >= 1 (got {epochs})")
    set_seeds(seed)
    input_shape = tuple(dataset.input_shape)
    model = build_keras_model(
        arch, input_shape, dataset.num_classes, dropout=float(profile.dropout)
    )
    inheritance = None
    if init is not None:
        from search_engine.train.inherit import inherit_weights

        inheritance = inherit_weights(model, arch, input_shape, dataset.num_classes,
                                      init).to_json()
    pruner = Pruner(model, arch, input_shape)
    schedule = PruningSchedule(
        sparsity, profile.pruning.start_epoch, profile.pruning.end_epoch, epochs
    )
    data, steps = make_train_data(dataset, profile, seed=seed, epochs=epochs, augment=augment)
    compile_model(model, profile, steps)
    _, x_val, x_test = preprocess(dataset, profile)
    progress_cb = _progress_callback(progress, epochs, len(dataset.y_train))
    callbacks = [make_pruning_callback(pruner, schedule), progress_cb]
    rungs_cb = None
    if stopping is not None:
        rungs_cb = _rung_callback(stopping, epochs, steps, x_val, np.asarray(dataset.y_val),
                                  progress)
        callbacks.append(rungs_cb)
    validation = (x_val, dataset.y_val) if epoch_validation and len(dataset.y_val) else None
    start = time.perf_counter()
    model.fit(
        data, epochs=epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=0, shuffle=False,
        validation_data=validation,
    )
    seconds = time.perf_counter() - start
    if progress_cb.diverged:
        raise TrainingError("training diverged (non-finite loss)")
    masks = pruner.masks()
    # epochs actually run: fewer when a rung stopped it, and then possibly a fraction
    trained: float = epochs
    if rungs_cb is not None and rungs_cb.stopped_at is not None:
        trained = float(rungs_cb.stopped_at)
        last = progress_cb.history[-1] if progress_cb.history else None
        partial = rungs_cb.step - (len(progress_cb.history) - 1) * steps
        if last is not None and 0 < partial < steps and last["seconds"] > 0:
            # the epoch a rung cut short: its rate over the samples it saw
            seen = min(partial * int(profile.batch_size), len(dataset.y_train))
            last["samples_per_second"] = seen / last["seconds"]
    return TrainResult(
        model=model,
        masks=masks,
        history=tuple(progress_cb.history),
        val_accuracy=accuracy(model, x_val, dataset.y_val),
        test_accuracy=accuracy(model, x_test, dataset.y_test),
        train_seconds=seconds,
        samples_per_second=trained * len(dataset.y_train) / seconds if seconds > 0 else 0.0,
        epochs=trained,
        rung_accuracy=dict(rungs_cb.accuracy) if rungs_cb is not None else {},
        stopped_at=rungs_cb.stopped_at if rungs_cb is not None else None,
        planned_epochs=epochs,
        inheritance=inheritance,
    )
