"""Morphisms: every child is valid, canonical, different, and changes what its name says."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from search_engine.space import (
    MORPHISMS,
    Architecture,
    ArchitectureError,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    SearchSpace,
    mutate,
)

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (49, 10, 1)]

TABLE_1 = {
    "append_block",
    "remove_block",
    "toggle_parallel",
    "insert_layer",
    "remove_layer",
    "toggle_pre_pool",
    "toggle_batch_norm",
    "toggle_relu",
    "change_conv_type",
    "change_kernel",
    "change_channels",
    "change_stride",
    "toggle_pooling",
    "change_pooling_type",
    "change_pooling_size",
    "insert_dense",
    "remove_dense",
    "change_units",
}


def _layers(arch: Architecture) -> list[tuple[int, int, ConvLayer]]:
    return [
        (b, j, layer) for b, block in enumerate(arch.blocks) for j, layer in enumerate(block.layers)
    ]


def _layer_diffs(parent: Architecture, child: Architecture) -> list[tuple[int, int, set[str]]]:
    """(block, layer, changed fields) for same-structured conv parts."""
    out = []
    for (b, j, a), (_, _, c) in zip(_layers(parent), _layers(child), strict=True):
        changed = {f for f in a.__dataclass_fields__ if getattr(a, f) != getattr(c, f)}
        if changed:
            out.append((b, j, changed))
    return out


def _same_shape(parent: Architecture, child: Architecture) -> bool:
    return [len(b.layers) for b in parent.blocks] == [len(b.layers) for b in child.blocks]


def _only_conv_layers_differ(parent: Architecture, child: Architecture) -> bool:
    """Same blocks, layers per block, parallel flags, pooling and dense layers."""
    return (
        _same_shape(parent, child)
        and [b.parallel for b in parent.blocks] == [b.parallel for b in child.blocks]
        and parent.pooling == child.pooling
        and parent.dense == child.dense
    )


def check_meaning(name: str, parent: Architecture, child: Architecture) -> None:
    """An independent description of what each morphism may change."""
    pb, cb = parent.blocks, child.blocks
    if name == "append_block":
        assert len(cb) == len(pb) + 1 and cb[:-1] == pb
        assert parent.pooling == child.pooling and parent.dense == child.dense
    elif name == "remove_block":
        assert len(cb) == len(pb) - 1
        assert parent.pooling == child.pooling and parent.dense == child.dense
    elif name in ("insert_layer", "remove_layer"):
        step = 1 if name == "insert_layer" else -1
        sizes = [len(b.layers) for b in pb], [len(b.layers) for b in cb]
        changed = [i for i, (a, c) in enumerate(zip(*sizes, strict=True)) if a != c]
        assert len(changed) == 1 and sizes[1][changed[0]] - sizes[0][changed[0]] == step
        assert [b.parallel for b in pb] == [b.parallel for b in cb]
    elif name == "toggle_parallel":
        assert _same_shape(parent, child)
        flips = [i for i, (a, c) in enumerate(zip(pb, cb, strict=True)) if a.parallel != c.parallel]
        assert len(flips) == 1 and flips[0] > 0
        assert all(f == {"channels"} for _, _, f in _layer_diffs(parent, child))
    elif name in ("toggle_pre_pool", "toggle_batch_norm", "toggle_relu"):
        field = name.removeprefix("toggle_")
        assert _only_conv_layers_differ(parent, child)
        assert [(f) for _, _, f in _layer_diffs(parent, child)] == [{field}]
    elif name == "change_kernel":
        assert _only_conv_layers_differ(parent, child)
        diffs = _layer_diffs(parent, child)
        assert len(diffs) == 1
        b, j, fields = diffs[0]
        a, c = pb[b].layers[j], cb[b].layers[j]
        if c.kind == "1x1":  # full K=3, S=1 minus 2 is a 1x1 conv
            assert (a.kind, a.kernel, a.stride) == ("full", 3, 1)
            assert fields == {"kind", "kernel"}
        else:
            assert fields == {"kernel"} and abs(a.kernel - c.kernel) == 2
    elif name == "change_stride":
        assert _only_conv_layers_differ(parent, child)
        diffs = _layer_diffs(parent, child)
        assert len(diffs) == 1
        b, j, fields = diffs[0]
        a, c = pb[b].layers[j], cb[b].layers[j]
        assert {a.stride, c.stride} == {1, 2}
        if c.kind == "1x1":  # full K=1, S=2 -> S=1 is a 1x1 conv
            assert (a.kind, a.kernel) == ("full", 1) and fields == {"kind", "stride"}
        else:
            assert fields == {"stride"}
    elif name == "change_channels":
        assert _only_conv_layers_differ(parent, child)
        diffs = _layer_diffs(parent, child)
        assert diffs and all(f == {"channels"} for _, _, f in diffs)
        b, j, _ = diffs[0]
        assert abs(pb[b].layers[j].channels - cb[b].layers[j].channels) in (1, 3, 5)
    elif name == "change_conv_type":
        assert _only_conv_layers_differ(parent, child)
        diffs = _layer_diffs(parent, child)
        b, j, fields = diffs[0]
        assert "kind" in fields and fields <= {"kind", "kernel", "stride", "channels"}
        assert all(f == {"channels"} for _, _, f in diffs[1:])
    elif name == "toggle_pooling":
        assert (parent.pooling is None) != (child.pooling is None) and pb == cb
    elif name == "change_pooling_type":
        assert parent.pooling.size == child.pooling.size
        assert parent.pooling.kind != child.pooling.kind and pb == cb
    elif name == "change_pooling_size":
        assert abs(parent.pooling.size - child.pooling.size) == 2 and pb == cb
    elif name in ("insert_dense", "remove_dense"):
        assert len(child.dense) - len(parent.dense) == (1 if name == "insert_dense" else -1)
        assert pb == cb and parent.pooling == child.pooling
    elif name == "change_units":
        diffs = [
            (a.units, c.units) for a, c in zip(parent.dense, child.dense, strict=True) if a != c
        ]
        assert len(diffs) == 1 and abs(diffs[0][0] - diffs[0][1]) in (1, 3, 5) and pb == cb
    else:  # pragma: no cover
        raise AssertionError(name)


def test_morphism_names_are_table_1():
    assert set(MORPHISMS) == TABLE_1 and len(MORPHISMS) == len(TABLE_1)


def test_thousands_of_children_are_valid_canonical_different_and_meaningful():
    fired = Counter()
    for k, shape in enumerate(SHAPES):
        space = SearchSpace(shape, 10)
        rng = random.Random(100 + k)
        for i in range(800):
            parent = space.sample(rng)
            # Chains of mutations reach parents the sampler rarely makes (e.g. 1 block, 10 blocks).
            for _ in range(i % 3):
                parent, _ = space.mutate(parent, rng)
            child, name = space.mutate(parent, rng)
            space.validate(child)
            assert space.is_canonical(child)
            assert child != parent
            check_meaning(name, parent, child)
            fired[name] += 1
    assert set(fired) == set(MORPHISMS), fired
    # Kinds are chosen uniformly among applicable ones: no kind is starved.
    assert min(fired.values()) > 0.25 * 3200 / len(MORPHISMS), fired


def _one_block(layer: ConvLayer) -> Architecture:
    return Architecture((ConvBlock((layer,), False),), None, (DenseLayer(10),))


def test_minimal_parent_has_no_removals_and_maximal_parent_no_insertions():
    space = SearchSpace((8, 8, 1), 2)
    rng = random.Random(0)
    minimal = _one_block(ConvLayer("1x1", 1, 1, 1, False, False, False))
    names = {space.mutate(minimal, rng)[1] for _ in range(600)}
    assert not names & {
        "remove_block",
        "remove_layer",
        "remove_dense",
        "toggle_parallel",
        "change_kernel",
        "change_stride",
        "change_pooling_type",
        "change_pooling_size",
    }
    assert {"append_block", "insert_layer", "insert_dense", "toggle_pooling"} <= names
    layer = ConvLayer("full", 3, 128, 1, True, True, True)
    block = ConvBlock((layer,) * 3, False)
    maximal = Architecture((block,) * 10, Pooling("max", 6), (DenseLayer(256),) * 3)
    names = {space.mutate(maximal, rng)[1] for _ in range(600)}
    assert not names & {"append_block", "insert_layer", "insert_dense"}
    assert {"remove_block", "remove_layer", "remove_dense", "change_pooling_size"} <= names


def test_channels_of_a_forced_layer_are_never_the_only_change():
    # Block 1's only layer is forced to block 0's 16 channels: changing it is a no-op, so the
    # only change_channels site that makes a difference is block 0's layer.
    layer = ConvLayer("full", 3, 16, 1, False, False, True)
    parent = Architecture(
        (ConvBlock((layer,), False), ConvBlock((layer,), True)), None, (DenseLayer(10),)
    )
    rng = random.Random(5)
    for _ in range(50):
        child, name = mutate(parent, rng, 1, kinds=("change_channels",))
        assert name == "change_channels"
        c0, c1 = child.blocks[0].layers[0].channels, child.blocks[1].layers[0].channels
        assert c0 == c1 and abs(c0 - 16) in (1, 3, 5)


def test_change_conv_type_keeps_the_channel_count_when_leaving_depthwise():
    parent = _one_block(ConvLayer("depthwise", 5, None, 2, False, False, True))
    rng = random.Random(1)
    kinds = set()
    for _ in range(40):
        child, _ = mutate(parent, rng, 3, kinds=("change_conv_type",))
        layer = child.blocks[0].layers[0]
        kinds.add(layer.kind)
        assert layer.channels == 3
        if layer.kind == "full":
            assert (layer.kernel, layer.stride) == (5, 2)
    assert kinds == {"full", "1x1"}


def test_mutate_rejects_invalid_parent_and_impossible_requests():
    rng = random.Random(0)
    bad = _one_block(ConvLayer("full", 4, 8, 1, False, False, True))
    with pytest.raises(ArchitectureError, match=r"^blocks\[0\]\.layers\[0\]\.kernel"):
        mutate(bad, rng, 1)
    minimal = _one_block(ConvLayer("1x1", 1, 1, 1, False, False, False))
    with pytest.raises(ArchitectureError, match="no morphism"):
        mutate(minimal, rng, 1, kinds=("remove_block",))


def test_mutation_is_reproducible():
    space = SearchSpace((28, 28, 1), 10)
    parent = space.sample(random.Random(9))
    a = [space.mutate(parent, random.Random(s)) for s in range(30)]
    b = [space.mutate(parent, random.Random(s)) for s in range(30)]
    assert a == b
