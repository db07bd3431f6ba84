"""Graphs of the real search space: the fast path agrees with the general DP (itself checked
against brute force in ``test_memory_optimal``), orders are valid, the optimum never loses
to the listed order, and the worst-case shapes (many parallel blocks) are analysed exactly."""

from __future__ import annotations

import random

from search_engine.graph.builder import build_op_graph
from search_engine.resources import default_profile, evaluate_order, optimal_order
from search_engine.resources.order_dp import dp_order
from search_engine.resources.order_units import units_order
from search_engine.resources.random_graphs import parallel_architecture
from search_engine.resources.schedule_problem import compile_graph, split_stages
from search_engine.space import SearchSpace
from search_engine.space.validation import stages

SHAPES = ((28, 28, 1), (32, 32, 3))


def test_sampled_architectures_match_the_general_dp():
    rng = random.Random(42)
    checked = improved = 0
    for _ in range(120):
        shape = rng.choice(SHAPES)
        arch = SearchSpace(shape, 10).sample(rng)
        graph = build_op_graph(arch, shape, 10)
        best = optimal_order(graph)
        default = default_profile(graph)
        assert evaluate_order(graph, best.order) == best
        assert best.peak_bytes <= default.peak_bytes
        improved += best.peak_bytes < default.peak_bytes
        if max(len(s) for s in stages(arch)) <= 4:
            assert dp_order(compile_graph(graph))[0] == best.peak_bytes
            checked += 1
    assert checked > 80 and improved > 0


def test_wide_stages_match_the_general_dp():
    rng = random.Random(9)
    for k in (2, 3, 4, 5):
        for _ in range(4):
            shape = rng.choice(SHAPES)
            graph = build_op_graph(parallel_architecture(rng, [k], shape, rng.choice((1, .5)), 32),
                                   shape, 10)
            assert dp_order(compile_graph(graph))[0] == optimal_order(graph).peak_bytes


def test_ten_parallel_blocks():
    rng = random.Random(10)
    for _ in range(6):
        shape = rng.choice(SHAPES)
        graph = build_op_graph(parallel_architecture(rng, [10], shape, dense_units=32), shape, 10)
        problem = compile_graph(graph)
        sizes = [len(s) for s in split_stages(problem)]
        assert max(sizes) >= 50  # one stage holds the ten branches and their adds
        best = optimal_order(graph)
        assert evaluate_order(graph, best.order).peak_bytes == best.peak_bytes
        # the same search without the stage split (a different state space) agrees
        assert units_order(problem)[0] == best.peak_bytes
        assert best.peak_bytes <= default_profile(graph).peak_bytes
