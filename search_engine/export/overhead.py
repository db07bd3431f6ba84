"""Estimate of TFLM's arena beyond the activations, fitted to arenas measured on exports.

TFLM's smallest working arena (measured by :func:`search_engine.export.tflm.find_min_arena`)
is ``tail + max(head, init)`` bytes (all figures on the 64-bit host build of TFLM):

- ``head``: the greedy memory plan of the activations (:mod:`search_engine.export.planner`);
  equal to the analyser's peak (rounded to 16 bytes per tensor) unless the greedy planner
  fragments;
- ``tail``: persistent data: per tensor a TfLiteEvalTensor, per op a NodeAndRegistration and
  the kernel's op data, per output channel of a conv / depthwise conv / dense layer an int32
  multiplier and shift (8 bytes), plus fixed interpreter structures;
- ``init``: the temporary memory that AllocateTensors needs while planning (an AllocationInfo
  per tensor, constants included, and the planner's per-buffer arrays). It only decides the
  arena when the activations are tiny.

Fitted on 44 random search-space architectures (28x28x1 and 32x32x3 inputs, 5-45 ops; see
``docs/export.md``) and rounded so that it covers every measurement:

    tail = 900 + 260 * conv_ops + 225 * dense_ops + 160 * other_ops + 8 * channels
    init = 32 * all_tensors + 40 * activation_tensors + 512

where ``channels`` sums the output channels of conv, depthwise and dense ops and
``all_tensors`` counts activations plus constants (2 per conv/depthwise/dense op: weights and
bias; 1 per reshape: its shape). The tail is over-estimated by at most ~260 bytes on the fit
data. On a 32-bit MCU the pointer-sized fields of these structures are half as big, so the
estimate (and the host measurement) is conservative there.
"""

from __future__ import annotations

from dataclasses import dataclass

from search_engine.graph.opgraph import OpGraph

TAIL_BASE = 900
TAIL_PER_CONV = 260
TAIL_PER_DENSE = 225
TAIL_PER_OTHER = 160
TAIL_PER_CHANNEL = 8
INIT_PER_TENSOR = 32
INIT_PER_ACTIVATION = 40
INIT_BASE = 512
ALIGN_PER_ACTIVATION = 16  # TFLM rounds every activation buffer up to 16 bytes

# Op kinds of both op-graph sources: the architecture builder and .tflite files.
_CONV_KINDS = frozenset({"conv2d", "depthwise_conv2d", "CONV_2D", "DEPTHWISE_CONV_2D"})
_DENSE_KINDS = frozenset({"dense", "FULLY_CONNECTED"})
_RESHAPE_KINDS = frozenset({"reshape", "RESHAPE"})


@dataclass(frozen=True)
class TflmCounts:
    """What the overhead depends on (see the module docstring)."""

    conv_ops: int
    dense_ops: int
    other_ops: int
    channels: int
    activation_tensors: int
    constant_tensors: int


def tflm_counts(graph: OpGraph) -> TflmCounts:
    """Counts of an op graph from the architecture builder or from a ``.tflite`` file."""
    conv = dense = other = channels = constants = 0
    for op in graph.ops:
        shape = op.attrs.get("output_shape") or ()
        if op.kind in _CONV_KINDS or op.kind in _DENSE_KINDS:
            if op.kind in _CONV_KINDS:
                conv += 1
            else:
                dense += 1
            channels += int(shape[-1]) if shape else 0
            constants += 2
        else:
            other += 1
            constants += 1 if op.kind in _RESHAPE_KINDS else 0
    return TflmCounts(conv, dense, other, channels, len(graph.tensors), constants)


def _counts(graph_or_counts: OpGraph | TflmCounts) -> TflmCounts:
    if isinstance(graph_or_counts, TflmCounts):
        return graph_or_counts
    return tflm_counts(graph_or_counts)


def estimate_tflm_tail(graph_or_counts: OpGraph | TflmCounts) -> int:
    """Persistent arena bytes (TFLM's "tail")."""
    c = _counts(graph_or_counts)
    return (TAIL_BASE + TAIL_PER_CONV * c.conv_ops + TAIL_PER_DENSE * c.dense_ops
            + TAIL_PER_OTHER * c.other_ops + TAIL_PER_CHANNEL * c.channels)


def estimate_tflm_init(graph_or_counts: OpGraph | TflmCounts) -> int:
    """Temporary bytes that AllocateTensors needs beside the tail while it plans."""
    c = _counts(graph_or_counts)
    return (INIT_PER_TENSOR * (c.activation_tensors + c.constant_tensors)
            + INIT_PER_ACTIVATION * c.activation_tensors + INIT_BASE)


def estimate_tflm_overhead(
    graph_or_counts: OpGraph | TflmCounts, *, activation_peak: int | None = None
) -> int:
    """Bytes to add to the activation peak to get TFLM's arena (conservative).

    With ``activation_peak`` (the analyser's peak for the order that will be exported) the
    estimate is ``tail + align + max(0, init - peak)``; without it, ``tail + align + init`` (an
    upper bound for any peak). ``align`` = 16 bytes per activation tensor covers TFLM's
    rounding of each buffer to 16 bytes. Greedy-planner fragmentation is not included (none on
    most orders measured, up to ~15 % of the peak on some; use
    :func:`search_engine.export.planner.greedy_plan_bytes` to predict it exactly).
    """
    c = _counts(graph_or_counts)
    tail = estimate_tflm_tail(c) + ALIGN_PER_ACTIVATION * c.activation_tensors
    init = estimate_tflm_init(c)
    if activation_peak is None:
        return tail + init
    return tail + max(0, init - int(activation_peak))


def estimate_tflm_arena(graph: OpGraph, order: list[str] | None = None) -> int:
    """Estimated smallest arena for running ``graph`` in ``order`` (default: stored order):
    ``tail + max(greedy plan, init)``, rounded up to 16 bytes."""
    from search_engine.export.planner import greedy_plan_bytes

    head = greedy_plan_bytes(graph, order)
    arena = estimate_tflm_tail(graph) + max(head, estimate_tflm_init(graph))
    return -(-arena // 16) * 16
