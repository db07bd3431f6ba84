"""Measure TFLM arenas of random search-space architectures (the data behind ``overhead``).

    .venv/bin/python bench/measure_overhead.py --shape 28x28x1 --count 10 --seed 1

For each random architecture: build the (untrained) Keras model, convert it to int8, read its
op graph, measure the smallest arena in TFLM, and print one JSON line with the measured
figures (arena, TFLM's head/tail split), the predictions (activation peak of the stored order,
greedy-plan model, overhead/arena estimates) and the counts they are computed from. Untrained
weights are fine: arena sizes do not depend on weight values. Takes ~1-3 s per model.

A measurement script, not library code (it builds Keras models, so inside ``export`` it made an
export -> train import cycle): it lives with the benches.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search_engine.graph.opgraph import OpGraph  # noqa: E402


def _stored_order_peak(graph: OpGraph) -> int:
    """Working-set peak of the stored order (the project's semantics; analyser-free)."""
    ops = graph.ops
    last: dict[str, int] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            last[t] = i
    live = {t: graph.tensors[t] for t in graph.inputs}
    peak = sum(live.values())
    for i, op in enumerate(ops):
        live[op.output] = graph.tensors[op.output]
        peak = max(peak, sum(live.values()))
        for t in {*op.inputs, op.output}:
            if last.get(t, i) == i and t not in graph.outputs:
                live.pop(t, None)
    return peak


def measure(shape: tuple[int, int, int], count: int, seed: int, num_classes: int = 10) -> None:
    import numpy as np

    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.overhead import (
        estimate_tflm_arena,
        estimate_tflm_overhead,
        estimate_tflm_tail,
        tflm_counts,
    )
    from search_engine.export.planner import greedy_plan_bytes
    from search_engine.export.tflite_graph import op_graph_from_tflite_bytes
    from search_engine.export.tflm import measure_arena
    from search_engine.space.search_space import SearchSpace
    from search_engine.train.keras_builder import build_keras_model

    space = SearchSpace(input_shape=shape, num_classes=num_classes)
    rng = random.Random(seed)
    x = np.random.default_rng(seed).random((16, *shape)).astype(np.float32)
    for k in range(count):
        arch = space.sample(rng)
        start = time.perf_counter()
        tflite = convert_to_int8_tflite(build_keras_model(arch, shape, num_classes), x,
                                        num_samples=8)
        graph = op_graph_from_tflite_bytes(tflite)
        peak = _stored_order_peak(graph)
        m = measure_arena(tflite)
        row = {
            "model": f"{'x'.join(map(str, shape))}-seed{seed}-{k}",
            "ops": len(graph.ops),
            "tflite_bytes": len(tflite),
            "peak": peak,
            "arena": m.arena_bytes,
            "head": m.head_bytes,
            "tail": m.tail_bytes,
            "greedy_plan": greedy_plan_bytes(graph),
            "tail_estimate": estimate_tflm_tail(graph),
            "overhead": m.arena_bytes - peak,
            "overhead_estimate": estimate_tflm_overhead(graph, activation_peak=peak),
            "arena_estimate": estimate_tflm_arena(graph),
            "counts": tflm_counts(graph).__dict__,
            "probes": m.probes,
            "crashes": m.crashes,
            "seconds": round(time.perf_counter() - start, 2),
        }
        print(json.dumps(row), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="28x28x1", help="input H x W x C, e.g. 32x32x3")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        h, w, c = (int(v) for v in args.shape.lower().split("x"))
    except ValueError:
        parser.error(f"--shape must look like 28x28x1, got {args.shape!r}")
    measure((h, w, c), args.count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
