"""Fork-join stages (parallel chains, one shared input, one n-ary merge) are solved exactly
and fast, and every other graph respects a time budget with a proven lower bound."""

from __future__ import annotations

import json
import random
import time

import pytest

from search_engine import memory
from search_engine.resources import evaluate_order, optimal_order
from search_engine.resources.brute_force import EnumerationTimeout, enumerate_problem
from search_engine.resources.order_dp import dp_order
from search_engine.resources.order_forkjoin import fork_join_order, recognise
from search_engine.resources.random_graphs import (
    fork_join_graph,
    nary_fork_join_graph,
    random_dag,
    random_nary_fork_join,
)
from search_engine.resources.schedule_problem import compile_graph


def brute(graph, cap=2.0):
    """The enumerated optimum, or None if enumeration does not finish within ``cap`` s."""
    try:
        return enumerate_problem(compile_graph(graph), time.perf_counter() + cap)[0]
    except EnumerationTimeout:
        return None


def check(graph, expected):
    """optimal_order (stages) and the solver on the whole graph both reach ``expected``,
    prove it, and their orders achieve it."""
    best = optimal_order(graph)
    assert best.peak_bytes == expected and best.proven_optimal
    assert evaluate_order(graph, best.order).peak_bytes == expected
    problem = compile_graph(graph)
    whole = fork_join_order(problem)
    assert whole is not None and whole.proven and whole.peak == expected
    assert max(problem.check_order(whole.order)) == expected
    assert sorted(whole.order) == list(range(problem.n))


def random_chains(rng, k, max_len, hi):
    return [[rng.randint(0, hi) for _ in range(rng.randint(1, max_len))] for _ in range(k)]


def test_fork_join_2_to_16_branches_against_brute_force():
    # enumeration is factorial in the branches: it finishes up to 8 short branches; the
    # subset DP (no structure used, itself checked against enumeration) takes 9-12
    rng = random.Random(11)
    finished = 0
    for k in range(2, 17):
        for _ in range(2):
            length = 3 if k <= 3 else 2 if k <= 4 else 1
            graph = random_nary_fork_join(rng, k, ops_per_branch=length, hi=200)
            if k <= 8:
                expected = brute(graph, cap=1.0)
                finished += expected is not None
            elif k <= 12:
                expected = dp_order(compile_graph(graph))[0]
            else:
                expected = optimal_order(graph).peak_bytes
            if expected is not None:
                check(graph, expected)
    assert finished >= 12


def test_wide_fork_join_against_the_general_dp():
    # 3 ops a branch as in the issue; the subset DP (no structure) is the reference here
    rng = random.Random(12)
    for k in (5, 6, 7):
        for _ in range(2):
            graph = random_nary_fork_join(rng, k, hi=500)
            check(graph, dp_order(compile_graph(graph))[0])


def test_random_series_parallel_against_brute_force():
    rng = random.Random(13)
    tested = 0
    while tested < 300:
        hi = rng.choice((8, 100))
        chains = random_chains(rng, rng.randint(2, 4), 3, hi)
        roll = rng.random()
        size = rng.randint(0, 3) if roll < 0.3 else rng.randint(0, hi) if roll < 0.6 \
            else rng.randint(3 * hi, 6 * hi)
        graph = nary_fork_join_graph(size, chains, rng.randint(0, hi),
                                     pinned_input=rng.random() < 0.2)
        if len(graph.ops) > 11:
            continue
        check(graph, brute(graph, cap=30))
        tested += 1


def test_no_shared_release_is_the_sorted_merge():
    # a pinned input is never freed: the chains are independent (Liu's merge, no search)
    graph = nary_fork_join_graph(50, [[10, 300, 5], [200, 1], [40, 40, 40]], 7, pinned_input=True)
    check(graph, brute(graph))


def test_sixteen_branches_are_fast():
    rng = random.Random(14)
    for _ in range(5):
        graph = random_nary_fork_join(rng, 16)
        start = time.process_time()
        best = optimal_order(graph)
        assert time.process_time() - start < 1.0  # ~1 ms in practice (bench/forkjoin.py)
        assert best.proven_optimal
        assert evaluate_order(graph, best.order).peak_bytes == best.peak_bytes


def test_other_shapes_are_not_recognised():
    binary_adds = fork_join_graph(10, [([[5, 6], [7, 8], [9]], [3, 4])])
    assert recognise(compile_graph(binary_adds)) is None
    assert fork_join_order(compile_graph(random_dag(random.Random(1), 8))) is None


def test_time_budget_returns_a_valid_order_with_a_lower_bound():
    rng = random.Random(0)
    flagged = 0
    for _ in range(30):
        graph = random_dag(rng, 10, max_inputs=2)
        quick = optimal_order(graph, time_budget=1e-9)
        exact = brute(graph, cap=30)
        assert quick.lower_bound_bytes <= exact <= quick.peak_bytes
        assert evaluate_order(graph, quick.order).peak_bytes == quick.peak_bytes
        if not quick.proven_optimal:
            flagged += 1
            assert quick.lower_bound_bytes < quick.peak_bytes
        assert optimal_order(graph).peak_bytes == exact  # no budget: exact as before
    assert flagged >= 5


def test_a_big_graph_stops_at_its_budget():
    graph = random_dag(random.Random(25), 40, max_inputs=2)
    start = time.perf_counter()
    best = optimal_order(graph, time_budget=0.01)
    assert time.perf_counter() - start < 5  # set-up work runs before the budget is checked
    assert not best.proven_optimal
    assert 0 < best.lower_bound_bytes < best.peak_bytes
    assert evaluate_order(graph, best.order).peak_bytes == best.peak_bytes


def run(args, capsys):
    status = memory.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_not_proven_exit_status(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(random_dag(random.Random(25), 40, max_inputs=2).to_json()))
    status, out, err = run([path, "--time-budget", "0.01", "--order-only"], capsys)
    assert status == memory.EXIT_NOT_PROVEN == 3
    result = json.loads(out)
    assert result["proven_optimal"] is False
    assert result["lower_bound_bytes"] < result["peak_bytes"]
    assert err == (f"not proven optimal: best {result['peak_bytes']} bytes, lower bound "
                   f"{result['lower_bound_bytes']} bytes\n")


def test_cli_fork_join_is_proven(tmp_path, capsys):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(random_nary_fork_join(random.Random(3), 16).to_json()))
    status, out, err = run([path], capsys)
    assert status == 0 and err == ""
    result = json.loads(out)
    assert "proven_optimal" not in result and result["peak_bytes"] <= result["default_peak_bytes"]


@pytest.mark.parametrize("value", ["-1", "x", "nan", "inf"])
def test_cli_bad_time_budget(tmp_path, capsys, value):
    path = tmp_path / "g.json"
    path.write_text(json.dumps(nary_fork_join_graph(1, [[1], [2]], 3).to_json()))
    with pytest.raises(SystemExit) as exit_info:
        memory.main([str(path), "--time-budget", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--time-budget" in err
