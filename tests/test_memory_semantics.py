"""Memory timelines of given orders: hand-computed cases, an independent simulator, bad orders."""

from __future__ import annotations

import random

import pytest

from search_engine.graph.opgraph import Op, OpGraph, OpGraphError
from search_engine.resources import OrderError, default_profile, evaluate_order
from search_engine.resources.random_graphs import random_dag


def graph(tensors, inputs, outputs, ops):
    return OpGraph(
        tensors=dict(tensors),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        ops=tuple(Op(name=n, inputs=tuple(i), output=o) for n, i, o in ops),
    )


# Paper Figure 1 style: a branch point where the order decides the peak.
BRANCHY = graph(
    {"in": 100, "a": 50, "b": 400, "c": 10, "d": 20, "out": 5},
    ["in"],
    ["out"],
    [
        ("A", ["in"], "a"),  # in -> a
        ("B", ["a"], "b"),  # big tensor on one branch
        ("C", ["b"], "c"),  # ... shrinks again
        ("D", ["a"], "d"),  # other branch
        ("E", ["c", "d"], "out"),
    ],
)


def steps(profile):
    return [(s.op, dict(s.tensors), s.total) for s in profile.timeline]


def test_hand_computed_timeline():
    p = evaluate_order(BRANCHY, ["A", "B", "C", "D", "E"])
    assert steps(p) == [
        ("A", {"in": 100, "a": 50}, 150),
        ("B", {"a": 50, "b": 400}, 450),
        ("C", {"a": 50, "b": 400, "c": 10}, 460),
        ("D", {"a": 50, "c": 10, "d": 20}, 80),
        ("E", {"c": 10, "d": 20, "out": 5}, 35),
    ]
    assert p.peak_bytes == 460
    assert p.paper_peak_bytes == 460  # the input is gone by the peak
    assert p.peak_step.op == "C"
    q = evaluate_order(BRANCHY, ["A", "D", "B", "C", "E"])
    assert [s.total for s in q.timeline] == [150, 70, 470, 430, 35]  # `a` lives until B
    assert q.peak_bytes == 470
    assert default_profile(BRANCHY) == p


def test_outputs_inputs_unread_and_repeated_reads():
    g = graph(
        {"x": 7, "unused": 3, "t": 5, "dead": 11, "o1": 2, "o2": 1},
        ["x", "unused"],
        ["o1", "o2", "x"],
        [
            ("p", ["x", "x"], "t"),  # reads x twice: counted once
            ("q", ["t"], "dead"),  # nobody reads `dead`: freed right after q
            ("r", ["t", "t"], "o1"),  # o1 is an output: never freed
            ("s", ["t"], "o2"),
        ],
    )
    p = evaluate_order(g, ["p", "q", "r", "s"])
    assert steps(p) == [
        ("p", {"x": 7, "unused": 3, "t": 5}, 15),  # unused input counts in the first step only
        ("q", {"x": 7, "t": 5, "dead": 11}, 23),
        ("r", {"x": 7, "t": 5, "o1": 2}, 14),  # x is a graph output too: never freed
        ("s", {"x": 7, "t": 5, "o1": 2, "o2": 1}, 15),
    ]
    assert p.peak_bytes == 23
    # paper figure: graph inputs left out of every step
    assert p.paper_peak_bytes == 16
    assert p.to_json()["timeline"][1] == {"op": "q", "tensors": {"x": 7, "t": 5, "dead": 11},
                                          "total": 23}


def test_zero_byte_tensors_and_single_op():
    g = graph({"i": 0, "o": 0}, ["i"], ["o"], [("only", ["i"], "o")])
    p = evaluate_order(g, ["only"])
    assert p.peak_bytes == 0 and p.paper_peak_bytes == 0 and p.order == ("only",)


def reference_timeline(g: OpGraph, order):
    """Straight from the rules, independent of the package's implementation."""
    readers = {}
    for op in g.ops:
        for t in set(op.inputs):
            readers.setdefault(t, set()).add(op.name)
    by_name = {op.name: op for op in g.ops}
    live = set(g.inputs)
    finished = set()
    totals = []
    for k, name in enumerate(order):
        op = by_name[name]
        totals.append(sum(g.tensors[t] for t in live | {op.output}))
        finished.add(name)
        live.add(op.output)
        for t in list(live):
            if t in g.outputs:
                continue
            r = readers.get(t, set())
            if (r and r <= finished) or (not r and (t == op.output or k == 0)):
                live.discard(t)
    return totals


def random_order(g, rng):
    producer = {op.output: op.name for op in g.ops}
    deps = {op.name: {producer[t] for t in op.inputs if t in producer} for op in g.ops}
    done, order = set(), []
    while len(order) < len(g.ops):
        ready = [n for n in deps if n not in done and deps[n] <= done]
        pick = rng.choice(ready)
        done.add(pick)
        order.append(pick)
    return order


def test_matches_an_independent_simulator_on_random_graphs():
    rng = random.Random(1)
    for _ in range(300):
        g = random_dag(rng, rng.randint(1, 12))
        order = random_order(g, rng)
        p = evaluate_order(g, order)
        ref = reference_timeline(g, order)
        assert [s.total for s in p.timeline] == ref
        assert p.peak_bytes == max(ref)
        inputs = set(g.inputs)
        assert p.paper_peak_bytes == max(
            s.total - sum(b for t, b in s.tensors if t in inputs) for s in p.timeline
        )


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (["A", "B", "C", "D"], "misses 1 op"),
        (["A", "B", "C", "D", "E", "E"], "listed twice"),
        (["A", "B", "C", "D", "X"], "unknown op 'X'"),
        (["B", "A", "C", "D", "E"], "op 'B' reads tensor 'a' before its producer 'A'"),
        ("ABCDE", "sequence of op names"),
        ([1, 2], "must be strings"),
    ],
)
def test_invalid_orders_are_rejected(order, message):
    with pytest.raises(OrderError, match=message):
        evaluate_order(BRANCHY, order)


def test_malformed_graph_is_rejected():
    g = graph({"in": 1, "a": -1}, ["in"], ["a"], [("A", ["in"], "a")])
    with pytest.raises(OpGraphError, match="non-negative"):
        evaluate_order(g, ["A"])
