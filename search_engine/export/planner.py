"""A model of TFLM's GreedyMemoryPlanner: the activation area TFLM really lays out.

The analyser's peak (largest working set over the run) is a lower bound on any layout of the
same lifetimes; TFLM's planner is greedy and sometimes needs more (fragmentation). This module
replays the planner on an :class:`OpGraph` and an execution order so that the gap can be
predicted without running TFLM:

- lifetimes as TFLM's AllocationInfoBuilder marks them: graph inputs are created at scope 0,
  op ``i`` (0-based, in execution order) runs at scope ``i + 1``, creating its output and
  using its inputs there; graph outputs live to the last scope; intervals are inclusive, so an
  op's inputs and output overlap;
- every buffer is rounded up to 16 bytes;
- buffers are placed largest first (a stable sort, ties in the order the planner received
  them: tensor order, which for graphs read from ``.tflite`` is the tensor index order), each at
  the lowest offset where it fits between the buffers already placed that overlap it in time.

Kernel scratch buffers are not modelled (the reference kernels of the tested ops request none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from search_engine.graph.opgraph import OpGraph

BUFFER_ALIGNMENT = 16


@dataclass(frozen=True)
class PlannedBuffer:
    tensor: str
    size: int
    first: int
    last: int
    offset: int


def _lifetimes(graph: OpGraph, order: Sequence[str]) -> dict[str, tuple[int, int]]:
    ops = {op.name: op for op in graph.ops}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for t in graph.inputs:
        first.setdefault(t, 0)
    for i, name in enumerate(order):
        op = ops[name]
        scope = i + 1
        first.setdefault(op.output, scope)
        for t in op.inputs:
            last[t] = scope
        last[op.output] = max(last.get(op.output, scope), scope)
    end = len(order)
    for t in graph.outputs:
        last[t] = end
    return {t: (first[t], last.get(t, first[t])) for t in graph.tensors if t in first}


def greedy_plan(graph: OpGraph, order: Sequence[str] | None = None) -> tuple[PlannedBuffer, ...]:
    """TFLM's greedy layout of the activation tensors for ``order`` (default: stored order)."""
    order = [op.name for op in graph.ops] if order is None else list(order)
    life = _lifetimes(graph, order)
    align = BUFFER_ALIGNMENT
    buffers = [
        (t, -(-graph.tensors[t] // align) * align, *life[t])
        for t in graph.tensors
        if t in life and graph.tensors[t] > 0
    ]
    ranked = sorted(range(len(buffers)), key=lambda i: (-buffers[i][1], -i))
    placed: list[PlannedBuffer] = []  # kept sorted by offset
    for i in ranked:
        tensor, size, first, last = buffers[i]
        offset = 0
        for other in placed:
            if other.first > last or first > other.last:
                continue
            if other.offset - offset >= size:
                break
            offset = max(offset, other.offset + other.size)
        entry = PlannedBuffer(tensor, size, first, last, offset)
        pos = 0
        while pos < len(placed) and placed[pos].offset <= offset:
            pos += 1
        placed.insert(pos, entry)
    return tuple(placed)


def greedy_plan_bytes(graph: OpGraph, order: Sequence[str] | None = None) -> int:
    """Size of TFLM's planned activation area (its arena "head" without scratch buffers)."""
    return max((b.offset + b.size for b in greedy_plan(graph, order)), default=0)
