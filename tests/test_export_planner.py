"""The TFLM greedy-planner model and the overhead estimate (no TensorFlow needed).

The planner model is checked against TFLM itself in ``test_export_tflite_graph.py``; here its
layouts are checked for validity and against the working-set lower bound on random graphs.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from search_engine.export.overhead import (
    TflmCounts,
    estimate_tflm_arena,
    estimate_tflm_init,
    estimate_tflm_overhead,
    estimate_tflm_tail,
    tflm_counts,
)
from search_engine.export.planner import greedy_plan, greedy_plan_bytes
from search_engine.graph.opgraph import Op, OpGraph


@st.composite
def random_graphs(draw):
    n = draw(st.integers(1, 9))
    tensors = {"in": draw(st.integers(1, 300))}
    ops = []
    for i in range(n):
        avail = ["in"] + [f"t{j}" for j in range(i)]
        k = draw(st.integers(1, min(2, len(avail))))
        ins = tuple(draw(st.lists(st.sampled_from(avail), min_size=k, max_size=k, unique=True)))
        tensors[f"t{i}"] = draw(st.integers(0, 300))
        ops.append(Op(f"op{i}", ins, f"t{i}"))
    return OpGraph(tensors=tensors, inputs=("in",), outputs=(f"t{n - 1}",), ops=tuple(ops))


def working_set_peak(graph, align=16):
    last = {}
    for i, op in enumerate(graph.ops):
        for t in op.inputs:
            last[t] = i
    size = {t: -(-b // align) * align for t, b in graph.tensors.items()}
    live = {t: size[t] for t in graph.inputs}
    peak = sum(live.values())
    for i, op in enumerate(graph.ops):
        live[op.output] = size[op.output]
        peak = max(peak, sum(live.values()))
        for t in {*op.inputs, op.output}:
            if last.get(t, i) == i and t not in graph.outputs:
                live.pop(t, None)
    return peak


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_greedy_layout_is_valid_and_at_least_the_working_set(graph):
    plan = greedy_plan(graph)
    for a in plan:
        assert a.offset % 16 == 0 and a.size % 16 == 0
        for b in plan:
            if a is b or a.first > b.last or b.first > a.last:
                continue
            assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset
    assert greedy_plan_bytes(graph) >= working_set_peak(graph)
    placed = {b.tensor for b in plan}
    assert placed == {t for t, s in graph.tensors.items() if s > 0 and (
        t in graph.inputs or any(op.output == t for op in graph.ops))}


def test_a_chain_needs_exactly_its_largest_neighbouring_pair():
    ops = (Op("a", ("in",), "x"), Op("b", ("x",), "y"), Op("c", ("y",), "out"))
    g = OpGraph({"in": 100, "x": 300, "y": 50, "out": 10}, ("in",), ("out",), ops)
    assert greedy_plan_bytes(g) == 112 + 304


def test_greedy_planner_can_exceed_the_working_set():
    # op1 reads the model input again. Largest first: t2 at 0; t0 at 0 (not alive with t2);
    # t1 at 80 (above t2); the input (alive with t0 and t1) fits neither in the 16-byte gap
    # 64..80 nor below, so it goes to 128: 160 bytes for a working set of 144.
    ops = (Op("op0", ("in",), "t0"), Op("op1", ("t0", "in"), "t1"), Op("op2", ("t1",), "t2"))
    g = OpGraph({"in": 32, "t0": 64, "t1": 48, "t2": 80}, ("in",), ("t2",), ops)
    assert working_set_peak(g) == 144
    assert greedy_plan_bytes(g) == 160
    assert {b.tensor: b.offset for b in greedy_plan(g)} == {"t2": 0, "t0": 0, "t1": 80,
                                                            "in": 128}


def _arch_like_graph():
    ops = (
        Op("c0", ("input",), "c0", kind="conv2d", attrs={"output_shape": (8, 8, 16)}),
        Op("d0", ("c0",), "d0", kind="depthwise_conv2d", attrs={"output_shape": (8, 8, 16)}),
        Op("p0", ("d0",), "p0", kind="max_pool", attrs={"output_shape": (4, 4, 16)}),
        Op("f", ("p0",), "f", kind="reshape", attrs={"output_shape": (256,)}),
        Op("fc", ("f",), "fc", kind="dense", attrs={"output_shape": (10,)}),
    )
    tensors = {"input": 64, "c0": 1024, "d0": 1024, "p0": 256, "f": 256, "fc": 10}
    return OpGraph(tensors, ("input",), ("fc",), ops)


def test_counts_from_an_architecture_graph_and_from_tflite_kinds():
    g = _arch_like_graph()
    c = tflm_counts(g)
    assert c == TflmCounts(conv_ops=2, dense_ops=1, other_ops=2, channels=42,
                           activation_tensors=6, constant_tensors=7)
    renamed = {"conv2d": "CONV_2D", "depthwise_conv2d": "DEPTHWISE_CONV_2D",
               "max_pool": "MAX_POOL_2D", "reshape": "RESHAPE", "dense": "FULLY_CONNECTED"}
    t = OpGraph(g.tensors, g.inputs, g.outputs, tuple(
        Op(o.name, o.inputs, o.output, kind=renamed[o.kind], attrs=o.attrs) for o in g.ops))
    assert tflm_counts(t) == c


def test_overhead_formula_and_its_uses():
    g = _arch_like_graph()
    c = tflm_counts(g)
    tail = estimate_tflm_tail(c)
    assert tail == 900 + 260 * 2 + 225 + 160 * 2 + 8 * 42
    init = estimate_tflm_init(c)
    assert init == 32 * 13 + 40 * 6 + 512
    assert estimate_tflm_overhead(g) == tail + 16 * 6 + init
    assert estimate_tflm_overhead(g, activation_peak=10**6) == tail + 16 * 6
    assert estimate_tflm_overhead(g, activation_peak=100) == tail + 16 * 6 + init - 100
    # more ops, channels or tensors never lower the estimate
    bigger = TflmCounts(3, 1, 2, 50, 7, 9)
    assert estimate_tflm_overhead(bigger) > estimate_tflm_overhead(c)
    arena = estimate_tflm_arena(g)
    assert arena % 16 == 0
    assert arena >= tail + greedy_plan_bytes(g)
