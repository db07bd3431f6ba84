"""Op graphs of random architectures: sizes >= 1, valid order, shapes re-derived per op."""

from __future__ import annotations

import math
import random

import pytest

from search_engine.graph import INPUT, build_op_graph, walk
from search_engine.graph.opgraph import OpGraph
from search_engine.space import SearchSpace, stages

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (49, 10, 1), (1, 1, 1), (3, 97, 2)]


def _expected_shape(spec, shapes):
    """Re-derive one op's output shape from its inputs' shapes (an independent reference)."""
    first = shapes[spec.inputs[0]]
    if spec.kind in ("conv2d", "depthwise_conv2d") or spec.padding == "same":
        h, w, c = first
        sh, sw = spec.strides
        c_out = spec.filters if spec.kind == "conv2d" else c
        return (math.ceil(h / sh), math.ceil(w / sw), c_out)
    if spec.kind == "max_pool":  # VALID alignment pool
        h, w, c = first
        (kh, kw), (sh, sw) = spec.pool_size, spec.strides
        return ((h - kh) // sh + 1, (w - kw) // sw + 1, c)
    if spec.kind == "add":
        assert shapes[spec.inputs[0]] == shapes[spec.inputs[1]], spec.name
        return first
    if spec.kind == "reshape":
        return (math.prod(first),)
    if spec.kind == "dense":
        return (spec.units,)
    raise AssertionError(spec.kind)


def _check_graph(graph: OpGraph, shape):
    assert graph.inputs == (INPUT,) and graph.tensors[INPUT] == math.prod(shape)
    assert graph.outputs == (graph.ops[-1].output,) == ("classifier",)
    produced = set(graph.inputs)
    names = set()
    for op in graph.ops:
        assert op.name not in names
        names.add(op.name)
        for tensor in op.inputs:
            assert tensor in produced, (op.name, tensor)
        assert op.output not in produced
        produced.add(op.output)
        assert graph.tensors[op.output] == math.prod(op.attrs["output_shape"]) >= 1
        assert all(d >= 1 for d in op.attrs["output_shape"])
    assert produced == set(graph.tensors)


@pytest.mark.parametrize("shape", SHAPES)
def test_every_sampled_architecture_builds_a_consistent_op_graph(shape):
    space = SearchSpace(shape, 10)
    rng = random.Random(sum(shape))
    for _ in range(250):
        arch = space.sample(rng)
        specs = walk(arch, shape, 10)
        graph = build_op_graph(arch, shape, 10)
        _check_graph(graph, shape)
        shapes = {INPUT: shape}
        for spec, op in zip(specs, graph.ops, strict=True):
            assert (op.name, op.inputs, op.kind, op.macs, op.params) == (
                spec.name,
                spec.inputs,
                spec.kind,
                spec.macs,
                spec.params,
            )
            assert spec.output_shape == _expected_shape(spec, shapes), spec.name
            shapes[spec.name] = spec.output_shape
        # One conv op per layer, one pre-pool per flag, one add per parallel block.
        layers = [layer for block in arch.blocks for layer in block.layers]
        kinds = [s.kind for s in specs]
        assert kinds.count("conv2d") + kinds.count("depthwise_conv2d") == len(layers)
        prepools = [s for s in specs if s.name.endswith("_prepool")]
        assert len(prepools) == sum(layer.pre_pool for layer in layers)
        assert kinds.count("add") == len(arch.blocks) - len(stages(arch))
        assert kinds.count("dense") == len(arch.dense) + 1
        assert kinds.count("reshape") == 1
        assert kinds.count("avg_pool") + sum(
            1 for s in specs if s.name == "pool" and s.kind == "max_pool"
        ) == (arch.pooling is not None)


def test_same_architecture_same_graph():
    space = SearchSpace((28, 28, 1), 10)
    arch = space.sample(random.Random(4))
    assert build_op_graph(arch, (28, 28, 1), 10) == build_op_graph(arch, (28, 28, 1), 10)
