"""Peak memory of an op graph: the timeline of a given order, and the exact optimal order.

Semantics (DESIGN.md "Resource semantics", TFLite Micro; details in
:mod:`schedule_problem`): ops run one at a time; the working set of a step is every live
tensor plus the running op's output; a tensor is freed right after its last reader; graph
outputs are never freed; the model input counts. ``paper_peak_bytes`` is the same order's
peak with the graph inputs left out of every step, as the paper (and its code) reported it.

* :func:`evaluate_order`: the :class:`MemoryProfile` (timeline, peak) of one order.
* :func:`optimal_order`: the minimum peak over all valid orders, exactly, with an order that
  achieves it. The graph is split into stages that every order runs in sequence
  (:func:`~schedule_problem.split_stages`); each stage is solved by the fork-join solver
  (:mod:`order_forkjoin`) where it has that shape, else by the hill-valley unit search
  (:mod:`order_units`), or by the general subset DP (:mod:`order_dp`) where the stage is small
  or the job model does not apply. An optional time budget makes the searches stop with their
  best order and a proven lower bound. See ``docs/peak-memory.md``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from search_engine.graph.opgraph import OpGraph, validate_op_graph
from search_engine.resources.order_dp import dp_order, dp_schedule
from search_engine.resources.order_forkjoin import fork_join_order
from search_engine.resources.order_units import units_schedule
from search_engine.resources.schedule_problem import (
    Problem,
    compile_graph,
    split_stages,
    subproblem,
)

METHODS = ("auto", "dp", "brute")
SMALL_STAGE = 10  # stages of at most this many ops go straight to the subset DP


class OrderError(ValueError):
    """An execution order that is not a valid topological order of all the graph's ops."""


@dataclass(frozen=True)
class MemoryStep:
    """One step: the op that runs, the tensors in memory meanwhile (allocation order, the
    op's output last) with their bytes, and their total."""

    op: str
    tensors: tuple[tuple[str, int], ...]
    total: int

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "tensors": dict(self.tensors), "total": self.total}


@dataclass(frozen=True)
class MemoryProfile:
    """An execution order with its timeline, peak, and the paper's peak (inputs excluded)."""

    order: tuple[str, ...]
    timeline: tuple[MemoryStep, ...]
    peak_bytes: int
    paper_peak_bytes: int
    # from optimal_order: a proven lower bound on the optimal peak (equal to peak_bytes when
    # the order is proven optimal; lower only when a time budget ran out). None otherwise.
    lower_bound_bytes: int | None = field(default=None, compare=False)

    @property
    def proven_optimal(self) -> bool:
        """Whether this order's peak is proven to be the minimum."""
        return self.lower_bound_bytes is not None and self.lower_bound_bytes >= self.peak_bytes

    @property
    def peak_step(self) -> MemoryStep:
        """The first step whose working set is the peak."""
        return next(s for s in self.timeline if s.total == self.peak_bytes)

    def to_json(self) -> dict[str, Any]:
        return {
            "peak_bytes": self.peak_bytes,
            "paper_peak_bytes": self.paper_peak_bytes,
            "order": list(self.order),
            "timeline": [s.to_json() for s in self.timeline],
        }


def check_order(graph: OpGraph, order: Sequence[str]) -> None:
    """Raise :class:`OrderError` unless ``order`` names every op once, producers first."""
    if isinstance(order, str) or not isinstance(order, Sequence):
        raise OrderError("an order must be a sequence of op names")
    names = {op.name for op in graph.ops}
    seen: set[str] = set()
    for name in order:
        if not isinstance(name, str):
            raise OrderError(f"order: op names must be strings (got {name!r})")
        if name not in names:
            raise OrderError(f"order: unknown op {name!r}")
        if name in seen:
            raise OrderError(f"order: op {name!r} listed twice")
        seen.add(name)
    missing = [op.name for op in graph.ops if op.name not in seen]
    if missing:
        raise OrderError(f"order: misses {len(missing)} op(s), first {missing[0]!r}")
    producer = {op.output: op.name for op in graph.ops}
    by_name = {op.name: op for op in graph.ops}
    done: set[str] = set()
    for name in order:
        for t in by_name[name].inputs:
            p = producer.get(t)
            if p is not None and p not in done:
                raise OrderError(
                    f"order is not a valid execution order: op {name!r} reads tensor {t!r} "
                    f"before its producer {p!r} runs"
                )
        done.add(name)


def evaluate_order(graph: OpGraph, order: Sequence[str]) -> MemoryProfile:
    """The memory timeline of running ``graph``'s ops in ``order`` (op names).

    Raises :class:`~search_engine.graph.opgraph.OpGraphError` for a malformed graph and
    :class:`OrderError` unless ``order`` lists every op exactly once, producers first.
    """
    validate_op_graph(graph)
    return _evaluate(graph, order)


def _evaluate(graph: OpGraph, order: Sequence[str]) -> MemoryProfile:
    check_order(graph, order)
    by_name = {op.name: op for op in graph.ops}
    readers: dict[str, set[str]] = {}
    for op in graph.ops:
        for t in op.inputs:
            readers.setdefault(t, set()).add(op.name)
    pinned = set(graph.outputs)
    inputs = set(graph.inputs)
    alive: dict[str, int] = {t: graph.tensors[t] for t in graph.inputs}  # insertion-ordered
    pending = {t: set(r) for t, r in readers.items()}
    steps = []
    for k, name in enumerate(order):
        op = by_name[name]
        tensors = (*alive.items(), (op.output, graph.tensors[op.output]))
        total = sum(b for _, b in tensors)
        steps.append(MemoryStep(name, tensors, total))
        for t in dict.fromkeys(op.inputs):
            pending[t].discard(name)
            if not pending[t] and t not in pinned:
                alive.pop(t, None)
        if k == 0:
            for t in graph.inputs:
                if t not in readers and t not in pinned:
                    alive.pop(t, None)
        if op.output in pinned or readers.get(op.output):
            alive[op.output] = graph.tensors[op.output]
    paper = [s.total - sum(b for t, b in s.tensors if t in inputs) for s in steps]
    return MemoryProfile(
        order=tuple(order),
        timeline=tuple(steps),
        peak_bytes=max(s.total for s in steps),
        paper_peak_bytes=max(paper),
    )


def default_profile(graph: OpGraph) -> MemoryProfile:
    """The profile of the listed (default) order; for ``.tflite`` graphs the stored order."""
    return evaluate_order(graph, [op.name for op in graph.ops])


def optimal_order(graph: OpGraph, method: str = "auto",
                  time_budget: float | None = None) -> MemoryProfile:
    """The profile of an execution order with the minimum peak (exact).

    ``method``: ``"auto"`` (stage split, then per stage the fork-join solver where the stage
    has that shape, else the hill-valley unit search, the general DP where it does not apply),
    ``"dp"`` (the general subset DP on the whole graph, no structure used) or ``"brute"``
    (enumerate every order; factorial, for tests).

    ``time_budget`` (seconds, ``"auto"`` only; ``None``: no limit): past it, every stage
    still searching returns its best order so far, and ``lower_bound_bytes`` of the result
    is a proven lower bound below ``peak_bytes`` (``proven_optimal`` is then False).
    Series-parallel stages without a shared input are solved in O(n log n) and fork-join
    stages usually in milliseconds, so the budget only matters for irregular graphs.
    """
    validate_op_graph(graph)
    problem = compile_graph(graph)
    lower = None
    if method == "auto":
        deadline = None if time_budget is None else time.perf_counter() + time_budget
        order: list[int] = []
        peak = 0
        lower = 0
        done = 0
        stages = split_stages(problem)
        # single-op stages have one order: their steps bound the whole peak from below, so a
        # stage search may stop as soon as it fits under them (the overall peak is the same)
        target, seen = 0, 0
        for ops in stages:
            if len(ops) == 1:
                target = max(target, problem.live_bytes(seen)
                             + problem.sizes[problem.writes[ops[0]]])
            for v in ops:
                seen |= 1 << v
        for ops in stages:
            if len(ops) == 1:
                (v,) = ops
                stage_peak = problem.live_bytes(done) + problem.sizes[problem.writes[v]]
                local = [0]
                stage_lower = stage_peak
            else:
                sub = subproblem(problem, ops, done)
                stage_peak, local, stage_lower = _solve_stage(sub, len(ops), deadline, target)
            peak = max(peak, stage_peak)
            lower = max(lower, stage_lower)  # the optimum is the largest stage optimum
            order.extend(ops[i] for i in local)
            for v in ops:
                done |= 1 << v
        lower = min(lower, peak)
    elif method == "dp":
        peak, order = dp_order(problem)
    elif method == "brute":
        from search_engine.resources.brute_force import enumerate_problem

        peak, order, _ = enumerate_problem(problem)
    else:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    profile = _evaluate(graph, [problem.op_names[i] for i in order])
    if profile.peak_bytes != peak:  # the solvers and the timeline must agree
        raise AssertionError(
            f"internal error: {method} search claims {peak} B, its order has {profile.peak_bytes} B"
        )
    return dataclasses.replace(profile, lower_bound_bytes=peak if lower is None else lower)


def _solve_stage(sub: Problem, n_ops: int, deadline: float | None, target: int
                 ) -> tuple[int, list[int], int]:
    """(peak, order, lower bound on max(the stage's optimum, ``target``)) of one stage;
    ``target`` is a lower bound on the whole graph's peak."""
    found = fork_join_order(sub, deadline, lower_bound=target)
    if found is not None:
        return found.peak, found.order, found.lower_bound
    # small stages: the subset DP is exact and has no set-up cost
    if n_ops > SMALL_STAGE:
        units = units_schedule(sub, deadline)
        if units is not None:
            return units
    return dp_schedule(sub, deadline)
