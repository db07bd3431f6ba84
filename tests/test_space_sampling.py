"""The sampler reaches every option of every range (inclusive), validly and canonically."""

from __future__ import annotations

import random
from collections import defaultdict

from search_engine.space import SearchSpace, architecture_to_json


def _collect(space: SearchSpace, count: int, seed: int) -> dict[str, set]:
    seen: dict[str, set] = defaultdict(set)
    rng = random.Random(seed)
    for _ in range(count):
        arch = space.sample(rng)
        space.validate(arch)
        assert space.is_canonical(arch)
        seen["N"].add(len(arch.blocks))
        seen["F"].add(len(arch.dense))
        seen["pooling"].add(None if arch.pooling is None else "some")
        if arch.pooling is not None:
            seen["pool_kind"].add(arch.pooling.kind)
            seen["P"].add(arch.pooling.size)
        seen["U"].update(layer.units for layer in arch.dense)
        for i, block in enumerate(arch.blocks):
            seen["M"].add(len(block.layers))
            if i:
                seen["parallel"].add(block.parallel)
            for layer in block.layers:
                seen["kind"].add(layer.kind)
                seen[f"K_{layer.kind}"].add(layer.kernel)
                seen[f"S_{layer.kind}"].add(layer.stride)
                if layer.kind != "depthwise":
                    seen["C"].add(layer.channels)
                seen["pre_pool"].add(layer.pre_pool)
                seen["batch_norm"].add(layer.batch_norm)
                seen["relu"].add(layer.relu)
    return seen


def test_sampler_reaches_every_value_of_every_range():
    seen = _collect(SearchSpace((28, 28, 1), 10), 3000, seed=7)
    assert seen["N"] == set(range(1, 11))
    assert seen["M"] == {1, 2, 3}
    assert seen["F"] == {1, 2, 3}
    assert seen["U"] == set(range(10, 257))
    assert seen["C"] == set(range(1, 129))
    assert seen["kind"] == {"full", "depthwise", "1x1"}
    assert seen["K_full"] == {1, 3, 5, 7}  # K=1 only with S=2 (K=1, S=1 is written 1x1)
    assert seen["K_depthwise"] == {1, 3, 5, 7}
    assert seen["K_1x1"] == {1}
    assert seen["S_full"] == seen["S_depthwise"] == {1, 2}
    assert seen["S_1x1"] == {1}
    assert seen["pooling"] == {None, "some"}
    assert seen["pool_kind"] == {"avg", "max"}
    assert seen["P"] == {2, 4, 6}
    for flag in ("parallel", "pre_pool", "batch_norm", "relu"):
        assert seen[flag] == {False, True}, flag


def test_sampler_is_roughly_uniform_over_block_count():
    rng = random.Random(3)
    space = SearchSpace((8, 8, 1), 2)
    counts = [0] * 11
    for _ in range(2000):
        counts[len(space.sample(rng).blocks)] += 1
    assert counts[0] == 0
    # 200 expected per value; a sampler that never reaches 10 (or favours it) fails.
    assert all(140 < c < 260 for c in counts[1:]), counts


def test_same_seed_same_architecture_and_seeds_differ():
    space = SearchSpace((32, 32, 3), 10)
    first = [architecture_to_json(space.sample(random.Random(s))) for s in range(20)]
    again = [architecture_to_json(space.sample(random.Random(s))) for s in range(20)]
    assert first == again
    assert len({str(a) for a in first}) == 20
