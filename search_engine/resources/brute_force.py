"""Plain enumeration of every valid execution order: the reference method (the paper's).

It walks all topological orders depth first, computing each step's working set with the same
semantics as everything else (:mod:`schedule_problem`), and keeps the order with the smallest
peak. No pruning, no memoisation: it is the independent reference that the exact algorithms
are tested against, and the baseline that ``bench/memory.py`` compares with. The number of
orders grows factorially with the graph's width, so callers pass a ``deadline``.
"""

from __future__ import annotations

import time

from search_engine.graph.opgraph import OpGraph
from search_engine.resources.schedule_problem import Problem, compile_graph


class EnumerationTimeout(RuntimeError):
    """Enumeration did not finish before its deadline."""


def enumerate_problem(
    problem: Problem, deadline: float | None = None
) -> tuple[int, list[int], int]:
    """(minimum peak, an order achieving it, number of orders) over all valid orders of
    ``problem``. ``deadline`` is a ``time.perf_counter()`` value; past it,
    :class:`EnumerationTimeout` is raised."""
    n = problem.n
    full = (1 << n) - 1
    best_peak: list[int | None] = [None]
    best_order: list[list[int]] = [[]]
    count = [0]
    order: list[int] = []
    ticks = [0]

    def rec(done: int, live: int, peak: int) -> None:
        if done == full:
            count[0] += 1
            if best_peak[0] is None or peak < best_peak[0]:
                best_peak[0] = peak
                best_order[0] = list(order)
            return
        ticks[0] += 1
        if deadline is not None and ticks[0] % 1024 == 0 and time.perf_counter() > deadline:
            raise EnumerationTimeout("enumeration of all orders ran past its deadline")
        for op in range(n):
            if done >> op & 1 or problem.preds[op] & ~done:
                continue
            cost = live + problem.sizes[problem.writes[op]]
            order.append(op)
            rec(done | 1 << op, live + problem.step_delta(done, op), max(peak, cost))
            order.pop()

    rec(0, problem.live_bytes(0), 0)
    assert best_peak[0] is not None
    return best_peak[0], best_order[0], count[0]


def brute_force_order(graph: OpGraph, deadline: float | None = None) -> tuple[int, list[str], int]:
    """(minimum peak bytes, op names of an order achieving it, number of valid orders)."""
    problem = compile_graph(graph)
    peak, order, count = enumerate_problem(problem, deadline)
    return peak, [problem.op_names[i] for i in order], count
