"""JSON round trip of random architectures/candidates, and bad JSON named by its field path."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest

from search_engine.space import (
    ArchitectureError,
    Candidate,
    SearchSpace,
    architecture_from_json,
    architecture_to_json,
    candidate_from_json,
    candidate_to_json,
)

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (49, 10, 1)]


def test_round_trip_of_thousands_of_random_architectures():
    rng = random.Random(1)
    for shape in SHAPES:
        space = SearchSpace(shape, 10)
        for _ in range(600):
            arch = space.sample(rng)
            obj = architecture_to_json(arch)
            text = json.dumps(obj)
            back = architecture_from_json(json.loads(text))
            assert back == arch
            assert architecture_to_json(back) == obj
            candidate = Candidate(arch, rng.random())
            assert candidate_from_json(json.loads(json.dumps(candidate_to_json(candidate)))) == (
                candidate
            )


def _base() -> dict:
    """A valid architecture JSON with three blocks (the third parallel) and two dense layers."""
    layer = {
        "kind": "full",
        "kernel": 3,
        "channels": 8,
        "stride": 1,
        "pre_pool": False,
        "batch_norm": True,
        "relu": True,
    }
    dw = dict(layer, kind="depthwise", channels=None)
    return {
        "schema_version": 1,
        "blocks": [
            {"parallel": False, "layers": [dict(layer), dict(dw)]},
            {"parallel": False, "layers": [dict(layer)]},
            {"parallel": True, "layers": [dict(layer)]},
        ],
        "pooling": {"kind": "avg", "size": 2},
        "dense": [{"units": 32}, {"units": 10}],
    }


def test_base_is_valid():
    arch = architecture_from_json(_base())
    SearchSpace((28, 28, 1), 10).validate(arch)


def _set(path, value):
    def edit(obj):
        *head, last = path
        for key in head:
            obj = obj[key]
        obj[last] = value

    return edit


def _delete(path):
    def edit(obj):
        *head, last = path
        for key in head:
            obj = obj[key]
        del obj[last]

    return edit


L0 = ("blocks", 0, "layers", 0)
BAD_ARCHITECTURES = [
    (_set(("schema_version",), 2), "schema_version: unsupported schema version 2"),
    (_set(("schema_version",), True), "schema_version: unsupported schema version true"),
    (_set(("schema_version",), "1"), "schema_version: unsupported"),
    (_delete(("schema_version",)), "schema_version: missing field"),
    (_delete(("dense",)), "dense: missing field"),
    (_delete(("pooling",)), "pooling: missing field"),
    (_set(("colour",), "red"), "colour: unknown field"),
    (_set(L0 + ("kernel",), 4), "blocks[0].layers[0].kernel: must be one of 1, 3, 5, 7 (got 4)"),
    (
        _set(L0 + ("kernel",), True),
        "blocks[0].layers[0].kernel: must be one of 1, 3, 5, 7 (got true)",
    ),
    (
        _set(L0 + ("kernel",), 3.0),
        "blocks[0].layers[0].kernel: must be one of 1, 3, 5, 7 (got 3.0)",
    ),
    (_set(L0 + ("kernel",), "3"), "blocks[0].layers[0].kernel: must be one of"),
    (_set(L0 + ("stride",), 3), "blocks[0].layers[0].stride: must be one of 1, 2 (got 3)"),
    (_set(L0 + ("stride",), False), "blocks[0].layers[0].stride: must be one of 1, 2"),
    (
        _set(L0 + ("channels",), 0),
        "blocks[0].layers[0].channels: must be an integer in 1..128 (got 0)",
    ),
    (_set(L0 + ("channels",), 129), "blocks[0].layers[0].channels: must be an integer in 1..128"),
    (_set(L0 + ("channels",), True), "blocks[0].layers[0].channels: must be an integer in 1..128"),
    (_set(L0 + ("channels",), None), "blocks[0].layers[0].channels: must be an integer in 1..128"),
    (_set(L0 + ("channels",), 8.0), "blocks[0].layers[0].channels: must be an integer in 1..128"),
    (
        _set(("blocks", 0, "layers", 1, "channels"), 8),
        "blocks[0].layers[1].channels: must be null for a depthwise layer (got 8)",
    ),
    (
        _set(L0 + ("kind",), "pointwise"),
        'blocks[0].layers[0].kind: must be one of full, depthwise, 1x1 (got "pointwise")',
    ),
    (_set(L0 + ("pre_pool",), 1), "blocks[0].layers[0].pre_pool: must be true or false (got 1)"),
    (_set(L0 + ("batch_norm",), "yes"), "blocks[0].layers[0].batch_norm: must be true or false"),
    (_set(L0 + ("relu",), None), "blocks[0].layers[0].relu: must be true or false (got null)"),
    (_delete(L0 + ("relu",)), "blocks[0].layers[0].relu: missing field"),
    (_set(L0 + ("dilation",), 2), "blocks[0].layers[0].dilation: unknown field"),
    (_set(L0, [3, 3]), "blocks[0].layers[0]: must be an object"),
    (
        _set(("blocks", 0, "parallel"), True),
        "blocks[0].parallel: the first block cannot be parallel",
    ),
    (_set(("blocks", 2, "parallel"), 1), "blocks[2].parallel: must be true or false (got 1)"),
    (_delete(("blocks", 1, "parallel")), "blocks[1].parallel: missing field"),
    (_set(("blocks", 1), "block"), "blocks[1]: must be an object"),
    (_set(("blocks", 1, "layers"), []), "blocks[1].layers: must hold 1 to 3 layers (got 0)"),
    (_set(("blocks", 1, "layers"), {}), "blocks[1].layers: must be a list"),
    (
        lambda o: o["blocks"][0]["layers"].extend([o["blocks"][1]["layers"][0]] * 2),
        "blocks[0].layers: must hold 1 to 3 layers (got 4)",
    ),
    (_set(("blocks",), []), "blocks: must hold 1 to 10 blocks (got 0)"),
    (
        lambda o: o["blocks"].extend([copy.deepcopy(o["blocks"][1])] * 8),
        "blocks: must hold 1 to 10 blocks (got 11)",
    ),
    (_set(("blocks",), None), "blocks: must be a list"),
    (_set(("pooling",), []), "pooling: must be an object"),
    (_set(("pooling", "kind"), "min"), 'pooling.kind: must be one of avg, max (got "min")'),
    (_set(("pooling", "size"), 3), "pooling.size: must be one of 2, 4, 6 (got 3)"),
    (_set(("pooling", "size"), True), "pooling.size: must be one of 2, 4, 6 (got true)"),
    (_delete(("pooling", "size")), "pooling.size: missing field"),
    (_set(("dense",), []), "dense: must hold 1 to 3 dense layers (got 0)"),
    (
        lambda o: o["dense"].extend([{"units": 11}] * 2),
        "dense: must hold 1 to 3 dense layers (got 4)",
    ),
    (_set(("dense", 1, "units"), 9), "dense[1].units: must be an integer in 10..256 (got 9)"),
    (_set(("dense", 1, "units"), 257), "dense[1].units: must be an integer in 10..256 (got 257)"),
    (_set(("dense", 0, "units"), 10.5), "dense[0].units: must be an integer in 10..256"),
    (_set(("dense", 0, "units"), True), "dense[0].units: must be an integer in 10..256 (got true)"),
    (_set(("dense", 0, "bias"), True), "dense[0].bias: unknown field"),
    (_set(("dense", 0), 32), "dense[0]: must be an object"),
]


@pytest.mark.parametrize("edit, message", BAD_ARCHITECTURES)
def test_bad_architecture_json_names_the_field(edit, message):
    obj = _base()
    edit(obj)
    with pytest.raises(ArchitectureError) as info:
        architecture_from_json(obj)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("obj", [None, [], "x", 3])
def test_non_object_architecture(obj):
    with pytest.raises(ArchitectureError, match=r"^architecture: must be an object"):
        architecture_from_json(obj)


def _candidate() -> dict:
    return {"schema_version": 1, "architecture": _base(), "sparsity": 0.25}


BAD_CANDIDATES = [
    (_set(("sparsity",), 1.0), "sparsity: must be a number in [0, 1) (got 1.0)"),
    (_set(("sparsity",), -0.1), "sparsity: must be a number in [0, 1) (got -0.1)"),
    (_set(("sparsity",), True), "sparsity: must be a number in [0, 1) (got true)"),
    (_set(("sparsity",), "0.5"), "sparsity: must be a number in [0, 1)"),
    (_set(("sparsity",), math.nan), "sparsity: must be a number in [0, 1)"),
    (_delete(("sparsity",)), "sparsity: missing field"),
    (_delete(("architecture",)), "architecture: missing field"),
    (_set(("schema_version",), 0), "schema_version: unsupported schema version 0"),
    (_set(("architecture",), 7), "architecture: must be an object"),
    (_set(("architecture", "schema_version"), 9), "architecture.schema_version: unsupported"),
    (
        _set(("architecture", "blocks", 1, "layers", 0, "kernel"), 9),
        "architecture.blocks[1].layers[0].kernel: must be one of",
    ),
    (_set(("architecture", "dense", 0, "units"), 0), "architecture.dense[0].units: must be"),
    (_set(("extra",), 0), "extra: unknown field"),
]


@pytest.mark.parametrize("edit, message", BAD_CANDIDATES)
def test_bad_candidate_json_names_the_field(edit, message):
    obj = _candidate()
    edit(obj)
    with pytest.raises(ArchitectureError) as info:
        candidate_from_json(obj)
    assert str(info.value).startswith(message)


def test_candidate_accepts_integer_zero_sparsity_as_float():
    obj = _candidate()
    obj["sparsity"] = 0
    candidate = candidate_from_json(obj)
    assert candidate.sparsity == 0.0 and isinstance(candidate.sparsity, float)
    with pytest.raises(ArchitectureError, match=r"^candidate: must be an object"):
        candidate_from_json([])


def test_json_keeps_non_canonical_fields_and_search_space_reports_them():
    obj = _base()
    # Block 2 is parallel to block 1 (8 channels): its last layer is forced to 8.
    obj["blocks"][2]["layers"][0]["channels"] = 5
    obj["blocks"][1]["layers"][0].update(kind="1x1", kernel=3, stride=2)
    arch = architecture_from_json(obj)
    assert arch.blocks[2].layers[0].channels == 5  # lossless: stored as given
    assert architecture_to_json(arch) == obj
    space = SearchSpace((28, 28, 1), 10)
    assert space.from_json(obj) == arch
    assert space.non_canonical_fields(arch) == (
        "blocks[1].layers[0].kernel: canonical value is 1 (got 3)",
        "blocks[1].layers[0].stride: canonical value is 1 (got 2)",
        "blocks[2].layers[0].channels: canonical value is 8 (got 5)",
    )
    with pytest.raises(
        ArchitectureError, match=r"^blocks\[1\]\.layers\[0\]\.kernel: not canonical"
    ):
        space.from_json(obj, require_canonical=True)
    canonical = space.normalise(arch)
    assert space.from_json(architecture_to_json(canonical), require_canonical=True) == canonical


def test_search_space_from_json_checks_the_channel_rule():
    obj = _base()
    # A depthwise last layer in a parallel block keeps its input's 1 channel; the stage has 8.
    # Block 1 outputs 16 channels; block 2 (parallel) reads block 0's 8 channels.
    obj["blocks"][1]["layers"][0]["channels"] = 16
    obj["blocks"][2]["layers"][0].update(kind="depthwise", channels=None)
    architecture_from_json(obj)  # schema and ranges are fine
    with pytest.raises(ArchitectureError) as info:
        SearchSpace((28, 28, 1), 10).from_json(obj)
    assert str(info.value) == (
        "blocks[2].layers[0].kind: a depthwise last layer keeps its 8 input channels, "
        "but block 2 is added to a stage of 16 channels"
    )
    # With 16 channels in block 0 as well, the same depthwise layer is fine.
    obj["blocks"][0]["layers"][0]["channels"] = 16
    SearchSpace((28, 28, 1), 10).from_json(obj, require_canonical=True)
