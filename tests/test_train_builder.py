"""Keras builder vs the architecture walk: layer shapes and parameter counts agree."""

from __future__ import annotations

import random

import pytest

keras = pytest.importorskip("keras")

from search_engine.graph import build_op_graph  # noqa: E402
from search_engine.graph.pruned import pruned_walk  # noqa: E402
from search_engine.resources.model_size import keras_params  # noqa: E402
from search_engine.space import (  # noqa: E402
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    SearchSpace,
)
from search_engine.space.pruned import pruned_architecture  # noqa: E402
from search_engine.train.keras_builder import build_keras_model, spec_name  # noqa: E402

SHAPES = ((8, 8, 1), (28, 28, 1), (32, 32, 3), (49, 10, 1))


def _check_model(model, graph, input_shape):
    sizes = {op.name: op.attrs["output_shape"] for op in graph.ops}
    sizes["input"] = tuple(input_shape)
    inputs = {op.name: op.inputs for op in graph.ops}
    seen = set()
    for layer in model.layers:
        if layer.name == "input":
            assert tuple(layer.output.shape[1:]) == tuple(input_shape)
            continue
        name = spec_name(layer.name)
        assert name in sizes, f"Keras layer {layer.name} has no op in the graph"
        # a dropout layer sits before its dense layer: it keeps the dense layer's input shape
        want = sizes[inputs[name][0]] if layer.name.endswith("_dropout") else sizes[name]
        assert tuple(layer.output.shape[1:]) == tuple(want), layer.name
        seen.add(name)
    assert seen == set(sizes) - {"input"}, "every op of the graph has a Keras layer"


def test_random_architectures_match_walk_shapes_and_params():
    rng = random.Random(2024)
    n = 0
    for i in range(200):
        shape = SHAPES[i % len(SHAPES)]
        classes = rng.choice((2, 10))
        space = SearchSpace(shape, classes)
        arch = space.sample(rng)
        graph = build_op_graph(arch, shape, classes)
        model = build_keras_model(arch, shape, classes, dropout=0.15 if i % 3 == 0 else 0.0)
        _check_model(model, graph, shape)
        assert model.count_params() == keras_params(graph)
        assert tuple(model.output.shape[1:]) == (classes,)
        keras.backend.clear_session(free_memory=i % 50 == 49)
        n += 1
    assert n == 200


def test_pruned_architectures_build_with_small_dense_layers():
    rng = random.Random(7)
    shape = (8, 8, 1)
    space = SearchSpace(shape, 10)
    for _ in range(20):
        arch = space.sample(rng)
        pruned = pruned_architecture(arch, 0.9, shape)
        specs = pruned_walk(pruned, shape, 10)
        model = build_keras_model(pruned, shape, 10)
        assert model.count_params() == sum(s.keras_params for s in specs)
        for s in specs:
            if s.kind == "dense":
                assert model.get_layer(s.name).units == s.units
        keras.backend.clear_session()


def test_layer_names_follow_specs():
    arch = Architecture(
        blocks=(
            ConvBlock((ConvLayer("full", 3, 8, 1, False, True, True),), False),
            ConvBlock(
                (
                    ConvLayer("depthwise", 3, None, 2, False, False, True),
                    ConvLayer("full", 3, 8, 1, True, False, False),
                ),
                True,
            ),
        ),
        pooling=Pooling("avg", 2),
        dense=(DenseLayer(16),),
    )
    model = build_keras_model(arch, (28, 28, 1), 10, dropout=0.15)
    names = [layer.name for layer in model.layers]
    for name in ("input", "b1_l1_prepool", "b0_l0_conv", "b0_l0_conv_bn", "b0_l0_conv_relu",
                 "b1_l0_conv", "b1_l0_conv_relu", "b1_l1_conv", "s0_align_b0", "s0_add1",
                 "pool", "flatten", "dense0_dropout", "dense0", "classifier"):
        assert name in names
    assert "classifier_dropout" not in names
    assert model.get_layer("b0_l0_conv").use_bias is False
    assert model.get_layer("b1_l0_conv").use_bias is True
    assert model.get_layer("classifier").activation.__name__ == "linear"


def test_bad_dropout_is_rejected():
    arch = Architecture(
        blocks=(ConvBlock((ConvLayer("full", 3, 8, 1, False, False, True),), False),),
        pooling=None,
        dense=(DenseLayer(16),),
    )
    with pytest.raises(ValueError, match="dropout"):
        build_keras_model(arch, (8, 8, 1), 10, dropout=1.5)
