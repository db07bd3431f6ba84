"""What TFLite Micro adds on top of the analytic figures, learnt from measured exports.

The analytic peak counts activations only; the real arena also holds tensor metadata, per-op
runtime data and alignment padding. The analytic model size counts int8 weights and int32
biases; the ``.tflite`` file also holds the flatbuffer tables, quantisation parameters and
names. Both overheads grow with the number of ops and tensors.

The estimate has a prior (a linear formula in the op count, fitted to exports of random
architectures, see ``docs/search.md``) and a per-search correction learnt from the exports the
search has measured so far: the smallest residual (measured - analytic - prior) seen. Taking the
smallest keeps the estimate on the optimistic side, so the pre-training check never refuses a
candidate that an export of a similar model showed could fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Prior coefficients: bytes = base + per_op * n_ops. Measured on random architectures
# (bench/train.py); conservative-low so that the prior alone rarely rejects a feasible model.
SRAM_BASE, SRAM_PER_OP = 1000, 60
FLASH_BASE, FLASH_PER_OP = 1400, 120


@dataclass(frozen=True)
class OverheadEstimate:
    sram_bytes: int
    flash_bytes: int
    measured_exports: int


def prior_sram(n_ops: int) -> int:
    return SRAM_BASE + SRAM_PER_OP * n_ops


def prior_flash(n_ops: int) -> int:
    return FLASH_BASE + FLASH_PER_OP * n_ops


def _residuals(measured: Iterable[Mapping[str, Any]]) -> tuple[list[int], list[int]]:
    sram, flash = [], []
    for m in measured:
        n_ops = m.get("n_ops") or len(m.get("op_order") or ())
        if not n_ops:
            continue
        if m.get("tflm_arena_bytes") is not None and m.get("peak_memory_bytes") is not None:
            sram.append(m["tflm_arena_bytes"] - m["peak_memory_bytes"] - prior_sram(n_ops))
        if m.get("tflite_bytes") is not None and m.get("model_size_bytes") is not None:
            flash.append(m["tflite_bytes"] - m["model_size_bytes"] - prior_flash(n_ops))
    return sram, flash


def estimate_overhead(n_ops: int, measured: Iterable[Mapping[str, Any]] = ()
                      ) -> OverheadEstimate:
    """Overhead for a model of ``n_ops`` ops, corrected by the metrics of measured exports."""
    sram_residuals, flash_residuals = _residuals(measured)
    sram = prior_sram(n_ops) + (min(sram_residuals) if sram_residuals else 0)
    flash = prior_flash(n_ops) + (min(flash_residuals) if flash_residuals else 0)
    return OverheadEstimate(max(0, sram), max(0, flash),
                            max(len(sram_residuals), len(flash_residuals)))
