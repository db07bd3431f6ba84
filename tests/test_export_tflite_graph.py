"""``.tflite`` -> OpGraph, operator reordering, and the branched-model order demonstration."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest

from search_engine.export.convert import convert_to_int8_tflite
from search_engine.export.demo_models import branched_model, chain_model, digits_data
from search_engine.export.overhead import estimate_tflm_arena, estimate_tflm_overhead
from search_engine.export.planner import greedy_plan_bytes
from search_engine.export.tflite_graph import (
    TfliteGraphError,
    load_tflite_op_graph,
    op_graph_from_tflite_bytes,
    reorder_operators,
)
from search_engine.export.tflm import TflmRunner, evaluate_int8, measure_arena

pytestmark = pytest.mark.slow


def reference_peak(graph, order):
    """Working-set peak by the project's semantics, written independently of the analyser."""
    ops = {op.name: op for op in graph.ops}
    last = {}
    for i, name in enumerate(order):
        for t in ops[name].inputs:
            last[t] = i
    live = {t: graph.tensors[t] for t in graph.inputs}
    peak = sum(live.values())
    for i, name in enumerate(order):
        op = ops[name]
        live[op.output] = graph.tensors[op.output]
        peak = max(peak, sum(live.values()))
        for t in {*op.inputs, op.output}:
            if last.get(t, i) == i and t not in graph.outputs:
                live.pop(t, None)
    return peak


def all_orders(graph):
    producer = {op.output: op.name for op in graph.ops}
    deps = {op.name: {producer[t] for t in op.inputs if t in producer} for op in graph.ops}
    names = [op.name for op in graph.ops]

    def rec(done, cur):
        if len(cur) == len(names):
            yield list(cur)
            return
        for n in names:
            if n not in done and deps[n] <= done:
                done.add(n)
                cur.append(n)
                yield from rec(done, cur)
                done.remove(n)
                cur.pop()

    yield from rec(set(), [])


@pytest.fixture(scope="module")
def data():
    return digits_data()


@pytest.fixture(scope="module")
def branched(data):
    x_train = data[0]
    model = branched_model()
    return model, convert_to_int8_tflite(model, x_train, num_samples=50)


@pytest.fixture(scope="module")
def chain(data):
    model = chain_model(depth=3, width=12)
    return model, convert_to_int8_tflite(model, data[0], num_samples=50)


def _tf_interpreter_details(tflite):
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=tflite)
    return interp.get_tensor_details(), interp._get_ops_details()


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")
@pytest.mark.parametrize("which", ["chain", "branched"])
def test_op_graph_matches_the_tflite_interpreter(which, request, tmp_path):
    model, tflite = request.getfixturevalue(which)
    graph = op_graph_from_tflite_bytes(tflite)
    tensors, ops = _tf_interpreter_details(tflite)
    assert [op.kind for op in graph.ops] == [o["op_name"] for o in ops]
    by_index = {t["index"]: t for t in tensors}
    for op, ref in zip(graph.ops, ops, strict=True):
        out = by_index[int(ref["outputs"][0])]
        assert op.output == out["name"]
        assert graph.tensors[op.output] == math.prod(out["shape"]) * np.dtype(out["dtype"]).itemsize
        assert op.attrs["output_shape"] == tuple(out["shape"])
    # constants (weights, biases, shapes) are not in the arena; every activation is
    activations = {by_index[int(i)]["name"] for o in ops for i in o["outputs"]}
    activations.add(by_index[int(ops[0]["inputs"][0])]["name"])
    assert set(graph.tensors) == activations
    # Keras reference: the model input and the logits
    assert graph.tensors[graph.inputs[0]] == math.prod(model.input_shape[1:])
    assert graph.tensors[graph.outputs[0]] == model.output_shape[-1]
    # the same from a file
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite)
    assert load_tflite_op_graph(path) == graph
    assert load_tflite_op_graph(str(path)) == graph


def test_op_counts_and_macs_of_a_chain(chain):
    model, tflite = chain
    graph = op_graph_from_tflite_bytes(tflite)
    kinds = [op.kind for op in graph.ops]
    assert kinds == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MAX_POOL_2D", "RESHAPE",
                     "FULLY_CONNECTED"]
    conv = graph.ops[0]
    assert conv.macs == 8 * 8 * 12 * 3 * 3 * 1
    assert graph.ops[1].macs == 8 * 8 * 12 * 3 * 3
    assert graph.ops[-1].macs == 10 * (4 * 4 * 16)
    assert len({op.name for op in graph.ops}) == len(graph.ops)


def test_reorder_round_trip_keeps_outputs_identical(branched, data):
    _, tflite = branched
    graph = op_graph_from_tflite_bytes(tflite)
    default = [op.name for op in graph.ops]
    order = min(all_orders(graph), key=lambda o: reference_peak(graph, o))
    assert order != default
    reordered = reorder_operators(tflite, order)
    assert len(reordered) == len(tflite)
    assert [op.name for op in op_graph_from_tflite_bytes(reordered).ops] == order
    assert reorder_operators(reordered, default) == tflite
    x, y = data[2][:40], data[3][:40]
    a = evaluate_int8(tflite, x, y, arena_size=10**5)
    b = evaluate_int8(reordered, x, y, arena_size=10**5)
    assert np.array_equal(a.outputs, b.outputs)


def test_invalid_orders_are_rejected(branched):
    _, tflite = branched
    names = [op.name for op in op_graph_from_tflite_bytes(tflite).ops]
    with pytest.raises(TfliteGraphError, match="not a valid execution order"):
        reorder_operators(tflite, names[::-1])
    with pytest.raises(TfliteGraphError, match="misses"):
        reorder_operators(tflite, names[:-1])
    with pytest.raises(TfliteGraphError, match="twice"):
        reorder_operators(tflite, names + names[:1])
    with pytest.raises(TfliteGraphError, match="unknown"):
        reorder_operators(tflite, names[:-1] + ["CONV_2D:nope"])


def test_non_tflite_bytes_are_rejected():
    with pytest.raises(TfliteGraphError, match="TFL3"):
        op_graph_from_tflite_bytes(b"\x00" * 64)
    with pytest.raises(TfliteGraphError, match="TFL3"):
        op_graph_from_tflite_bytes(b"")


def test_branched_optimal_order_needs_a_smaller_measured_arena(branched):
    """The demonstration of issue 3: the predicted peak of each order tracks TFLM's arena."""
    _, tflite = branched
    graph = op_graph_from_tflite_bytes(tflite)
    default = [op.name for op in graph.ops]
    optimal = min(all_orders(graph), key=lambda o: reference_peak(graph, o))
    figures = {}
    for label, order in (("default", default), ("optimal", optimal)):
        m = measure_arena(reorder_operators(tflite, order))
        peak = reference_peak(graph, order)
        figures[label] = (peak, m.arena_bytes, m.head_bytes, m.tail_bytes)
        assert m.head_bytes == greedy_plan_bytes(graph, order)
        assert m.arena_bytes <= estimate_tflm_arena(graph, order)
        assert m.arena_bytes - peak <= estimate_tflm_overhead(graph, activation_peak=peak)
    (p_def, a_def, *_), (p_opt, a_opt, *_) = figures["default"], figures["optimal"]
    print(f"branched model: {figures}")
    assert p_opt < p_def
    assert a_opt < a_def
    assert a_def - a_opt == p_def - p_opt  # same tail; the head is the predicted peak here


def test_greedy_planner_model_matches_tflm_on_random_orders(branched):
    _, tflite = branched
    graph = op_graph_from_tflite_bytes(tflite)
    orders = list(itertools.islice(all_orders(graph), 0, None, 97))
    random.Random(0).shuffle(orders)
    fragmented = 0
    for order in orders[:12]:
        with TflmRunner(reorder_operators(tflite, order)) as runner:
            head = runner.probe(10**5, record=True).head
        assert head == greedy_plan_bytes(graph, order)
        assert head >= reference_peak(graph, order)
        fragmented += head > reference_peak(graph, order)
    print(f"{fragmented} of 12 random orders need more than their peak in TFLM's greedy plan")


def test_optimise_operator_order_uses_the_analyser(branched):
    resources = pytest.importorskip("search_engine.resources")
    if not hasattr(resources, "optimal_order"):
        pytest.skip("search_engine.resources.optimal_order not available yet")
    from search_engine.export.tflite_graph import optimise_operator_order

    _, tflite = branched
    graph = op_graph_from_tflite_bytes(tflite)
    new, best, default = optimise_operator_order(tflite)
    brute = min(reference_peak(graph, o) for o in all_orders(graph))
    assert best.peak_bytes == brute
    assert default.peak_bytes == reference_peak(graph, [op.name for op in graph.ops])
    assert [op.name for op in op_graph_from_tflite_bytes(new).ops] == list(best.order)
    assert measure_arena(new).arena_bytes < measure_arena(tflite).arena_bytes
