"""Validity rules and the canonical form: 1x1 spelling, forced channels, depthwise rule."""

from __future__ import annotations

import pytest

from search_engine.space import (
    Architecture,
    ArchitectureError,
    Candidate,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    SearchSpace,
    stages,
    validate_candidate,
)


def conv(kind="full", kernel=3, channels=8, stride=1, pre_pool=False, bn=False, relu=True):
    if kind == "depthwise":
        channels = None
    return ConvLayer(kind, kernel, channels, stride, pre_pool, bn, relu)


def arch(*blocks, pooling=None, dense=(16,)):
    return Architecture(
        blocks=tuple(ConvBlock(tuple(layers), parallel) for parallel, layers in blocks),
        pooling=pooling,
        dense=tuple(DenseLayer(u) for u in dense),
    )


SPACE = SearchSpace((16, 16, 3), 5)


def test_stages_group_parallel_blocks():
    a = arch(
        (False, [conv()]),
        (True, [conv()]),
        (False, [conv()]),
        (False, [conv()]),
        (True, [conv()]),
        (True, [conv()]),
    )
    assert stages(a) == ((0, 1), (2,), (3, 4, 5))


def test_pointwise_spelling_is_canonical():
    a = arch((False, [conv("1x1", kernel=5, stride=2), conv("full", kernel=1, stride=1)]))
    b = SPACE.normalise(a)
    assert b.blocks[0].layers[0] == conv("1x1", kernel=1, stride=1)
    assert b.blocks[0].layers[1] == conv("1x1", kernel=1, stride=1)
    assert not SPACE.is_canonical(a) and SPACE.is_canonical(b)
    # A strided full 1x1 conv is a different network and stays "full".
    c = arch((False, [conv("full", kernel=1, stride=2)]))
    assert SPACE.normalise(c) == c


def test_forced_channels_follow_the_first_block_of_the_stage():
    a = arch(
        (False, [conv(channels=4)]),
        (False, [conv(channels=12), conv("depthwise")]),  # stage 1 outputs 12 channels
        (True, [conv(channels=7), conv(channels=9)]),  # last layer forced to 12
        (True, [conv(channels=7)]),  # forced to 12
        (False, [conv(channels=3)]),  # a new stage: untouched
    )
    b = SPACE.normalise(a)
    assert b.blocks[2].layers == (conv(channels=7), conv(channels=12))
    assert b.blocks[3].layers == (conv(channels=12),)
    assert b.blocks[4] == a.blocks[4]
    assert b.blocks[:2] == a.blocks[:2]


def test_stage_of_depthwise_only_block_takes_the_input_channels():
    # Stage 0's first block is depthwise only: it has the input's 3 channels.
    a = arch((False, [conv("depthwise")]), (True, [conv(channels=50)]))
    assert SPACE.normalise(a).blocks[1].layers[0].channels == 3
    # A parallel depthwise last layer is fine when its input already has the stage's count ...
    ok = arch((False, [conv(channels=6)]), (True, [conv(channels=6), conv("depthwise")]))
    assert SPACE.normalise(ok) == ok
    # ... and invalid otherwise (the message names the layer and both counts).
    bad = arch((False, [conv(channels=6)]), (True, [conv(channels=5), conv("depthwise")]))
    with pytest.raises(ArchitectureError) as info:
        SPACE.validate(bad)
    assert str(info.value) == (
        "blocks[1].layers[1].kind: a depthwise last layer keeps its 5 input channels, "
        "but block 1 is added to a stage of 6 channels"
    )
    # The same depthwise block on the model input depends on the input's channel count.
    dw = arch((False, [conv(channels=3)]), (True, [conv("depthwise")]))
    SearchSpace((16, 16, 3), 5).validate(dw)
    with pytest.raises(ArchitectureError, match=r"^blocks\[1\]\.layers\[0\]\.kind"):
        SearchSpace((16, 16, 1), 5).validate(dw)


def test_forced_channels_above_the_maximum_are_invalid():
    a = arch((False, [conv("depthwise")]), (True, [conv(channels=8)]))
    SearchSpace((4, 4, 128), 5).validate(a)
    with pytest.raises(ArchitectureError, match=r"^blocks\[1\]\.layers\[0\]\.channels: is forced"):
        SearchSpace((4, 4, 200), 5).validate(a)


@pytest.mark.parametrize(
    "bad, path",
    [
        (Architecture((), None, (DenseLayer(16),)), "blocks"),
        (arch((True, [conv()])), "blocks[0].parallel"),
        (arch((False, [conv(kernel=2)])), "blocks[0].layers[0].kernel"),
        (arch((False, [conv()]), (False, [conv(channels=None)])), "blocks[1].layers[0].channels"),
        (arch((False, [conv()]), pooling=Pooling("sum", 2)), "pooling.kind"),
        (arch((False, [conv()]), pooling="avg"), "pooling"),
        (arch((False, [conv()]), dense=(8,)), "dense[0].units"),
        (Architecture((ConvBlock((conv(),), False),), None, ()), "dense"),
        (Architecture(("block",), None, (DenseLayer(16),)), "blocks[0]"),
        (
            Architecture((ConvBlock(("layer",), False),), None, (DenseLayer(16),)),
            "blocks[0].layers[0]",
        ),
        ("not an architecture", "architecture"),
    ],
)
def test_invalid_dataclass_values_name_the_field(bad, path):
    with pytest.raises(ArchitectureError) as info:
        SPACE.validate(bad)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}: ")


def test_lists_become_tuples_so_values_stay_hashable():
    a = Architecture([ConvBlock([conv()], False)], None, [DenseLayer(16)])
    assert isinstance(a.blocks, tuple) and isinstance(a.blocks[0].layers, tuple)
    assert hash(a) == hash(arch((False, [conv()])))


def test_candidate_validation():
    good = arch((False, [conv()]))
    validate_candidate(Candidate(good, 0.0))
    validate_candidate(Candidate(good, 0.999), input_channels=3)
    with pytest.raises(ArchitectureError, match=r"^sparsity: must be a number in \[0, 1\)"):
        validate_candidate(Candidate(good, 1.0))
    with pytest.raises(ArchitectureError, match=r"^architecture\.blocks\[0\]\.layers\[0\]\.stride"):
        validate_candidate(Candidate(arch((False, [conv(stride=4)])), 0.5))


@pytest.mark.parametrize(
    "shape, classes",
    [((0, 5, 1), 10), ((5, 5), 10), ((5, 5, 1), 1), ((5, 5, 1), True), ((5.0, 5, 1), 10)],
)
def test_bad_search_space_arguments(shape, classes):
    with pytest.raises(ValueError):
        SearchSpace(shape, classes)
