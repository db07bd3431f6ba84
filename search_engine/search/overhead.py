"""What TFLite Micro adds on top of the analytic figures, learnt from measured exports.

The analytic peak counts activations only; the real arena also holds tensor metadata, per-op
runtime data and alignment padding (``export.overhead`` models it from TFLM's structures).
The analytic model size counts int8 weights and int32 biases; the ``.tflite`` file also holds
per-channel quantisation parameters, flatbuffer tables and names.

Each estimate is a prior plus a per-search correction learnt from the exports measured so far:
the smallest residual (measured - analytic - prior) seen. Taking the smallest keeps the estimate
on the optimistic side, so the pre-training check does not refuse a candidate that an export of
a similar model showed could fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from search_engine.graph.opgraph import OpGraph

# .tflite bytes beyond int8 weights + int32 biases, fitted by least squares on 26 random
# architectures (8x8x1 to 32x32x3 inputs, 5-45 ops; residuals -530..+845 bytes): per conv op,
# per dense op, per other op, per conv output channel (per-channel scales and zero points).
FLASH_BASE, FLASH_PER_CONV, FLASH_PER_DENSE, FLASH_PER_OTHER, FLASH_PER_CHANNEL = \
    115, 598, 799, -18, 30
_CONV = frozenset({"conv2d", "depthwise_conv2d"})


@dataclass(frozen=True)
class OverheadEstimate:
    sram_bytes: int
    flash_bytes: int
    prior_sram_bytes: int
    prior_flash_bytes: int
    measured_exports: int


def prior_flash(graph: OpGraph) -> int:
    conv = [op for op in graph.ops if op.kind in _CONV]
    dense = sum(op.kind == "dense" for op in graph.ops)
    other = len(graph.ops) - len(conv) - dense
    channels = sum(int(op.attrs["output_shape"][-1]) for op in conv)
    return max(0, FLASH_BASE + FLASH_PER_CONV * len(conv) + FLASH_PER_DENSE * dense
               + FLASH_PER_OTHER * other + FLASH_PER_CHANNEL * channels)


def prior_sram(graph: OpGraph, peak_bytes: int) -> int:
    from search_engine.export.overhead import estimate_tflm_overhead

    return estimate_tflm_overhead(graph, activation_peak=peak_bytes)


def residuals(measured: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]
              ) -> tuple[list[int], list[int]]:
    """(sram, flash) residuals of (precheck estimates, metrics) pairs of measured exports."""
    sram, flash = [], []
    for estimates, metrics in measured:
        if "prior_sram_bytes" not in estimates:
            continue
        if metrics.get("tflm_arena_bytes") is not None:
            sram.append(metrics["tflm_arena_bytes"] - estimates["peak_memory_bytes"]
                        - estimates["prior_sram_bytes"])
        if metrics.get("tflite_bytes") is not None:
            flash.append(metrics["tflite_bytes"] - estimates["model_size_bytes"]
                         - estimates["prior_flash_bytes"])
    return sram, flash


def estimate_overhead(graph: OpGraph, peak_bytes: int,
                      measured: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]] = ()
                      ) -> OverheadEstimate:
    """Overheads of ``graph`` corrected by the (estimates, metrics) of measured exports."""
    sram_prior, flash_prior = prior_sram(graph, peak_bytes), prior_flash(graph)
    sram_res, flash_res = residuals(measured)
    return OverheadEstimate(
        sram_bytes=max(0, sram_prior + (min(sram_res) if sram_res else 0)),
        flash_bytes=max(0, flash_prior + (min(flash_res) if flash_res else 0)),
        prior_sram_bytes=sram_prior, prior_flash_bytes=flash_prior,
        measured_exports=max(len(sram_res), len(flash_res)))
