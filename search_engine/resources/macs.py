"""MACs (multiply-accumulates), the latency proxy of paper Fig. 2, per op and in total.

Full conv: H_out*W_out*K*K*C_in*C_out; depthwise: H_out*W_out*K*K*C; 1x1:
H_out*W_out*C_in*C_out; dense: in*out; pooling, add and reshape: 0. The numbers come from the
architecture walk (``graph.walk``); these functions only add them up.
"""

from __future__ import annotations

from collections.abc import Sequence

from search_engine.graph.opgraph import Op, OpGraph
from search_engine.graph.walk import LayerSpec

Layers = OpGraph | Sequence[LayerSpec]


def _items(layers: Layers) -> Sequence[Op | LayerSpec]:
    return layers.ops if isinstance(layers, OpGraph) else layers


def macs_per_op(layers: Layers) -> dict[str, int]:
    """Op name -> MACs, in execution order, for an op graph or a tuple of layer specs."""
    return {item.name: item.macs for item in _items(layers)}


def total_macs(layers: Layers) -> int:
    """Total MACs of an op graph or a tuple of layer specs."""
    return sum(item.macs for item in _items(layers))
