"""Architecture -> layer specs (the walk, single source of truth for shapes) -> op graph."""

from __future__ import annotations

from search_engine.graph.builder import build_op_graph, op_graph_from_specs
from search_engine.graph.opgraph import Op, OpGraph, OpGraphError
from search_engine.graph.walk import INPUT, LayerSpec, walk

__all__ = [
    "INPUT",
    "LayerSpec",
    "Op",
    "OpGraph",
    "OpGraphError",
    "build_op_graph",
    "op_graph_from_specs",
    "walk",
]
