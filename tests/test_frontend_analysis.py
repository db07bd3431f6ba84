"""The candidate page's analysis (``frontend.analysis``): per-op figures against formulas from
the shapes, timelines against an independent simulation of TFLM's execution model, the optimal
peak against brute force over every execution order, and clear errors for bad input."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from frontend.analysis import RESOLVER_METHODS, AnalysisError, candidate_analysis
from search_engine.search.setup import analyse
from search_engine.space import SearchSpace, architecture_to_json

SHAPE = (8, 8, 1)


def random_arch(seed: int, shape=SHAPE, classes: int = 10) -> dict:
    return architecture_to_json(SearchSpace(shape, classes).sample(random.Random(seed)))


def simulate(ops: list[dict], order: list[str], input_bytes: int) -> list[int]:
    """Working set per step: the op's output is allocated when it starts, a tensor is freed
    after its last reader, the graph output is never freed, the input counts."""
    size = {"input": input_bytes, **{op["name"]: op["output_bytes"] for op in ops}}
    readers: dict[str, set[str]] = {}
    for op in ops:
        for name in op["inputs"]:
            readers.setdefault(name, set()).add(op["name"])
    output = ops[-1]["name"]  # the classifier
    alive = {"input"}
    done: set[str] = set()
    totals = []
    for name in order:
        alive.add(name)
        totals.append(sum(size[t] for t in alive))
        done.add(name)
        alive = {t for t in alive if t == output or not readers.get(t, set()) <= done}
    return totals


def topological_orders(ops: list[dict]):
    """Every valid execution order (depth-first over the ops whose inputs are ready)."""
    inputs = {op["name"]: set(op["inputs"]) - {"input"} for op in ops}

    def extend(order: list[str], done: set[str]):
        if len(order) == len(ops):
            yield list(order)
            return
        for name in inputs:
            if name not in done and inputs[name] <= done:
                order.append(name)
                done.add(name)
                yield from extend(order, done)
                order.pop()
                done.discard(name)

    yield from extend([], set())


@pytest.mark.parametrize("seed", range(12))
def test_op_figures_follow_from_the_shapes(seed):
    arch = random_arch(seed)
    result = candidate_analysis(arch, 0.3, list(SHAPE), 10)
    shapes = {"input": list(SHAPE), **{op["name"]: op["output_shape"] for op in result["ops"]}}
    for op in result["ops"]:
        assert op["output_bytes"] == math.prod(op["output_shape"])  # int8
        c_in = shapes[op["inputs"][0]][-1]
        if op["kind"] == "conv2d":
            k = op["kernel"][0] * op["kernel"][1]
            h, w, c_out = op["output_shape"]
            assert op["macs"] == h * w * k * c_in * c_out
            assert op["params"] == k * c_in * c_out + c_out
        elif op["kind"] == "depthwise_conv2d":
            h, w, c = op["output_shape"]
            assert c == c_in and op["macs"] == h * w * op["kernel"][0] * op["kernel"][1] * c
        elif op["kind"] == "dense":
            n_in = math.prod(shapes[op["inputs"][0]])
            assert op["macs"] == n_in * op["output_shape"][0]
            assert op["weight_bytes"] == n_in * op["output_shape"][0] + 4 * op["output_shape"][0]
        else:
            assert op["macs"] == op["params"] == 0
    totals = result["totals"]
    assert totals["ops"] == len(result["ops"])
    assert totals["params"] == sum(op["params"] for op in result["ops"])
    assert totals["model_size_bytes"] == sum(op["weight_bytes"] for op in result["ops"])
    assert totals["macs"] == sum(op["macs"] for op in result["ops"])
    assert result["ops"][-1]["output_shape"] == [10]
    assert set(result["resolver"]) == {RESOLVER_METHODS[op["kind"]] for op in result["ops"]}


@pytest.mark.parametrize("seed", range(12))
def test_timelines_match_a_simulation_and_the_search_figures(seed):
    arch = random_arch(seed)
    result = candidate_analysis(arch, 0.5, SHAPE, 10)
    for which in ("optimal", "default"):
        profile = result[which]
        steps = profile["timeline"]
        assert [s["op"] for s in steps] == profile["order"]
        assert sorted(profile["order"]) == sorted(op["name"] for op in result["ops"])
        assert [s["total"] for s in steps] == simulate(result["ops"], profile["order"],
                                                       result["input_bytes"])
        assert all(sum(s["tensors"].values()) == s["total"] for s in steps)
        assert profile["peak_bytes"] == max(s["total"] for s in steps)
        assert steps[profile["peak_step"]]["total"] == profile["peak_bytes"]
        assert all(s["total"] < profile["peak_bytes"] for s in steps[:profile["peak_step"]])
        assert profile["paper_peak_bytes"] <= profile["peak_bytes"]
    assert result["default"]["order"] == [op["name"] for op in result["ops"]]
    assert result["optimal"]["peak_bytes"] <= result["default"]["peak_bytes"]
    figures, _ = analyse(arch, 0.5, SHAPE, 10)  # what the search and its pre-check report
    assert result["optimal"]["peak_bytes"] == figures["peak_memory_bytes"]
    assert result["totals"]["macs"] == figures["macs"]
    assert result["totals"]["model_size_bytes"] == figures["model_size_bytes"]


def test_the_optimal_order_is_optimal_by_brute_force():
    checked = reordered = 0
    for seed in range(300):
        arch = random_arch(seed, (6, 6, 2), 3)
        if not any(block["parallel"] for block in arch["blocks"]):
            continue  # a chain has one order only
        result = candidate_analysis(arch, 0.0, (6, 6, 2), 3)
        orders = list(itertools.islice(topological_orders(result["ops"]), 20_001))
        if len(orders) > 20_000:
            continue
        best = min(max(simulate(result["ops"], order, result["input_bytes"]))
                   for order in orders)
        assert result["optimal"]["peak_bytes"] == best, arch
        checked += 1
        reordered += result["optimal"]["peak_bytes"] < result["default"]["peak_bytes"]
        if checked == 12:
            break
    assert checked == 12 and reordered >= 1  # branched graphs, some where the order matters


def test_pruning_shrinks_the_analysed_network():
    arch = random_arch(5)
    full = candidate_analysis(arch, 0.0, SHAPE, 10)
    pruned = candidate_analysis(arch, 0.8, SHAPE, 10)
    assert pruned["totals"]["params"] < full["totals"]["params"]
    assert pruned["pruned_architecture"] != full["pruned_architecture"]
    assert full["pruned_architecture"]["blocks"] == arch["blocks"]


@pytest.mark.parametrize(("arch", "sparsity", "shape", "message"), [
    ({"schema_version": 1, "blocks": []}, 0.1, SHAPE, "cannot analyse this architecture"),
    ({"schema_version": 2}, 0.1, SHAPE, "cannot analyse this architecture"),
    ("not json", 0.1, SHAPE, "cannot analyse this architecture"),
    (None, 1.5, SHAPE, "sparsity"),
    (None, 0.1, (8, 8), "input shape must be three positive integers"),
    (None, 0.1, (8, 0, 1), "input shape must be three positive integers"),
])
def test_bad_input_is_a_one_line_error(arch, sparsity, shape, message):
    with pytest.raises(AnalysisError, match=message) as info:
        candidate_analysis(random_arch(1) if arch is None else arch, sparsity, shape, 10)
    assert "\n" not in str(info.value)
