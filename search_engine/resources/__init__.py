"""Resource models: peak memory (optimal order + timeline), model size, MACs.

Peak memory lives in :mod:`peak_memory` (semantics and algorithms: ``docs/peak-memory.md``);
model size and MACs in :mod:`model_size` and :mod:`macs`.
"""

from __future__ import annotations

from search_engine.resources.macs import macs_per_op, total_macs
from search_engine.resources.model_size import (
    ResourceSummary,
    keras_params,
    model_size_bytes,
    params,
    summarise,
    summarise_specs,
)
from search_engine.resources.peak_memory import (
    MemoryProfile,
    MemoryStep,
    OrderError,
    default_profile,
    evaluate_order,
    optimal_order,
)

__all__ = [
    "MemoryProfile",
    "MemoryStep",
    "OrderError",
    "ResourceSummary",
    "default_profile",
    "evaluate_order",
    "keras_params",
    "macs_per_op",
    "model_size_bytes",
    "optimal_order",
    "params",
    "summarise",
    "summarise_specs",
    "total_macs",
]
