"""``resources.pruned``: the one analysis of a pruned network, against its parts computed one
by one and the optimal peak against brute force over every operator order."""

from __future__ import annotations

import random

import pytest

from search_engine.graph.builder import op_graph_from_specs
from search_engine.graph.pruned import pruned_specs
from search_engine.resources import evaluate_order, summarise_specs
from search_engine.resources.brute_force import brute_force_order
from search_engine.resources.pruned import analyse_pruned, analyse_walk
from search_engine.space import SearchSpace
from search_engine.space.pruned import pruned_architecture


def test_analysis_equals_its_parts_and_the_brute_force_optimum():
    rng = random.Random(5)
    checked = 0
    for _ in range(40):
        shape = rng.choice(((8, 8, 1), (28, 28, 1), (16, 16, 3)))
        arch = SearchSpace(shape, 10).sample(rng)
        sparsity = rng.uniform(0.0, 0.9)
        figures = analyse_pruned(arch, sparsity, shape, 10)
        specs = pruned_specs(arch, sparsity, shape, 10)
        assert figures.specs == specs
        assert figures.architecture == pruned_architecture(arch, sparsity, shape)
        assert figures.summary == summarise_specs(specs)
        assert figures.graph == op_graph_from_specs(specs, shape)
        assert evaluate_order(figures.graph, figures.best.order) == figures.best
        assert analyse_walk(figures.architecture, shape, 10) == figures
        if len(figures.graph.ops) <= 14:
            peak, _, _ = brute_force_order(figures.graph)
            assert figures.peak_memory_bytes == peak
            checked += 1
    assert checked >= 5


def test_bad_sparsity_is_refused():
    arch = SearchSpace((8, 8, 1), 10).sample(random.Random(0))
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError):
            analyse_pruned(arch, bad, (8, 8, 1), 10)
