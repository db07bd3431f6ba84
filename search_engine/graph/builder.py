"""Architecture -> :class:`OpGraph`: one op per :class:`LayerSpec` of the walk, int8 tensors.

The graph input ``"input"`` holds H*W*C bytes (int8, batch 1); each op writes one tensor named
after it, of prod(output_shape) bytes; the graph output is the classifier's logits. Batch norm
is folded into its conv and ReLU is fused, so neither is a separate op.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import fields
from typing import cast

from search_engine.graph.opgraph import Op, OpGraph
from search_engine.graph.walk import INPUT, LayerSpec, walk
from search_engine.space.architecture import Architecture

_ATTR_FIELDS = tuple(f.name for f in fields(LayerSpec) if f.name not in ("name", "inputs", "kind"))


def op_graph_from_specs(
    specs: Sequence[LayerSpec], input_shape: tuple[int, int, int]
) -> OpGraph:
    """The op graph of already-walked ``specs`` (``attrs`` holds every spec field)."""
    tensors = {INPUT: math.prod(input_shape)}
    ops = []
    for spec in specs:
        tensors[spec.name] = spec.output_elements
        attrs = {name: getattr(spec, name) for name in _ATTR_FIELDS}
        ops.append(
            Op(
                name=spec.name,
                inputs=spec.inputs,
                output=spec.name,
                macs=spec.macs,
                params=spec.params,
                kind=spec.kind,
                attrs=attrs,
            )
        )
    return OpGraph(tensors=tensors, inputs=(INPUT,), outputs=(specs[-1].name,), ops=tuple(ops))


def build_op_graph(
    arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
) -> OpGraph:
    """The int8 op graph of ``arch`` for inputs of ``input_shape`` and ``num_classes`` logits."""
    shape = cast("tuple[int, int, int]", tuple(input_shape))
    return op_graph_from_specs(walk(arch, input_shape, num_classes), shape)
