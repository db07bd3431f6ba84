"""What TFLite Micro adds on top of the analytic figures, learnt from measured exports.

The analytic peak counts activations only; the real arena also holds tensor metadata, per-op
runtime data and alignment padding (``export.overhead`` models it from TFLM's structures).
The analytic model size counts int8 weights and int32 biases; the ``.tflite`` file also holds
per-channel quantisation parameters (a float32 scale and an int64 zero point per output channel,
for the weights and again for the bias, of every conv, depthwise *and* dense layer), flatbuffer
tables and tensor names.

Each estimate is a prior plus a per-search correction learnt from the exports measured so far:
a low quantile (the 10th percentile; the smallest while fewer than 10 are measured) of the
residuals (measured - analytic - prior). Taking a low one keeps the estimate on the optimistic
side, so the pre-training check seldom refuses a candidate that could fit, while one odd export
(the converter sometimes folds or shares constants) cannot make every later estimate optimistic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from search_engine.graph.opgraph import OpGraph

# .tflite bytes beyond int8 weights + int32 biases, fitted by least squares on 840 trained and
# exported candidates of bench/search.py (digits, 5-45 ops, 0-180 dense units; residuals p10..p90
# -341..+429 bytes, median +54): per conv op, per dense op, per other op, per conv output channel
# and per dense unit (both: per-channel scales and zero points of weights and biases). The earlier
# prior (26 exports) had no per-unit term and fell short of trained models by 2.7 kB at the
# median; exports of untrained models do not show that cost, as the converter drops zero biases.
FLASH_BASE, FLASH_PER_CONV, FLASH_PER_DENSE, FLASH_PER_OTHER = 553, 659, 512, 198
FLASH_PER_CHANNEL, FLASH_PER_UNIT = 23, 24
#: The residual quantile that corrects each prior, and how many exports it needs.
CORRECTION_QUANTILE, CORRECTION_MIN_SAMPLES = 0.10, 10
_CONV = frozenset({"conv2d", "depthwise_conv2d"})


@dataclass(frozen=True)
class OverheadEstimate:
    sram_bytes: int
    flash_bytes: int
    prior_sram_bytes: int
    prior_flash_bytes: int
    measured_exports: int


def prior_flash(graph: OpGraph) -> int:
    """``.tflite`` bytes beyond int8 weights and int32 biases (an architecture's op graph)."""
    conv = [op for op in graph.ops if op.kind in _CONV]
    dense = [op for op in graph.ops if op.kind == "dense"]
    other = len(graph.ops) - len(conv) - len(dense)
    channels = sum(int(op.attrs["output_shape"][-1]) for op in conv)
    units = sum(int(op.attrs["output_shape"][-1]) for op in dense)
    return max(0, FLASH_BASE + FLASH_PER_CONV * len(conv) + FLASH_PER_DENSE * len(dense)
               + FLASH_PER_OTHER * other + FLASH_PER_CHANNEL * channels + FLASH_PER_UNIT * units)


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


def correction(residuals: list[int]) -> int:
    """The per-search correction of a prior: a low quantile of its residuals (0 without any)."""
    if not residuals:
        return 0
    ordered = sorted(residuals)
    if len(ordered) < CORRECTION_MIN_SAMPLES:
        return ordered[0]
    return ordered[int(CORRECTION_QUANTILE * len(ordered))]


def estimate_overhead(graph: OpGraph, peak_bytes: int,
                      measured: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]] = ()
                      ) -> OverheadEstimate:
    """Overheads of ``graph`` corrected by the (estimates, metrics) of measured exports."""
    sram_prior, flash_prior = prior_sram(graph, peak_bytes), prior_flash(graph)
    sram_res, flash_res = residuals(measured)
    return OverheadEstimate(
        sram_bytes=max(0, sram_prior + correction(sram_res)),
        flash_bytes=max(0, flash_prior + correction(flash_res)),
        prior_sram_bytes=sram_prior, prior_flash_bytes=flash_prior,
        measured_exports=max(len(sram_res), len(flash_res)))
