"""Model size, parameter counts and MACs: hand-calculated totals, graph and specs agree."""

from __future__ import annotations

import random

import pytest
from test_graph_walk import ARCH_A, ARCH_B, ARCH_C  # tests/ is on sys.path (pytest)

from search_engine.graph import build_op_graph, walk
from search_engine.resources.macs import macs_per_op, total_macs
from search_engine.resources.model_size import (
    ResourceSummary,
    keras_params,
    model_size_bytes,
    params,
    summarise,
)
from search_engine.space import (
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    SearchSpace,
)

# Totals of the per-op hand calculations in test_graph_walk.py (summed by hand).
TOTALS = [
    # arch, input, classes, params, keras params, bytes, MACs
    (ARCH_A, (5, 5, 1), 3, 475, 508, 574, 5706),
    (ARCH_B, (7, 5, 2), 2, 385, 391, 475, 505),
    (ARCH_C, (9, 6, 3), 4, 739, 754, 847, 4543),
]


@pytest.mark.parametrize("arch, shape, classes, n_params, n_keras, n_bytes, n_macs", TOTALS)
def test_totals_match_hand_calculation(arch, shape, classes, n_params, n_keras, n_bytes, n_macs):
    specs = walk(arch, shape, classes)
    graph = build_op_graph(arch, shape, classes)
    for layers in (specs, graph):
        assert params(layers) == n_params
        assert keras_params(layers) == n_keras
        assert model_size_bytes(layers) == n_bytes
        assert total_macs(layers) == n_macs
    summary = summarise(arch, shape, classes)
    assert summary == ResourceSummary(
        params=n_params,
        keras_params=n_keras,
        model_size_bytes=n_bytes,
        macs=n_macs,
        macs_per_op=macs_per_op(specs),
    )
    assert list(summary.macs_per_op) == [s.name for s in specs]


def test_lenet_like_network_by_hand():
    # 28x28x1 -> conv 5x5 x6 (BN) -> conv 5x5 x16 stride 2 -> 1x1 x8 -> dense 32 -> 10.
    arch = Architecture(
        (
            ConvBlock(
                (
                    ConvLayer("full", 5, 6, 1, False, True, True),
                    ConvLayer("full", 5, 16, 2, False, False, True),
                    ConvLayer("1x1", 1, 8, 1, False, False, False),
                ),
                False,
            ),
        ),
        None,
        (DenseLayer(32),),
    )
    s = summarise(arch, (28, 28, 1), 10)
    conv1 = 28 * 28 * 25 * 6  # MACs 117600, weights 150
    conv2 = 14 * 14 * 25 * 6 * 16  # 470400, weights 2400
    pw = 14 * 14 * 16 * 8  # 25088, weights 128
    fc = 14 * 14 * 8 * 32  # 50176
    out = 32 * 10
    assert s.macs == conv1 + conv2 + pw + fc + out == 663584
    weights = 150 + 2400 + 128 + fc + out
    biases = 6 + 16 + 8 + 32 + 10
    assert s.params == weights + biases
    assert s.model_size_bytes == weights + 4 * biases
    assert s.keras_params == weights + biases + 3 * 6  # BN: 4 per channel instead of 1 bias
    assert s.macs_per_op == {
        "b0_l0_conv": conv1,
        "b0_l1_conv": conv2,
        "b0_l2_conv": pw,
        "flatten": 0,
        "dense0": fc,
        "classifier": out,
    }


def test_independent_formulas_on_random_architectures():
    """Params/bytes/MACs recomputed from the architecture and the walked shapes only."""
    rng = random.Random(11)
    for shape in [(28, 28, 1), (32, 32, 3), (49, 10, 1)]:
        space = SearchSpace(shape, 7)
        for _ in range(150):
            arch = space.sample(rng)
            specs = walk(arch, shape, 7)
            out = {"input": shape} | {s.name: s.output_shape for s in specs}
            n_params = n_bytes = n_keras = n_macs = 0
            for s in specs:
                if s.kind in ("conv2d", "depthwise_conv2d"):
                    c_in = out[s.inputs[0]][2]
                    h, w, c_out = s.output_shape
                    k = s.kernel_size[0]
                    wts = k * k * c_in * (c_out if s.kind == "conv2d" else 1)
                    n_macs += h * w * wts
                    n_params += wts + c_out
                    n_bytes += wts + 4 * c_out
                    n_keras += wts + (4 * c_out if s.batch_norm else c_out)
                elif s.kind == "dense":
                    wts = out[s.inputs[0]][0] * s.units
                    n_macs += wts
                    n_params += wts + s.units
                    n_keras += wts + s.units
                    n_bytes += wts + 4 * s.units
            summary = summarise(arch, shape, 7)
            assert (
                summary.params,
                summary.model_size_bytes,
                summary.keras_params,
                summary.macs,
            ) == (n_params, n_bytes, n_keras, n_macs)
