"""The general exact algorithm: a shortest-bottleneck search over sets of finished ops.

The working set of a step depends only on which ops have finished and which op runs, so a
schedule is a path from the empty set to the full set in the lattice of down-sets (sets of
finished ops closed under predecessors), an edge ``S -> S + {v}`` costing the working set of
running ``v`` after ``S``. The peak of an order is the largest edge on its path, and the best
order is a minimum-bottleneck path, found by a Dijkstra-style search over bitmask states
(each state kept with its best bottleneck so far: memoised).

Two exact accelerations:

* A* ordering: states are expanded by ``max(bottleneck so far, the largest static lower bound
  of a remaining op)`` (an op's inputs and output are alive while it runs, whatever the
  order), deepest first among ties, so the search runs straight to the goal whenever the peak
  is an unavoidable op.
* Dominance (greedy) reduction: if an available op ``v`` frees at least as many bytes as its
  output keeps (as the last reader of its inputs) and its step fits under
  ``max(bottleneck so far, global lower bound)``, only ``v`` is tried.
  Proof: take any completion ``A v C`` within a bound ``B`` >= that step; ``v A C`` keeps ``C``
  unchanged and every step of ``A`` sees the live set of the old step minus what ``v`` frees
  plus ``v``'s output, never more, since finishing ``v`` earlier can only free tensors sooner.

It is exponential in the width of the graph (the number of down-sets) and is meant for small
or irregular stages; :mod:`order_units` is the fast path for wide ones.
"""

from __future__ import annotations

import heapq
import time

from search_engine.resources.schedule_problem import Problem

_UNSET = float("inf")


def dp_order(problem: Problem) -> tuple[int, list[int]]:
    """(minimum peak bytes, an order of op indices achieving it) for ``problem``."""
    peak, order, _ = dp_schedule(problem)
    return peak, order


def dp_schedule(problem: Problem, deadline: float | None = None
                ) -> tuple[int, list[int], int]:
    """(best peak found, its order, a proven lower bound). Without ``deadline`` (a
    ``time.perf_counter()`` value) the search is exact (bound = peak); past it, the listed
    order (op indices ascending, always valid) is returned with the smallest bound among the
    states still queued (every completion passes through one of them)."""
    n = problem.n
    if n == 0:
        return 0, [], 0
    full = (1 << n) - 1
    sizes = problem.sizes
    writes = problem.writes
    preds = problem.preds
    lb_op = [problem.static_lower_bound(i) for i in range(n)]
    lb_global = max(lb_op)
    by_lb = sorted(range(n), key=lambda i: -lb_op[i])

    def lb_rest(done: int) -> int:
        for i in by_lb:
            if not done >> i & 1:
                return lb_op[i]
        return 0

    best: dict[int, int] = {0: -1}
    live: dict[int, int] = {0: problem.live_bytes(0)}
    parent: dict[int, tuple[int, int]] = {}
    heap = [(lb_rest(0), 0, 0, -1)]
    pops = 0
    while heap:
        pops += 1
        if deadline is not None and pops % 16 == 0 and time.perf_counter() > deadline:
            listed = list(range(n))
            peak = max(problem.check_order(listed))
            return peak, listed, min(peak, max(lb_global, heap[0][0]))
        _, negdepth, done, g = heapq.heappop(heap)
        if g > best[done]:
            continue
        if done == full:
            order = []
            while done:
                done, v = parent[done]
                order.append(v)
            order.reverse()
            return g, order, g
        base = live[done]
        avail = [v for v in range(n) if not done >> v & 1 and not preds[v] & ~done]
        threshold = max(g, lb_global)
        moves = None
        for v in avail:
            cost = base + sizes[writes[v]]
            # (what v itself frees must cover its output; the unused starting tensors that
            # the first step frees whatever op it runs do not count)
            if cost <= threshold and problem.step_delta(done, v, unused=False) <= 0:
                moves = [(v, cost, problem.step_delta(done, v))]
                break
        if moves is None:
            moves = [(v, base + sizes[writes[v]], problem.step_delta(done, v)) for v in avail]
        for v, cost, delta in moves:
            nxt = done | 1 << v
            ng = g if g >= cost else cost
            if ng < best.get(nxt, _UNSET):
                best[nxt] = ng
                live[nxt] = base + delta
                parent[nxt] = (done, v)
                rest = lb_rest(nxt)
                heapq.heappush(heap, (ng if ng >= rest else rest, negdepth - 1, nxt, ng))
    raise AssertionError("unreachable: the full set is always reachable")
