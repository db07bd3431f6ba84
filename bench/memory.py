"""Benchmark of the exact peak-memory analysis (``optimal_order``).

Usage: ``.venv/bin/python bench/memory.py [--n 1000] [--cap 1.0] [--worst 40] [--seed 0]``

* ``--n`` random architectures from the sampler (input 28x28x1 or 32x32x3, 10 classes) and
  ``--worst`` worst cases per family: 7 and 10 parallel blocks of 3 layers with pre-pools (one
  stage), and 10 blocks split into 2 and 3 parallel stages.
* Times are CPU seconds of the analysing process (``time.process_time``), so other load on the
  machine does not inflate them; median / p99 / max per family.
* Reference method: plain enumeration of all topological orders with the same memory
  semantics (``resources.brute_force``), on every graph where it finishes within ``--cap``
  seconds; the ratio is enumeration time / our time on those graphs (median and range).
* Optimal vs listed (default) order: how often the optimum is lower, and by how much.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_engine.graph.builder import build_op_graph  # noqa: E402
from search_engine.resources import default_profile, optimal_order  # noqa: E402
from search_engine.resources.brute_force import (  # noqa: E402
    EnumerationTimeout,
    enumerate_problem,
)
from search_engine.resources.random_graphs import parallel_architecture  # noqa: E402
from search_engine.resources.schedule_problem import compile_graph  # noqa: E402
from search_engine.space import SearchSpace  # noqa: E402

SHAPES = ((28, 28, 1), (32, 32, 3))


def families(rng: random.Random, n: int, worst: int) -> dict[str, list]:
    out: dict[str, list] = {"sampler": []}
    for _ in range(n):
        shape = rng.choice(SHAPES)
        out["sampler"].append(build_op_graph(SearchSpace(shape, 10).sample(rng), shape, 10))
    for name, groups in (("7 parallel", [7]), ("10 parallel", [10]),
                         ("5+5 parallel", [5, 5]), ("4+3+3 parallel", [4, 3, 3])):
        out[name] = []
        for _ in range(worst):
            shape = rng.choice(SHAPES)
            pre_pool = 1.0 if len(out[name]) % 2 == 0 else 0.5
            arch = parallel_architecture(rng, groups, shape, pre_pool)
            out[name].append(build_op_graph(arch, shape, 10))
    return out


def timed(fn, *args):  # noqa: ANN001, ANN202
    start = time.process_time()
    result = fn(*args)
    return result, time.process_time() - start


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="random architectures")
    parser.add_argument("--worst", type=int, default=40, help="graphs per worst-case family")
    parser.add_argument("--cap", type=float, default=1.0,
                        help="per-graph time cap of the enumeration reference (s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"peak-memory bench: n={args.n} sampler graphs, {args.worst} per worst-case family, "
          f"enumeration cap {args.cap:g} s, CPU time")
    for name, graphs in families(rng, args.n, args.worst).items():
        times, ratios, gains, big_ratios, lower = [], [], [], [], []
        enumerated = capped = 0
        for graph in graphs:
            best, t = timed(optimal_order, graph)
            times.append(t)
            default = default_profile(graph).peak_bytes
            if best.peak_bytes < default:
                gains.append(1 - best.peak_bytes / default)
            problem = compile_graph(graph)
            start = time.process_time()
            try:
                peak, _, count = enumerate_problem(problem, time.perf_counter() + args.cap)
            except EnumerationTimeout:
                capped += 1
                lower.append((time.process_time() - start) / max(t, 1e-9))
                continue
            t_enum = time.process_time() - start
            if peak != best.peak_bytes:
                raise AssertionError(f"enumeration found {peak} B, optimal_order {best.peak_bytes}")
            enumerated += 1
            ratios.append(t_enum / max(t, 1e-9))
            if t_enum >= 0.01:
                big_ratios.append(t_enum / max(t, 1e-9))
        ms = [1000 * t for t in times]
        print(f"\n{name}: {len(graphs)} graphs, {min(len(g.ops) for g in graphs)}-"
              f"{max(len(g.ops) for g in graphs)} ops")
        print(f"  optimal_order: median {statistics.median(ms):.2f} ms, "
              f"p99 {quantile(ms, 0.99):.2f} ms, max {max(ms):.2f} ms")
        if ratios:
            print(f"  enumeration finished on {enumerated} graphs: time ratio enumeration / "
                  f"optimal_order median {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f}x..{max(ratios):.0f}x)")
            if big_ratios:
                print(f"    where enumeration took >= 10 ms ({len(big_ratios)} graphs): median "
                      f"{statistics.median(big_ratios):.0f}x, min {min(big_ratios):.1f}x")
        if capped:
            print(f"  enumeration did not finish within {args.cap:g} s on {capped} graphs: ratio "
                  f"> {statistics.median(lower):.0f}x there (median lower bound)")
        share = 100 * len(gains) / len(graphs)
        if gains:
            print(f"  optimal beats the listed order on {len(gains)}/{len(graphs)} graphs "
                  f"({share:.0f}%), peak lower by median {100 * statistics.median(gains):.1f}%, "
                  f"max {100 * max(gains):.1f}%")
        else:
            print("  the listed order is already optimal on every graph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
