"""The architecture walk, checked against hand calculations (shapes, params, bytes, MACs)."""

from __future__ import annotations

import pytest

from search_engine.graph import walk
from search_engine.graph.walk import align_window, same_size
from search_engine.space import (
    Architecture,
    ArchitectureError,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)


def L(kind, k, c, s, pre_pool=False, bn=False, relu=False):  # noqa: N802
    return ConvLayer(kind, k, c, s, pre_pool, bn, relu)


# Example A (input 5x5x1, 3 classes): one stage of three parallel blocks with an alignment
# pool, a depthwise layer, a 1x1 layer, BN, a pre-pool, then 2x2 avg pooling on odd 3x3.
ARCH_A = Architecture(
    blocks=(
        ConvBlock((L("full", 3, 4, 2, bn=True, relu=True),), False),
        ConvBlock((L("depthwise", 3, None, 1, pre_pool=True), L("1x1", 1, 4, 1)), True),
        ConvBlock((L("full", 5, 7, 1, bn=True, relu=True), L("1x1", 1, 4, 1)), True),
    ),
    pooling=Pooling("avg", 2),
    dense=(DenseLayer(10),),
)
# Hand calculation, one row per op:
# name, kind, inputs, output shape, params, keras params, weight bytes, MACs
EXPECTED_A = [
    # 5x5 -> same, stride 2 -> 3x3; w = 3*3*1*4 = 36; BN: keras 36 + 4*4; bytes 36 + 4*4
    ("b0_l0_conv", "conv2d", ("input",), (3, 3, 4), 40, 52, 52, 324),
    # 5x5 -> 2x2 max pool, same -> 3x3
    ("b1_l0_prepool", "max_pool", ("input",), (3, 3, 1), 0, 0, 0, 0),
    # depthwise 3x3 on 1 channel: w = 9, b = 1; MACs 3*3*9
    ("b1_l0_conv", "depthwise_conv2d", ("b1_l0_prepool",), (3, 3, 1), 10, 10, 13, 81),
    # 1x1, 1 -> 4 channels: w = 4; bytes 4 + 16; MACs 9*4
    ("b1_l1_conv", "conv2d", ("b1_l0_conv",), (3, 3, 4), 8, 8, 20, 36),
    # full 5x5, 1 -> 7 at 5x5: w = 175; BN keras 175 + 28; MACs 25*175
    ("b2_l0_conv", "conv2d", ("input",), (5, 5, 7), 182, 203, 203, 4375),
    # 1x1, 7 -> 4 at 5x5: w = 28; MACs 25*28
    ("b2_l1_conv", "conv2d", ("b2_l0_conv",), (5, 5, 4), 32, 32, 44, 700),
    # align 5x5 -> 3x3: s = 5 // 3 = 1, k = 5 - 2*1 = 3, VALID: (5-3)/1+1 = 3
    ("s0_align_b2", "max_pool", ("b2_l1_conv",), (3, 3, 4), 0, 0, 0, 0),
    ("s0_add1", "add", ("b0_l0_conv", "b1_l1_conv"), (3, 3, 4), 0, 0, 0, 0),
    ("s0_add2", "add", ("s0_add1", "s0_align_b2"), (3, 3, 4), 0, 0, 0, 0),
    # 2x2 stride 2 same on 3x3 -> 2x2
    ("pool", "avg_pool", ("s0_add2",), (2, 2, 4), 0, 0, 0, 0),
    ("flatten", "reshape", ("pool",), (16,), 0, 0, 0, 0),
    # dense 16 -> 10: w = 160, b = 10; bytes 160 + 40
    ("dense0", "dense", ("flatten",), (10,), 170, 170, 200, 160),
    # classifier 10 -> 3: w = 30, b = 3; bytes 30 + 12
    ("classifier", "dense", ("dense0",), (3,), 33, 33, 42, 30),
]

# Example B (input 7x5x2, 2 classes): serial, odd sizes, strided depthwise after a pre-pool,
# a strided full 1x1 conv, a pre-pool on a 1x1 map, 6x6 max pooling larger than the map.
ARCH_B = Architecture(
    blocks=(
        ConvBlock((L("depthwise", 5, None, 2, pre_pool=True, bn=True, relu=True),), False),
        ConvBlock((L("full", 1, 3, 2), L("full", 7, 1, 1, pre_pool=True)), False),
    ),
    pooling=Pooling("max", 6),
    dense=(DenseLayer(12), DenseLayer(10)),
)
EXPECTED_B = [
    ("b0_l0_prepool", "max_pool", ("input",), (4, 3, 2), 0, 0, 0, 0),  # ceil(7/2), ceil(5/2)
    # depthwise 5x5 stride 2 on 4x3x2 -> 2x2x2; w = 50; BN: keras 50 + 8, bytes 50 + 8
    ("b0_l0_conv", "depthwise_conv2d", ("b0_l0_prepool",), (2, 2, 2), 52, 58, 58, 200),
    # full 1x1 stride 2: 2x2 -> 1x1, 2 -> 3: w = 6; bytes 6 + 12
    ("b1_l0_conv", "conv2d", ("b0_l0_conv",), (1, 1, 3), 9, 9, 18, 6),
    ("b1_l1_prepool", "max_pool", ("b1_l0_conv",), (1, 1, 3), 0, 0, 0, 0),
    # full 7x7 same on 1x1: w = 49*3*1 = 147; bytes 147 + 4
    ("b1_l1_conv", "conv2d", ("b1_l1_prepool",), (1, 1, 1), 148, 148, 151, 147),
    ("pool", "max_pool", ("b1_l1_conv",), (1, 1, 1), 0, 0, 0, 0),
    ("flatten", "reshape", ("pool",), (1,), 0, 0, 0, 0),
    ("dense0", "dense", ("flatten",), (12,), 24, 24, 60, 12),
    ("dense1", "dense", ("dense0",), (10,), 130, 130, 160, 120),
    ("classifier", "dense", ("dense1",), (2,), 22, 22, 28, 20),
]

# Example C (input 9x6x3, 4 classes): a depthwise-only first block (the stage keeps the
# input's 3 channels), parallel blocks with different per-axis alignment windows, then a
# serial 1x1 stage with BN, no global pooling.
ARCH_C = Architecture(
    blocks=(
        ConvBlock((L("depthwise", 3, None, 1),), False),
        ConvBlock((L("full", 3, 3, 2),), True),
        ConvBlock((L("full", 3, 8, 2, pre_pool=True), L("1x1", 1, 3, 1)), True),
        ConvBlock((L("1x1", 1, 5, 1, bn=True),), False),
    ),
    pooling=None,
    dense=(DenseLayer(10),),
)
EXPECTED_C = [
    ("b0_l0_conv", "depthwise_conv2d", ("input",), (9, 6, 3), 30, 30, 39, 1458),  # 54*27
    ("b1_l0_conv", "conv2d", ("input",), (5, 3, 3), 84, 84, 93, 1215),  # 15*81
    ("b2_l0_prepool", "max_pool", ("input",), (5, 3, 3), 0, 0, 0, 0),
    ("b2_l0_conv", "conv2d", ("b2_l0_prepool",), (3, 2, 8), 224, 224, 248, 1296),  # 6*216
    ("b2_l1_conv", "conv2d", ("b2_l0_conv",), (3, 2, 3), 27, 27, 36, 144),  # 6*24
    # 9x6 -> 3x2: H s = 3, k = 9 - 2*3 = 3; W s = 3, k = 6 - 1*3 = 3
    ("s0_align_b0", "max_pool", ("b0_l0_conv",), (3, 2, 3), 0, 0, 0, 0),
    # 5x3 -> 3x2: H s = 1, k = 3; W s = 1, k = 2
    ("s0_align_b1", "max_pool", ("b1_l0_conv",), (3, 2, 3), 0, 0, 0, 0),
    ("s0_add1", "add", ("s0_align_b0", "s0_align_b1"), (3, 2, 3), 0, 0, 0, 0),
    ("s0_add2", "add", ("s0_add1", "b2_l1_conv"), (3, 2, 3), 0, 0, 0, 0),
    # 1x1 3 -> 5 with BN: w = 15, keras 15 + 20, bytes 15 + 20; MACs 6*15
    ("b3_l0_conv", "conv2d", ("s0_add2",), (3, 2, 5), 20, 35, 35, 90),
    ("flatten", "reshape", ("b3_l0_conv",), (30,), 0, 0, 0, 0),
    ("dense0", "dense", ("flatten",), (10,), 310, 310, 340, 300),
    ("classifier", "dense", ("dense0",), (4,), 44, 44, 56, 40),
]

CASES = [
    (ARCH_A, (5, 5, 1), 3, EXPECTED_A),
    (ARCH_B, (7, 5, 2), 2, EXPECTED_B),
    (ARCH_C, (9, 6, 3), 4, EXPECTED_C),
]


@pytest.mark.parametrize("arch, shape, classes, expected", CASES)
def test_walk_matches_hand_calculation(arch, shape, classes, expected):
    specs = walk(arch, shape, classes)
    got = [
        (s.name, s.kind, s.inputs, s.output_shape, s.params, s.keras_params, s.weight_bytes, s.macs)
        for s in specs
    ]
    assert got == expected


def test_keras_attributes_of_the_specs():
    specs = {s.name: s for s in walk(ARCH_A, (5, 5, 1), 3)}
    conv = specs["b0_l0_conv"]
    assert (conv.kernel_size, conv.strides, conv.padding, conv.filters) == (
        (3, 3),
        (2, 2),
        "same",
        4,
    )
    assert (conv.batch_norm, conv.relu, conv.use_bias) == (True, True, False)
    assert conv.source == "blocks[0].layers[0]"
    dw = specs["b1_l0_conv"]
    assert (dw.filters, dw.use_bias, dw.batch_norm, dw.relu) == (None, True, False, False)
    pre = specs["b1_l0_prepool"]
    assert (pre.pool_size, pre.strides, pre.padding) == ((2, 2), (2, 2), "same")
    align = specs["s0_align_b2"]
    assert (align.pool_size, align.strides, align.padding) == ((3, 3), (1, 1), "valid")
    pool = specs["pool"]
    assert (pool.pool_size, pool.strides, pool.padding, pool.source) == (
        (2, 2),
        (2, 2),
        "same",
        "pooling",
    )
    assert (specs["dense0"].units, specs["dense0"].relu, specs["dense0"].use_bias) == (
        10,
        True,
        True,
    )
    assert (specs["classifier"].units, specs["classifier"].relu) == (3, False)
    c_specs = {s.name: s for s in walk(ARCH_C, (9, 6, 3), 4)}
    assert (c_specs["s0_align_b0"].pool_size, c_specs["s0_align_b0"].strides) == ((3, 3), (3, 3))
    assert (c_specs["s0_align_b1"].pool_size, c_specs["s0_align_b1"].strides) == ((3, 2), (1, 1))


def test_walk_uses_the_canonical_form():
    # Block 1's last layer stores 9 channels but is forced to block 0's 4.
    arch = Architecture(
        (ConvBlock((L("full", 3, 4, 1),), False), ConvBlock((L("1x1", 3, 9, 2),), True)),
        None,
        (DenseLayer(10),),
    )
    specs = {s.name: s for s in walk(arch, (4, 4, 1), 2)}
    assert specs["b1_l0_conv"].output_shape == (4, 4, 4)
    assert specs["b1_l0_conv"].kernel_size == (1, 1) and specs["b1_l0_conv"].strides == (1, 1)


def test_walk_rejects_bad_arguments():
    with pytest.raises(ArchitectureError, match=r"^blocks\[0\]\.layers\[0\]\.stride"):
        walk(
            Architecture((ConvBlock((L("full", 3, 4, 3),), False),), None, (DenseLayer(10),)),
            (4, 4, 1),
            2,
        )
    with pytest.raises(ValueError, match="input_shape"):
        walk(ARCH_A, (0, 4, 1), 2)
    with pytest.raises(ValueError, match="num_classes"):
        walk(ARCH_A, (4, 4, 1), 1)


def _tf_same(size: int, k: int, s: int) -> int:
    """TensorFlow's SAME padding, spelled out: pad to cover the windows, then count them."""
    out = 0
    pad_total = max((-(-size // s) - 1) * s + k - size, 0)
    start = -(pad_total // 2)
    while start + k <= size + pad_total - pad_total // 2:
        out += 1
        start += s
    return out


def test_size_formulas_against_brute_force():
    for size in range(1, 40):
        for k in (1, 2, 3, 4, 5, 6, 7):
            for s in (1, 2, 4, 6):
                assert same_size(size, s) == _tf_same(size, k, s), (size, k, s)
        for target in range(1, size + 1):
            k, s = align_window(size, target)
            windows = [i for i in range(0, size, s) if i + k <= size]
            assert len(windows) == target and k >= 1 and s >= 1, (size, target)
