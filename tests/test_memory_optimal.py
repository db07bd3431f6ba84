"""The optimal order is exact: every algorithm against plain enumeration of all orders."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from search_engine.graph.opgraph import Op, OpGraph
from search_engine.resources import default_profile, evaluate_order, optimal_order
from search_engine.resources.brute_force import brute_force_order, enumerate_problem
from search_engine.resources.closure_bound import ClosureBound
from search_engine.resources.order_dp import dp_order
from search_engine.resources.order_units import build_units, units_order
from search_engine.resources.random_graphs import fork_join_graph, random_dag, random_fork_join
from search_engine.resources.schedule_problem import compile_graph, split_stages


def check_all_methods(g: OpGraph) -> int:
    """Every exact method agrees with brute force, and its order achieves its peak."""
    best, _, _ = brute_force_order(g)
    for method in ("auto", "dp"):
        p = optimal_order(g, method)
        assert p.peak_bytes == best, (method, p.peak_bytes, best)
        assert evaluate_order(g, p.order).peak_bytes == best
    problem = compile_graph(g)
    found = units_order(problem)  # the unit search on the whole graph, no stage split
    if found is not None:
        peak, order = found
        assert peak == best
        assert max(problem.check_order(order)) == best
    assert optimal_order(g).peak_bytes <= default_profile(g).peak_bytes
    return best


def test_random_dags_against_brute_force():
    rng = random.Random(20240501)
    beaten = 0
    for _ in range(400):
        g = random_dag(rng, rng.randint(1, 9))
        best = check_all_methods(g)
        beaten += best < default_profile(g).peak_bytes
    assert beaten > 50  # the listed order is often not optimal: the test has teeth


def test_random_fork_join_stages_against_brute_force():
    rng = random.Random(7)
    tested = 0
    while tested < 400:
        g = random_fork_join(rng, max_branches=rng.choice((3, 4)), max_len=rng.choice((2, 3)),
                             n_stages=rng.choice((1, 1, 2)), hi=rng.choice((8, 100)))
        if len(g.ops) > 11:
            continue
        check_all_methods(g)
        tested += 1


def test_shared_input_size_matters():
    # in -> (b0: 10 -> 500) and (b1: 10 -> 5), joined by an add of 5 bytes.
    stage = [([[10, 500], [10, 5]], [5])]
    big = fork_join_graph(1000, stage)
    # big input: run b1, then start b0 (the input is freed), then its 500-byte op.
    assert check_all_methods(big) == 1015
    assert optimal_order(big).order[:3] == ("s0_b1_op0", "s0_b1_op1", "s0_b0_op0")
    # tiny input: the 500-byte op dominates whatever the order.
    assert check_all_methods(fork_join_graph(1, stage)) == 515


def test_stages_run_contiguously_in_every_order():
    rng = random.Random(3)
    for _ in range(150):
        g = random_dag(rng, rng.randint(2, 8)) if rng.random() < 0.5 else \
            random_fork_join(rng, max_branches=2, max_len=2, n_stages=2)
        if len(g.ops) > 9:
            continue
        problem = compile_graph(g)
        stage_of = {}
        for k, ops in enumerate(split_stages(problem)):
            for v in ops:
                stage_of[v] = k
        assert_stages_in_sequence(problem, stage_of, 0, 0)


def assert_stages_in_sequence(problem, stage_of, done, last_stage):
    """Walk every valid order: stage numbers never decrease, and a stage starts only once all
    earlier stages are complete."""
    if done == (1 << problem.n) - 1:
        return
    for v in range(problem.n):
        if not done >> v & 1 and not problem.preds[v] & ~done:
            assert stage_of[v] >= last_stage
            if stage_of[v] > last_stage:
                assert all(done >> u & 1 for u in stage_of if stage_of[u] < stage_of[v])
            assert_stages_in_sequence(problem, stage_of, done | 1 << v, stage_of[v])


def test_closure_bounds_are_lower_bounds():
    rng = random.Random(11)
    for _ in range(300):
        g = random_dag(rng, rng.randint(2, 9)) if rng.random() < 0.5 else random_fork_join(
            rng, max_branches=3, max_len=3)
        if len(g.ops) > 10:
            continue
        problem = compile_graph(g)
        built = build_units(problem)
        if built is None:
            continue
        units, preds, base0 = built
        best = enumerate_problem(problem)[0]
        bound = ClosureBound([u.h for u in units], [u.d for u in units], preds, base0)
        assert max(bound.global_bounds) <= best
        ranked = sorted(range(len(units)), key=lambda u: -bound.global_bounds[u])[:4]
        assert bound.set_bound(ranked, 0) <= best


def test_dp_on_a_wide_graph_matches_the_fast_path():
    rng = random.Random(5)
    for _ in range(20):
        g = random_fork_join(rng, max_branches=5, max_len=3, hi=200)
        problem = compile_graph(g)
        assert dp_order(problem)[0] == optimal_order(g).peak_bytes


@st.composite
def fork_join(draw):
    k = draw(st.integers(1, 3))
    branches = [draw(st.lists(st.integers(0, 40), min_size=1, max_size=3)) for _ in range(k)]
    adds = draw(st.lists(st.integers(0, 40), min_size=k - 1, max_size=k - 1))
    stages = [(branches, adds)]
    if draw(st.booleans()):
        stages.append(([[draw(st.integers(0, 40))], [draw(st.integers(0, 40))]],
                       [draw(st.integers(0, 40))]))
    tail = draw(st.lists(st.integers(0, 40), max_size=2))
    return fork_join_graph(draw(st.integers(0, 200)), stages, tail)


@settings(max_examples=150, deadline=None)
@given(fork_join())
def test_hypothesis_fork_join(g):
    check_all_methods(g)


@st.composite
def small_dag(draw):
    n = draw(st.integers(1, 7))
    tensors = {"in0": draw(st.integers(0, 30)), "in1": draw(st.integers(0, 30))}
    names = ["in0", "in1"]
    ops = []
    for i in range(n):
        reads = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
        tensors[f"t{i}"] = draw(st.integers(0, 30))
        ops.append(Op(name=f"op{i}", inputs=tuple(reads), output=f"t{i}"))
        names.append(f"t{i}")
    outputs = draw(st.lists(st.sampled_from(names[2:]), min_size=1, max_size=3, unique=True))
    return OpGraph(tensors=tensors, inputs=("in0", "in1"), outputs=tuple(outputs), ops=tuple(ops))


@settings(max_examples=200, deadline=None)
@given(small_dag())
def test_hypothesis_dags(g):
    check_all_methods(g)


def test_huge_sizes_stay_exact():
    # Sizes beyond float precision: bounds and searches use exact integers.
    rng = random.Random(8)
    for _ in range(40):
        g = random_fork_join(rng, max_branches=3, max_len=3)
        if len(g.ops) > 10:
            continue
        scale = 2**60 + 1
        huge = OpGraph(tensors={t: b * scale + (b % 3) for t, b in g.tensors.items()},
                       inputs=g.inputs, outputs=g.outputs, ops=g.ops)
        check_all_methods(huge)


def test_forest_closure_matches_max_flow():
    # The linear-time closure (in-forest plus release sinks) against the min-cut solver.
    from search_engine.resources.closure_bound import min_closure

    rng = random.Random(2)
    checked = 0
    for i in range(400):
        g = random_fork_join(rng, max_branches=rng.randint(1, 6), max_len=4,
                             n_stages=rng.randint(1, 2)) if i % 2 else random_dag(rng, 10)
        built = build_units(compile_graph(g))
        if built is None:
            continue
        units, preds, base0 = built
        bound = ClosureBound([u.h for u in units], [u.d for u in units], preds, base0)
        if bound.fast is None:
            continue
        m = len(units)
        for x in range(m):
            done = 0
            for y in rng.sample(range(m), m):
                if (y != x and not bound.desc[x] >> y & 1 and not preds[y] & ~done
                        and rng.random() < 0.4):
                    done |= 1 << y
            include, exclude = done | bound.anc[x], bound.desc[x] | 1 << x
            value, members = bound.fast.solve(include, exclude)
            assert value == min_closure(bound.deltas, preds, include, exclude)[0]
            assert members & include == include and not members & exclude
            assert all(not members >> y & 1 or not preds[y] & ~members for y in range(m))
            assert value == sum(bound.deltas[y] for y in range(m) if members >> y & 1)
            checked += 1
    assert checked > 500
