"""What the candidate page shows beyond the API's stored figures: the per-op table and the
memory timelines of the optimal and of the default (listed) execution order.

Everything is derived from the candidate's architecture and target sparsity with the same
TF-free functions the search uses (``graph.pruned.pruned_specs`` -> ``graph`` -> ``resources``),
so the table, the timelines and the search's predicted peak cannot disagree. The deployed model
is the *pruned* network, so that is the one analysed; the unpruned channel counts are kept
beside it for the diagram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from search_engine.graph.walk import LayerSpec

#: Names of the TFLite Micro op resolver methods for the walk's op kinds (the header's comment
#: lists the exact ones of the exported model).
RESOLVER_METHODS = {"conv2d": "AddConv2D", "depthwise_conv2d": "AddDepthwiseConv2D",
                    "max_pool": "AddMaxPool2D", "avg_pool": "AddAveragePool2D", "add": "AddAdd",
                    "reshape": "AddReshape", "dense": "AddFullyConnected"}


class AnalysisError(ValueError):
    """The stored architecture cannot be analysed (never expected for a search's candidates)."""


@dataclass(frozen=True)
class OpRow:
    """One deployed operator of the pruned network, as the per-op table lists it."""

    name: str
    kind: str
    source: str | None
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    output_bytes: int
    params: int
    weight_bytes: int
    macs: int
    kernel: tuple[int, int] | None
    strides: tuple[int, int] | None
    relu: bool
    batch_norm: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source,
                "inputs": list(self.inputs), "output_shape": list(self.output_shape),
                "output_bytes": self.output_bytes, "params": self.params,
                "weight_bytes": self.weight_bytes, "macs": self.macs,
                "kernel": list(self.kernel) if self.kernel else None,
                "strides": list(self.strides) if self.strides else None,
                "relu": self.relu, "batch_norm": self.batch_norm}


def op_row(spec: LayerSpec) -> OpRow:
    kernel = spec.kernel_size or spec.pool_size
    return OpRow(name=spec.name, kind=spec.kind, source=spec.source, inputs=spec.inputs,
                 output_shape=tuple(spec.output_shape),
                 output_bytes=math.prod(spec.output_shape),  # int8: one byte per element
                 params=spec.params, weight_bytes=spec.weight_bytes, macs=spec.macs,
                 kernel=tuple(kernel) if kernel else None,
                 strides=tuple(spec.strides) if spec.strides else None,
                 relu=spec.relu, batch_norm=spec.batch_norm)


def _profile_json(profile: Any) -> dict[str, Any]:
    steps = [step.to_json() for step in profile.timeline]
    peak_step = next(i for i, s in enumerate(profile.timeline) if s.total == profile.peak_bytes)
    return {"order": list(profile.order), "peak_bytes": profile.peak_bytes,
            "paper_peak_bytes": profile.paper_peak_bytes, "peak_step": peak_step,
            "timeline": steps}


def candidate_analysis(architecture: dict[str, Any], sparsity: float,
                       input_shape: tuple[int, int, int] | list[int],
                       num_classes: int) -> dict[str, Any]:
    """The per-op table, totals and both memory timelines of a candidate's pruned network.

    Raises :class:`AnalysisError` with a one-line message for an architecture that is not
    valid JSON of the search space or a bad sparsity.
    """
    from search_engine.resources import default_profile
    from search_engine.resources.pruned import analyse_pruned
    from search_engine.space import architecture_from_json
    from search_engine.space.errors import ArchitectureError
    from search_engine.space.pruned import pruned_architecture_to_json

    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise AnalysisError(f"input shape must be three positive integers (got {list(shape)})")
    try:
        figures = analyse_pruned(architecture_from_json(architecture), sparsity, shape,
                                 int(num_classes))
    except (ArchitectureError, ValueError, TypeError, KeyError) as exc:
        raise AnalysisError(f"cannot analyse this architecture: {exc}") from None
    pruned, specs, graph, summary = (figures.architecture, figures.specs, figures.graph,
                                     figures.summary)
    kinds = sorted({spec.kind for spec in specs})
    return {
        "input_shape": list(shape),
        "input_bytes": math.prod(shape),
        "num_classes": int(num_classes),
        "sparsity": float(sparsity),
        "pruned_architecture": pruned_architecture_to_json(pruned),
        "ops": [op_row(spec).to_json() for spec in specs],
        "totals": {"params": summary.params, "model_size_bytes": summary.model_size_bytes,
                   "macs": summary.macs, "ops": len(specs)},
        "resolver": [RESOLVER_METHODS[k] for k in kinds if k in RESOLVER_METHODS],
        "optimal": _profile_json(figures.best),
        "default": _profile_json(default_profile(graph)),
    }
