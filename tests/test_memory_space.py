"""Graphs of the real search space: the fast path agrees with the general DP (itself checked
against brute force in ``test_memory_optimal``), orders are valid, the optimum never loses
to the listed order, and the worst-case shapes (many parallel blocks) are analysed exactly."""

from __future__ import annotations

import random

from search_engine.graph.builder import build_op_graph
from search_engine.resources import default_profile, evaluate_order, optimal_order
from search_engine.resources.order_dp import dp_order
from search_engine.resources.order_units import units_order
from search_engine.resources.schedule_problem import compile_graph, split_stages
from search_engine.space import SearchSpace
from search_engine.space.architecture import (
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.validation import stages

SHAPES = ((28, 28, 1), (32, 32, 3))


def parallel_architecture(rng: random.Random, k: int, shape, pre_pool: float = 1.0):
    """``k`` parallel blocks of 3 layers (a pre-pool before each conv with probability
    ``pre_pool``): the widest stage the search space allows."""
    blocks = []
    for b in range(k):
        layers = []
        for j in range(3):
            kinds = ("full", "depthwise", "1x1") if b == 0 or j < 2 else ("full", "1x1")
            kind = rng.choice(kinds)
            layers.append(ConvLayer(
                kind=kind, kernel=1 if kind == "1x1" else rng.choice((3, 5, 7)),
                channels=None if kind == "depthwise" else rng.randint(1, 128),
                stride=1 if kind == "1x1" else rng.choice((1, 2)),
                pre_pool=rng.random() < pre_pool, batch_norm=True, relu=True))
        blocks.append(ConvBlock(layers=tuple(layers), parallel=b > 0))
    arch = Architecture(blocks=tuple(blocks), pooling=Pooling("avg", 2),
                        dense=(DenseLayer(32),))
    return SearchSpace(shape, 10).normalise(arch)


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
            graph = build_op_graph(parallel_architecture(rng, k, shape, rng.choice((1, .5))),
                                   shape, 10)
            assert dp_order(compile_graph(graph))[0] == optimal_order(graph).peak_bytes


def test_ten_parallel_blocks():
    rng = random.Random(10)
    for _ in range(6):
        shape = rng.choice(SHAPES)
        graph = build_op_graph(parallel_architecture(rng, 10, shape), shape, 10)
        problem = compile_graph(graph)
        sizes = [len(s) for s in split_stages(problem)]
        assert max(sizes) >= 50  # one stage holds the ten branches and their adds
        best = optimal_order(graph)
        assert evaluate_order(graph, best.order).peak_bytes == best.peak_bytes
        # the same search without the stage split (a different state space) agrees
        assert units_order(problem)[0] == best.peak_bytes
        assert best.peak_bytes <= default_profile(graph).peak_bytes
