"""Benchmark of the analyser on fork-join graphs: k branches merged by one n-ary op.

Usage: ``.venv/bin/python bench/forkjoin.py [--graphs 10] [--runs 5] [--cap 1.0] [--seed 0]``

* For k = 4..16 branches of 3 ops of unequal sizes (``random_graphs.random_nary_fork_join``:
  each branch has its own scale, the shared input is random),
  ``--graphs`` graphs per k, for two merges: a concatenation (output = the sum of the branch
  ends) and an add (output = the largest end; the merge step no longer dominates, so the
  interleaving of the branches decides the peak, the harder case). Each graph is analysed
  ``--runs`` times with ``optimal_order``; its time is the median of those runs (CPU time,
  ``time.process_time``). Printed per k: the median and the maximum over the graphs, in ms,
  and whether every answer was proven optimal.
* The old algorithm (stage split, then the hill-valley unit search / subset DP per stage,
  without the fork-join solver; what ``optimal_order`` did before) runs once per graph with a
  ``--cap`` second budget; the ratio old / new is printed where it finished within the cap,
  and ``> cap`` otherwise. Target (issue 11): the analyser under 50 ms on every graph.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_engine.resources import optimal_order  # noqa: E402
from search_engine.resources.order_dp import dp_schedule  # noqa: E402
from search_engine.resources.order_units import units_schedule  # noqa: E402
from search_engine.resources.peak_memory import SMALL_STAGE  # noqa: E402
from search_engine.resources.random_graphs import random_nary_fork_join  # noqa: E402
from search_engine.resources.schedule_problem import (  # noqa: E402
    compile_graph,
    split_stages,
    subproblem,
)


def old_optimal(graph, cap: float) -> int | None:  # noqa: ANN001
    """The previous ``optimal_order`` (no fork-join solver): its peak, or None if it did not
    prove its answer within ``cap`` seconds."""
    problem = compile_graph(graph)
    deadline = time.perf_counter() + cap
    peak, done = 0, 0
    for ops in split_stages(problem):
        if len(ops) == 1:
            stage = problem.live_bytes(done) + problem.sizes[problem.writes[ops[0]]]
        else:
            sub = subproblem(problem, ops, done)
            found = units_schedule(sub, deadline) if len(ops) > SMALL_STAGE else None
            stage, _, lower = found if found is not None else dp_schedule(sub, deadline)
            if lower < stage:
                return None
        peak = max(peak, stage)
        for v in ops:
            done |= 1 << v
    return peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graphs", type=int, default=10, help="graphs per branch count")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per graph (median)")
    parser.add_argument("--cap", type=float, default=1.0, help="budget of the old algorithm (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"fork-join bench: k branches x 3 ops + one n-ary merge, {args.graphs} graphs per k, "
          f"median of {args.runs} runs, CPU time; old algorithm capped at {args.cap:g} s")
    worst = 0.0
    for merge in ("concat", "add"):
        print(f"\nmerge = {merge}")
        worst = max(worst, family(args, merge))
    print(f"\nslowest graph: {1000 * worst:.2f} ms (target < 50 ms)")
    return 0


def family(args: argparse.Namespace, merge: str) -> float:
    """Print one table; return the slowest median time (s)."""
    print(f"{'k':>3} {'ops':>4} {'median ms':>10} {'max ms':>8} {'proven':>7}   old / new")
    worst = 0.0
    for k in range(4, 17):
        rng = random.Random(args.seed * 1000 + k)
        times, ratios, capped, proven = [], [], 0, 0
        for _ in range(args.graphs):
            graph = random_nary_fork_join(rng, k, merge=merge)
            runs = []
            for _ in range(args.runs):
                start = time.process_time()
                best = optimal_order(graph)
                runs.append(time.process_time() - start)
            t = statistics.median(runs)
            times.append(t)
            proven += best.proven_optimal
            start = time.process_time()
            old = old_optimal(graph, args.cap)
            t_old = time.process_time() - start
            if old is None:
                capped += 1
            else:
                if old != best.peak_bytes:
                    raise AssertionError(f"k={k}: old algorithm {old} B, new {best.peak_bytes} B")
                ratios.append(t_old / max(t, 1e-9))
        worst = max(worst, max(times))
        old_text = f"median {statistics.median(ratios):.0f}x on {len(ratios)}" if ratios else ""
        if capped:
            old_text += f"{', ' if old_text else ''}> {args.cap:g} s on {capped}"
        print(f"{k:>3} {len(graph.ops):>4} {1000 * statistics.median(times):>10.2f} "
              f"{1000 * max(times):>8.2f} {proven:>3}/{args.graphs:<3}   {old_text}")
    return worst


if __name__ == "__main__":
    sys.exit(main())
