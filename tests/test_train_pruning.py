"""Structured pruning: groups, masks, schedule; materialised models equal the masked ones."""

from __future__ import annotations

import random

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_engine.graph.pruned import pruned_walk  # noqa: E402
from search_engine.space import (  # noqa: E402
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    SearchSpace,
)
from search_engine.space.pruned import (  # noqa: E402
    channel_groups,
    kept_channels,
    pruned_architecture,
)
from search_engine.train.keras_builder import build_keras_model  # noqa: E402
from search_engine.train.materialise import materialise  # noqa: E402
from search_engine.train.pruning import (  # noqa: E402
    Pruner,
    PruningError,
    PruningSchedule,
    cubic_sparsity,
    pruning_window,
)


def conv(kind, k, c, s=1, pre=False, bn=False, relu=True):
    return ConvLayer(kind, k, c, s, pre, bn, relu)


def randomise(model, rng):
    """Random kernels are Keras' own; biases and BN statistics get random values too."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = weights
            weights = [
                rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                rng.normal(0, 0.2, m.shape), rng.uniform(0.5, 1.5, v.shape),
            ]
        elif len(weights) == 2:
            weights = [weights[0], rng.normal(0, 0.1, weights[1].shape)]
        layer.set_weights([w.astype(np.float32) for w in weights])


def random_masks(pruner, sparsity, rng):
    masks = {}
    for g in pruner.groups:
        keep = kept_channels(g.size, sparsity)
        m = np.zeros(g.size, dtype=bool)
        m[rng.choice(g.size, size=keep, replace=False)] = True
        masks[g.index] = m
    return masks


def assert_same_outputs(a, b, x):
    ya = np.asarray(a(x, training=False))
    yb = np.asarray(b(x, training=False))
    scale = max(1.0, float(np.abs(ya).max()))
    np.testing.assert_allclose(yb, ya, rtol=1e-5, atol=1e-5 * scale)


# ---------------------------------------------------------------------------------- groups


def test_kept_channels_formula():
    assert kept_channels(10, 0.0) == 10
    assert kept_channels(10, 0.5) == 5
    assert kept_channels(10, 0.55) == 5  # floor(5.5) = 5 pruned
    assert kept_channels(7, 0.99) == 1
    assert kept_channels(1, 0.9) == 1
    for bad in (-0.1, 1.0, float("nan"), True, "0.5"):
        with pytest.raises(ValueError, match="sparsity"):
            kept_channels(10, bad)


def test_parallel_stage_is_one_group_and_input_group_is_not_prunable():
    arch = Architecture(
        blocks=(
            ConvBlock((conv("depthwise", 3, None),), False),  # follows the input: not prunable
            ConvBlock((conv("full", 3, 16), conv("depthwise", 3, None)), False),
            ConvBlock((conv("1x1", 1, 12), conv("full", 3, 16)), True),  # added to block 1
        ),
        pooling=None,
        dense=(DenseLayer(20),),
    )
    groups = channel_groups(arch, (8, 8, 1))
    assert groups[0].prunable is False
    assert groups[0].followers == ("blocks[0].layers[0]",)
    stage = [g for g in groups if "blocks[1].layers[0]" in g.members][0]
    assert set(stage.members) == {"blocks[1].layers[0]", "blocks[2].layers[1]"}
    assert "blocks[1].layers[1]" in stage.followers
    assert stage.prunable and stage.size == 16
    pruned = pruned_architecture(arch, 0.5, (8, 8, 1))
    assert pruned.blocks[2].layers[0].channels == 6
    assert pruned.dense[0].units == 10


def test_input_tied_stage_is_not_pruned():
    arch = Architecture(
        blocks=(
            ConvBlock((conv("depthwise", 3, None),), False),
            ConvBlock((conv("full", 3, 8), conv("full", 3, 3)), True),  # forced to 3 = input C
            ConvBlock((conv("full", 3, 8),), False),
        ),
        pooling=None,
        dense=(DenseLayer(12),),
    )
    groups = channel_groups(arch, (8, 8, 3))
    assert "blocks[1].layers[1]" in groups[0].members and not groups[0].prunable
    pruned = pruned_architecture(arch, 0.75, (8, 8, 3))
    assert pruned.blocks[1].layers[1].channels == 3
    assert pruned.blocks[1].layers[0].channels == 2
    assert pruned.blocks[2].layers[0].channels == 2
    assert pruned.dense[0].units == 3  # below the search space's minimum of 10
    specs = pruned_walk(pruned, (8, 8, 3), 4)
    assert [s.units for s in specs if s.kind == "dense"] == [3, 4]


def test_pruned_walk_equals_walk_for_valid_architectures():
    from search_engine.graph import walk

    rng = random.Random(3)
    space = SearchSpace((16, 16, 1), 10)
    for _ in range(50):
        arch = space.sample(rng)
        assert pruned_walk(arch, (16, 16, 1), 10) == walk(arch, (16, 16, 1), 10)
        assert pruned_architecture(arch, 0.0, (16, 16, 1)) == space.normalise(arch)


# -------------------------------------------------------------------------------- schedule


def test_cubic_schedule():
    assert cubic_sparsity(0, 0.8, 3, 18) == 0.0
    assert cubic_sparsity(3, 0.8, 3, 18) == 0.0
    assert cubic_sparsity(18, 0.8, 3, 18) == 0.8
    assert cubic_sparsity(25, 0.8, 3, 18) == 0.8
    mid = cubic_sparsity(10.5, 0.8, 3, 18)
    assert mid == pytest.approx(0.8 * (1 - 0.5**3))
    values = [cubic_sparsity(t, 0.5, 2, 9) for t in range(12)]
    assert values == sorted(values)
    assert cubic_sparsity(4, 0.5, 4, 4) == 0.5  # a step
    assert pruning_window(3, 18, 30) == (3, 18)
    assert pruning_window(3, 18, 2) == (1, 1)  # quick runs still reach the target
    assert pruning_window(0, 1, 1) == (0, 0)
    sched = PruningSchedule(0.5, 3, 18, 2)
    assert [sched.at_epoch(e) for e in range(2)] == [0.0, 0.5]


# ----------------------------------------------------------------------------------- masks


def test_pruner_keeps_largest_l2_channels_and_zeroes_every_masked_weight():
    arch = Architecture(
        blocks=(
            ConvBlock((conv("full", 3, 8, bn=True), conv("depthwise", 3, None, bn=False)), False),
            ConvBlock((conv("full", 3, 8, bn=False),), True),
        ),
        pooling=None,
        dense=(DenseLayer(10),),
    )
    model = build_keras_model(arch, (8, 8, 1), 3)
    rng = np.random.default_rng(0)
    randomise(model, rng)
    a = model.get_layer("b0_l0_conv").kernel.numpy()
    b = model.get_layer("b1_l0_conv").kernel.numpy()
    score = np.sqrt((a.reshape(-1, 8) ** 2).sum(0) + (b.reshape(-1, 8) ** 2).sum(0))
    pruner = Pruner(model, arch, (8, 8, 1))
    pruner.update(0.5)
    stage = [p for p in pruner.plans if "blocks[0].layers[0]" in p.group.members][0]
    mask = pruner.masks()[stage.group.index]
    assert mask.sum() == 4
    assert set(np.flatnonzero(mask)) == set(np.argsort(-score)[:4])
    dropped = ~mask
    assert np.all(model.get_layer("b0_l0_conv").kernel.numpy()[..., dropped] == 0)
    assert np.all(model.get_layer("b0_l0_conv_bn").gamma.numpy()[dropped] == 0)
    assert np.all(model.get_layer("b0_l0_conv_bn").beta.numpy()[dropped] == 0)
    assert np.all(model.get_layer("b0_l1_conv").kernel.numpy()[:, :, dropped] == 0)
    assert np.all(model.get_layer("b0_l1_conv").bias.numpy()[dropped] == 0)
    assert np.all(model.get_layer("b1_l0_conv").bias.numpy()[dropped] == 0)
    # masked channels output exactly zero at the stage's Add
    probe = keras.Model(model.input, model.get_layer("s0_add1").output)
    out = np.asarray(probe(rng.uniform(size=(4, 8, 8, 1)).astype(np.float32), training=False))
    assert np.all(out[..., dropped] == 0)
    assert np.any(out[..., mask] != 0)


def test_masked_weights_stay_zero_during_training():
    arch = Architecture(
        blocks=(ConvBlock((conv("full", 3, 8, bn=True), conv("1x1", 1, 6)), False),),
        pooling=Pooling("max", 2),
        dense=(DenseLayer(12),),
    )
    keras.utils.set_random_seed(0)
    model = build_keras_model(arch, (8, 8, 1), 3)
    pruner = Pruner(model, arch, (8, 8, 1))
    pruner.update(0.5)
    before = {k: v.copy() for k, v in pruner.masks().items()}
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    x = np.random.default_rng(1).uniform(size=(64, 8, 8, 1)).astype(np.float32)
    y = np.random.default_rng(2).uniform(size=(64, 3)).astype(np.float32)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for plan in pruner.plans:
        dropped = ~before[plan.group.index]
        for mw in plan.masked:
            w = getattr(model.get_layer(mw.layer), mw.attribute).numpy()
            assert np.all(np.take(w, np.flatnonzero(dropped), axis=mw.axis) == 0), mw
    assert np.any(model.get_layer("b0_l1_conv").kernel.numpy() != 0)


def test_bad_masks_are_rejected():
    arch = Architecture(
        blocks=(ConvBlock((conv("full", 3, 8),), False),), pooling=None, dense=(DenseLayer(10),)
    )
    model = build_keras_model(arch, (8, 8, 1), 3)
    pruner = Pruner(model, arch, (8, 8, 1))
    with pytest.raises(PruningError, match="entries"):
        pruner.set_masks({1: np.ones(5, bool)})
    with pytest.raises(PruningError, match="no prunable"):
        pruner.set_masks({0: np.ones(1, bool)})
    with pytest.raises(PruningError, match="keeps no channel"):
        pruner.set_masks({1: np.zeros(8, bool)})
    with pytest.raises(PruningError, match="keeps 8 of 8"):
        materialise(model, arch, 0.5, (8, 8, 1), 3, masks=pruner.masks())


# ----------------------------------------------------------------------------- materialise

HANDMADE = (
    # parallel stage with Adds + an alignment pool; depthwise after a pruned conv (and as a
    # parallel block); the stage's forced conv is pruned with block 0; BN on and off
    Architecture(
        blocks=(
            ConvBlock((conv("full", 3, 12, bn=True),), False),
            ConvBlock((conv("depthwise", 3, None, 2, bn=True),), False),
            ConvBlock((conv("1x1", 1, 9, pre=True), conv("full", 5, 12, bn=False)), True),
            ConvBlock((conv("depthwise", 5, None, 1, relu=False),), True),
            ConvBlock((conv("full", 3, 7, 2, bn=True, relu=False),), False),
        ),
        pooling=Pooling("avg", 2),
        dense=(DenseLayer(24), DenseLayer(11)),
    ),
    # first layer depthwise (input group), max pooling, flatten straight from a pruned conv
    Architecture(
        blocks=(
            ConvBlock((conv("depthwise", 3, None, bn=True), conv("full", 3, 10, 2, pre=True)),
                      False),
            ConvBlock((conv("depthwise", 3, None, relu=False),), False),
        ),
        pooling=Pooling("max", 4),
        dense=(DenseLayer(13),),
    ),
)


def _check_materialise(arch, shape, classes, sparsity, rng):
    model = build_keras_model(arch, shape, classes)
    randomise(model, rng)
    pruner = Pruner(model, arch, shape)
    pruner.set_masks(random_masks(pruner, sparsity, rng))
    small, pruned = materialise(model, arch, sparsity, shape, classes, masks=pruner.masks())
    assert pruned == pruned_architecture(arch, sparsity, shape)
    specs = pruned_walk(pruned, shape, classes)
    assert small.count_params() == sum(s.keras_params for s in specs)
    x = rng.uniform(size=(3, *shape)).astype(np.float32)
    assert_same_outputs(model, small, x)
    return model, small


def test_materialised_handmade_architectures_equal_masked_models():
    rng = np.random.default_rng(11)
    for arch in HANDMADE:
        for sparsity in (0.3, 0.8):
            _check_materialise(arch, (16, 16, 1), 5, sparsity, rng)
            keras.backend.clear_session(free_memory=False)


def test_materialised_random_architectures_equal_masked_models():
    rng = np.random.default_rng(5)
    prng = random.Random(5)
    features = set()
    for i in range(40):
        shape = ((8, 8, 1), (28, 28, 1), (32, 32, 3))[i % 3]
        classes = prng.choice((2, 10))
        arch = SearchSpace(shape, classes).sample(prng)
        for b in arch.blocks:
            features.add("parallel" if b.parallel else "serial")
            for layer in b.layers:
                features.add(layer.kind)
                features.add("bn" if layer.batch_norm else "no-bn")
                if layer.pre_pool:
                    features.add("pre-pool")
        if arch.pooling is not None:
            features.add(arch.pooling.kind + "-pool")
        _check_materialise(arch, shape, classes, float(rng.uniform(0.05, 0.9)), rng)
        keras.backend.clear_session(free_memory=i % 10 == 9)
    assert features >= {"parallel", "serial", "full", "1x1", "depthwise", "bn", "no-bn",
                        "pre-pool", "avg-pool", "max-pool"}


def test_materialise_without_masks_ranks_like_the_pruner():
    arch = HANDMADE[0]
    rng = np.random.default_rng(2)
    model = build_keras_model(arch, (16, 16, 1), 4)
    randomise(model, rng)
    pruner = Pruner(model, arch, (16, 16, 1))
    pruner.update(0.6)
    small, _ = materialise(model, arch, 0.6, (16, 16, 1), 4)
    assert_same_outputs(model, small, rng.uniform(size=(2, 16, 16, 1)).astype(np.float32))
