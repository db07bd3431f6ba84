"""The training loop: optimiser semantics, LR steps, data pipeline, determinism, pruning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_engine.space import Architecture, ConvBlock, ConvLayer, DenseLayer, Pooling  # noqa: E402
from search_engine.train.augment import AugmentConfig  # noqa: E402
from search_engine.train.datasets import load_dataset  # noqa: E402
from search_engine.train.profiles import OptimizerConfig, get_profile  # noqa: E402
from search_engine.train.trainer import (  # noqa: E402
    TrainingError,
    make_optimizer,
    make_train_data,
    train_candidate,
)

ARCH = Architecture(
    blocks=(
        ConvBlock((ConvLayer("full", 3, 12, 1, False, True, True),), False),
        ConvBlock((ConvLayer("1x1", 1, 8, 1, False, False, True),
                   ConvLayer("full", 3, 12, 1, False, False, True)), True),
        ConvBlock((ConvLayer("depthwise", 3, None, 2, False, True, True),), False),
    ),
    pooling=Pooling("max", 2),
    dense=(DenseLayer(16),),
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=300)


def fast_profile(**changes):
    profile = get_profile("digits", "quick")
    base = dict(lr_schedule=((0, 0.1),), batch_size=32, augmentation=AugmentConfig())
    base.update(changes)
    return replace(profile, **base)


def test_sgdw_weight_decay_is_decoupled_and_follows_the_lr_schedule():
    profile = replace(
        get_profile("digits", "quick"),
        optimizer=OptimizerConfig("sgdw", weight_decay=0.01, momentum=0.9),
        lr_schedule=((0, 0.1), (2, 0.05)),
    )
    steps = 3
    opt = make_optimizer(profile, steps)
    v = keras.Variable(np.ones(4, np.float32))
    zero = np.zeros(4, np.float32)
    values = []
    for _ in range(2 * steps + 2):
        opt.apply([zero], [v])
        values.append(float(v.numpy()[0]))
    # zero gradients: only the decay acts, wd per step (epochs 0-1) then wd * 0.05 / 0.1
    expected, w = [], 1.0
    for step in range(2 * steps + 2):
        w *= 1 - (0.01 if step < 2 * steps else 0.005)
        expected.append(w)
    np.testing.assert_allclose(values, expected, rtol=1e-6)
    # a gradient does not feed the decay through momentum (decoupled): compare with no decay
    v1, v2 = keras.Variable(np.ones(2, np.float32)), keras.Variable(np.ones(2, np.float32))
    o1 = make_optimizer(profile, steps)
    o2 = make_optimizer(replace(profile, optimizer=OptimizerConfig("sgdw", 0.0, 0.9)), steps)
    g = np.full(2, 0.5, np.float32)
    for _ in range(3):
        o1.apply([g], [v1])
        o2.apply([g], [v2])
    # with decay: w_{t+1} = w_t (1 - wd) - lr m_t, same momentum m_t as without decay
    m, w_plain, w_decay = 0.0, 1.0, 1.0
    for _ in range(3):
        m = 0.9 * m + 0.5
        w_plain -= 0.1 * m
        w_decay = w_decay * (1 - 0.01) - 0.1 * m
    assert float(v2.numpy()[0]) == pytest.approx(w_plain, rel=1e-5)
    assert float(v1.numpy()[0]) == pytest.approx(w_decay, rel=1e-5)


def test_adamw_and_lr_steps_by_epoch():
    profile = replace(
        get_profile("digits", "quick"),
        optimizer=OptimizerConfig("adamw", weight_decay=1e-5),
        lr_schedule=((0, 0.01), (1, 0.005), (3, 0.001)),
    )
    opt = make_optimizer(profile, 10)
    assert isinstance(opt, keras.optimizers.AdamW)
    lr = opt.learning_rate  # a schedule on optimiser steps
    schedule = opt._learning_rate
    got = [float(schedule(s)) for s in (0, 9, 10, 29, 30, 100)]
    assert got == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.001, 0.001])
    assert float(lr) == pytest.approx(0.01)
    assert opt.weight_decay == pytest.approx(1e-5 / 0.01)


def test_train_data_is_deterministic_and_covers_each_epoch(digits):
    for augment in (False, True):
        profile = fast_profile(augmentation=get_profile("digits", "quick").augmentation)
        data, steps = make_train_data(digits, profile, seed=3, epochs=2, augment=augment)
        again, _ = make_train_data(digits, profile, seed=3, epochs=2, augment=augment)
        a = [(x.numpy(), y.numpy()) for x, y in data]
        b = [(x.numpy(), y.numpy()) for x, y in again]
        assert len(a) == 2 * steps
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
        epoch0 = np.concatenate([y for _, y in a[:steps]])
        assert sorted(epoch0.tolist()) == sorted(digits.y_train.tolist())
        if not augment:  # batches are rows of x_train
            x0 = np.concatenate([x for x, _ in a[:steps]])
            rows = {r.tobytes() for r in digits.x_train.astype(np.float32)}
            assert all(r.tobytes() in rows for r in x0)


def test_training_prunes_to_exact_counts_and_learns(digits):
    profile = fast_profile()
    events = []
    result = train_candidate(ARCH, 0.5, digits, profile, seed=0, epochs=6,
                             progress=events.append)
    assert [e["epoch"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[-1]["sparsity"] == 0.5
    assert result.val_accuracy > 0.5  # 10 classes
    kept = {i: int(m.sum()) for i, m in result.masks.items()}
    assert sorted(kept.values()) == [4, 6, 8]  # 1x1 of 8, the stage of 12, dense of 16
    model = result.model
    stage_mask = next(m for m in result.masks.values() if m.size == 12 and m.sum() == 6)
    k = model.get_layer("b0_l0_conv").kernel.numpy()
    assert np.all(k[..., ~stage_mask] == 0)
    assert np.all(np.any(k[..., stage_mask] != 0, axis=(0, 1, 2)))


def test_training_is_a_pure_function_of_its_inputs(digits):
    profile = fast_profile(augmentation=get_profile("digits", "quick").augmentation)
    runs = [train_candidate(ARCH, 0.3, digits, profile, seed=s, epochs=2) for s in (7, 7, 8)]
    w = [[v.numpy() for v in r.model.weights] for r in runs]
    for a, b in zip(w[0], w[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(w[0], w[2], strict=True))


def test_divergence_is_reported(digits):
    profile = fast_profile(lr_schedule=((0, 1e12),))
    with pytest.raises(TrainingError, match="diverged"):
        train_candidate(ARCH, 0.0, digits, profile, seed=0, epochs=2)


def test_rungs_measure_validation_accuracy_and_stop_below_the_threshold(digits, tmp_path):
    """A plan's rung epochs are measured; a threshold nobody can reach stops training there,
    and the pipeline then writes a report without exporting."""
    from search_engine.train.pipeline import train_and_export
    from search_engine.train.trainer import accuracy, preprocess

    profile = fast_profile()
    events = []
    free = train_candidate(ARCH, 0.0, digits, profile, seed=1, progress=events.append, epochs=3,
                           stopping={"fractions": [1 / 3], "thresholds": {"1": 0.0}})
    assert free.stopped_at is None and free.epochs == 3
    assert list(free.rung_accuracy) == ["1"] and 0.0 <= free.rung_accuracy["1"] <= 1.0
    assert [e["epoch"] for e in events if e["stage"] == "rung"] == [1]

    stopped = train_candidate(ARCH, 0.0, digits, profile, seed=1, epochs=3,
                              stopping={"fractions": [1 / 3], "thresholds": {"1": 1.01}})
    assert stopped.stopped_at == "1" and stopped.epochs == 1 and len(stopped.history) == 1
    assert stopped.rung_accuracy == free.rung_accuracy  # same seed, same first epoch
    _, x_val, _ = preprocess(digits, profile)
    assert stopped.val_accuracy == pytest.approx(accuracy(stopped.model, x_val, digits.y_val))

    report = train_and_export(ARCH, 0.2, digits, profile, seed=1, out_dir=tmp_path, epochs=3,
                              stopping={"fractions": [1 / 3], "thresholds": {"1": 1.01}})
    assert report["stopped_early"] is True and report["epochs_trained"] == 1
    assert report["epochs"] == 3 and report["val_accuracy"] == report["rung_accuracy"]["1"]
    assert report["stopped_at_epoch"] == 1.0
    assert report["macs"] > 0 and report["peak_memory_bytes"] > 0
    assert report["model_size_bytes"] > 0 and "tflm_arena_bytes" not in report
    assert (tmp_path / "report.json").exists() and not (tmp_path / "model.tflite").exists()


def test_a_rung_inside_an_epoch_stops_training_there(digits):
    """A rung that falls mid-epoch (a sixth of 3 epochs: half of the first) is measured after
    that many steps, and a threshold above it stops training before the epoch ends."""
    from search_engine.train.trainer import rung_steps, steps_per_epoch

    profile = fast_profile()
    steps = steps_per_epoch(len(digits.y_train), profile.batch_size)
    [(step, key)] = rung_steps([1 / 6], 3, steps)
    assert 0 < step < steps and 0 < float(key) < 1
    events = []
    stopped = train_candidate(ARCH, 0.0, digits, profile, seed=1, epochs=3,
                              progress=events.append,
                              stopping={"fractions": [1 / 6], "thresholds": {key: 1.01}})
    assert stopped.stopped_at == key and stopped.epochs == float(key)
    assert len(stopped.history) == 1 and list(stopped.rung_accuracy) == [key]
    [rung] = [e for e in events if e["stage"] == "rung"]
    assert rung["stopped"] is True and rung["epoch"] == float(key)
    # the cut-short epoch's rate counts the samples it saw, not the whole split
    seen = step * profile.batch_size
    assert stopped.history[0]["samples_per_second"] == pytest.approx(
        seen / stopped.history[0]["seconds"])
