"""Weight inheritance (train.inherit): function-preserving morphisms checked against Keras."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_engine.space import (  # noqa: E402
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.train.inherit import (  # noqa: E402
    InheritanceError,
    ParentWeights,
    align,
    blend,
    inherit_weights,
    load_weights,
    save_weights,
)
from search_engine.train.keras_builder import build_keras_model  # noqa: E402
from search_engine.train.profiles import get_profile, shortened_profile  # noqa: E402

SHAPE = (8, 8, 1)
CLASSES = 10

PARENT = Architecture(
    blocks=(
        ConvBlock((ConvLayer("full", 3, 8, 1, False, True, True),
                   ConvLayer("full", 3, 12, 2, False, True, True)), False),
        ConvBlock((ConvLayer("depthwise", 3, None, 1, False, True, True),
                   ConvLayer("1x1", 1, 16, 1, False, True, True)), False),
    ),
    pooling=Pooling("avg", 2),
    dense=(DenseLayer(12),),
)


def _layer(arch: Architecture, b: int, j: int, **changes) -> Architecture:
    block = arch.blocks[b]
    layers = list(block.layers)
    layers[j] = replace(layers[j], **changes)
    blocks = list(arch.blocks)
    blocks[b] = replace(block, layers=tuple(layers))
    return replace(arch, blocks=tuple(blocks))


def _randomised(arch: Architecture, seed: int = 0):
    """A model of ``arch`` with random weights and batch-norm statistics (not the fresh
    ones, which would hide a copy that forgot them)."""
    rng = np.random.default_rng(seed)
    model = build_keras_model(arch, SHAPE, CLASSES)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = weights
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2, var.shape)])
        else:
            layer.set_weights([rng.normal(0, 0.4, w.shape) for w in weights])
    return model


def _parent_weights(model, arch=PARENT) -> ParentWeights:
    layers = {layer.name: layer.get_weights() for layer in model.layers if layer.get_weights()}
    return ParentWeights(arch, SHAPE, CLASSES, layers)


def _inputs(n: int = 16) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (n, *SHAPE)).astype("float32")


@pytest.fixture(scope="module")
def parent():
    model = _randomised(PARENT)
    return model, _parent_weights(model)


FUNCTION_PRESERVING = {
    "wider first conv": _layer(PARENT, 0, 0, channels=12),
    "wider strided conv (feeds the depthwise)": _layer(PARENT, 0, 1, channels=20),
    "wider pointwise conv (feeds Flatten)": _layer(PARENT, 1, 1, channels=24),
    "bigger kernel": _layer(PARENT, 0, 0, kernel=5),
    "wider dense": replace(PARENT, dense=(DenseLayer(20),)),
}


@pytest.mark.parametrize("name", sorted(FUNCTION_PRESERVING))
def test_widening_and_bigger_kernels_keep_the_parents_function(parent, name):
    model, weights = parent
    child_arch = FUNCTION_PRESERVING[name]
    child = build_keras_model(child_arch, SHAPE, CLASSES)
    x = _inputs()
    fresh = np.asarray(child(x, training=False))
    result = inherit_weights(child, child_arch, SHAPE, CLASSES, weights)
    assert result.partial >= 1 and result.fresh == 0
    assert result.exact + result.partial == 6
    expected = np.asarray(model(x, training=False))
    got = np.asarray(child(x, training=False))
    assert np.abs(fresh - expected).max() > 1e-2  # the check can fail: fresh differs
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_identical_child_copies_every_layer_whole(parent):
    model, weights = parent
    child = build_keras_model(PARENT, SHAPE, CLASSES)
    result = inherit_weights(child, PARENT, SHAPE, CLASSES, weights)
    assert result.to_json() == {"layers_exact": 6, "layers_partial": 0, "layers_fresh": 0}
    x = _inputs()
    np.testing.assert_allclose(np.asarray(child(x, training=False)),
                               np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)


def test_an_inserted_layer_is_fresh_and_its_neighbours_inherited(parent):
    _, weights = parent
    block = PARENT.blocks[0]
    inserted = ConvLayer("1x1", 1, 6, 1, False, True, True)
    child_arch = replace(PARENT, blocks=(
        replace(block, layers=(block.layers[0], inserted, block.layers[1])), PARENT.blocks[1]))
    child = build_keras_model(child_arch, SHAPE, CLASSES)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in child.layers}
    result = inherit_weights(child, child_arch, SHAPE, CLASSES, weights)
    assert result.fresh == 1
    # the first conv and the classifier are the parent's, whole
    first, last = "b0_l0_conv", child.layers[-1].name
    for name in (first, last):
        for got, want in zip(child.get_layer(name).get_weights(), weights.layers[name],
                             strict=True):
            np.testing.assert_array_equal(got, want)
    # the inserted layer kept its fresh initialisation
    new = "b0_l1_conv"
    for got, want in zip(child.get_layer(new).get_weights(), before[new], strict=True):
        np.testing.assert_array_equal(got, want)


def test_changed_flatten_positions_leave_the_first_dense_fresh(parent):
    _, weights = parent
    child_arch = replace(PARENT, pooling=None)  # a 4x4 map reaches Flatten instead of 2x2
    child = build_keras_model(child_arch, SHAPE, CLASSES)
    result = inherit_weights(child, child_arch, SHAPE, CLASSES, weights)
    assert result.fresh == 1 and result.exact == 5


def test_save_and_load_round_trip(tmp_path, parent):
    model, _ = parent
    path = tmp_path / "w" / "weights.npz"
    save_weights(model, PARENT, SHAPE, CLASSES, path)
    loaded = load_weights(path)
    assert loaded.architecture == PARENT
    assert loaded.input_shape == SHAPE and loaded.num_classes == CLASSES
    child = build_keras_model(PARENT, SHAPE, CLASSES)
    assert inherit_weights(child, PARENT, SHAPE, CLASSES, loaded).exact == 6
    x = _inputs()
    np.testing.assert_allclose(np.asarray(child(x, training=False)),
                               np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)
    assert not list(path.parent.glob("*.tmp*"))


def test_bad_files_and_mismatched_data_are_errors(tmp_path, parent):
    _, weights = parent
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(InheritanceError, match="cannot read weights"):
        load_weights(garbage)
    with pytest.raises(InheritanceError, match="cannot read weights"):
        load_weights(tmp_path / "missing.npz")
    no_meta = tmp_path / "no_meta.npz"
    np.savez(no_meta, a=np.zeros(3))
    with pytest.raises(InheritanceError, match="cannot read weights"):
        load_weights(no_meta)
    child = build_keras_model(PARENT, (10, 10, 1), CLASSES)
    with pytest.raises(InheritanceError, match="parent was trained on"):
        inherit_weights(child, PARENT, (10, 10, 1), CLASSES, weights)


def test_align_matches_prefix_then_suffix():
    assert align(["c", "c", "d", "k"], ["c", "c", "d", "k"]) == [(0, 0), (1, 1), (2, 2),
                                                                 (3, 3)]
    # an insertion after the first layer
    assert align(["c", "d", "k"], ["c", "p", "d", "k"]) == [(0, 0), (1, 2), (2, 3)]
    # a removal
    assert align(["c", "p", "d", "k"], ["c", "d", "k"]) == [(0, 0), (2, 1), (3, 2)]
    # a changed kind in the middle matches neither way
    assert align(["c", "p", "k"], ["c", "d", "k"]) == [(0, 0), (2, 2)]


def test_blend_modes():
    fresh = np.full((2, 3), 9.0)
    old = np.arange(4.0).reshape(2, 2)
    # rows are inputs (extra ones zero for the copied outputs), columns outputs
    np.testing.assert_array_equal(blend(fresh, old, "io"), [[0, 1, 9], [2, 3, 9]])
    np.testing.assert_array_equal(blend(np.full((3, 2), 9.0), old, "io"),
                                  [[0, 1], [2, 3], [0, 0]])
    kernel = blend(np.full((5,), 9.0), np.array([1.0, 2.0, 3.0]), "c")
    np.testing.assert_array_equal(kernel, [0, 1, 2, 3, 0])
    np.testing.assert_array_equal(blend(np.zeros(1), np.array([1.0, 2.0, 3.0]), "c"), [2])
    with pytest.raises(InheritanceError):
        blend(fresh, np.zeros(3), "io")


def test_shortened_profile_scales_the_schedule():
    quick = get_profile("digits", "quick")  # 8 epochs, lr drop at 6, pruning 2..6
    half = shortened_profile(quick, 4)
    assert half.epochs == 4
    assert half.lr_schedule == ((0, quick.learning_rate), (3, quick.lr_schedule[-1][1]))
    assert (half.pruning.start_epoch, half.pruning.end_epoch) == (1, 3)
    one = shortened_profile(quick, 1)  # starts (and stays) at the high rate, prunes in it
    assert one.lr_schedule == ((0, quick.learning_rate),)
    assert (one.pruning.start_epoch, one.pruning.end_epoch) == (0, 1)
    assert shortened_profile(quick, 8) is quick and shortened_profile(quick, 20) is quick
    paper = get_profile("mnist", "paper")
    for epochs in range(1, paper.epochs):  # every length is a valid profile
        short = shortened_profile(paper, epochs)
        assert short.epochs == epochs and short.lr_schedule[0] == paper.lr_schedule[0]
        assert short.pruning.end_epoch <= epochs
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        shortened_profile(quick, 0)

