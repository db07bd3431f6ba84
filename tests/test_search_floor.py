"""The limit floor: no architecture of the space is estimated below it by the pre-check."""

from __future__ import annotations

import random

import pytest

from search_engine.search.floor import smallest_fit
from search_engine.search.overhead import estimate_overhead
from search_engine.search.setup import JsonSpace, analyse


@pytest.mark.parametrize("shape, classes", [((8, 8, 1), 10), ((28, 28, 1), 10),
                                            ((32, 32, 3), 10)])
def test_no_sampled_architecture_is_estimated_below_the_floor(shape, classes):
    floor = smallest_fit(shape, classes, 0.8)
    assert floor.sram_bytes == floor.peak_memory_bytes + floor.sram_overhead_bytes
    assert floor.flash_bytes == floor.model_size_bytes + floor.flash_overhead_bytes
    assert floor.peak_memory_bytes >= shape[0] * shape[1] * shape[2]  # the input counts
    space = JsonSpace(shape, classes)
    rng = random.Random(0)
    for _ in range(60):
        arch, sparsity = space.sample(rng), rng.uniform(0.0, 0.8)
        figures, graph = analyse(arch, sparsity, shape, classes)
        overhead = estimate_overhead(graph, figures["peak_memory_bytes"])
        assert figures["peak_memory_bytes"] + overhead.sram_bytes >= floor.sram_bytes
        assert figures["model_size_bytes"] + overhead.flash_bytes >= floor.flash_bytes


def test_the_floor_grows_with_the_input():
    assert smallest_fit((32, 32, 3), 10).sram_bytes > smallest_fit((8, 8, 1), 10).sram_bytes
