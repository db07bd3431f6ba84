"""Resource figures of the network a candidate becomes after structured pruning, before
training: the one place that walks a pruned architecture, builds its op graph, sums its size
and MACs and finds its memory-optimal order (TensorFlow-free).

Used by the search's pre-training check (``search.setup.analyse``), the report of a candidate
stopped early (``train.pipeline.stopped_report``), the export's predicted figures
(``train.pipeline.train_and_export``) and the dashboard's per-op analysis
(``frontend.analysis``).
"""

from __future__ import annotations

from dataclasses import dataclass

from search_engine.graph.builder import op_graph_from_specs
from search_engine.graph.opgraph import OpGraph
from search_engine.graph.pruned import pruned_walk
from search_engine.graph.walk import LayerSpec
from search_engine.resources.model_size import ResourceSummary, summarise_specs
from search_engine.resources.peak_memory import MemoryProfile, optimal_order
from search_engine.space.architecture import Architecture
from search_engine.space.pruned import pruned_architecture
from search_engine.space.search_space import int_shape


@dataclass(frozen=True)
class PrunedAnalysis:
    """A pruned network's layer specs, op graph, size/MACs summary and optimal order."""

    architecture: Architecture  # the pruned architecture
    specs: tuple[LayerSpec, ...]
    graph: OpGraph
    summary: ResourceSummary
    best: MemoryProfile  # the memory-optimal operator order

    @property
    def peak_memory_bytes(self) -> int:
        return self.best.peak_bytes


def analyse_walk(pruned: Architecture, input_shape: tuple[int, int, int],
                 num_classes: int) -> PrunedAnalysis:
    """The figures of an architecture that is pruned already (hidden dense layers may be
    below the search space's minimum)."""
    shape = int_shape(input_shape)
    specs = pruned_walk(pruned, shape, int(num_classes))
    graph = op_graph_from_specs(specs, shape)
    return PrunedAnalysis(pruned, specs, graph, summarise_specs(specs), optimal_order(graph))


def analyse_pruned(arch: Architecture, sparsity: float, input_shape: tuple[int, int, int],
                   num_classes: int) -> PrunedAnalysis:
    """The figures of ``arch`` after pruning to ``sparsity`` (``space.pruned``)."""
    shape = int_shape(input_shape)
    return analyse_walk(pruned_architecture(arch, sparsity, shape), shape, num_classes)
