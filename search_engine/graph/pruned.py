"""Layer specs of pruned networks: ``graph.walk`` for the architectures structured pruning
leaves (``space.pruned``), whose hidden dense layers may have fewer units than the search
space's minimum (TensorFlow-free)."""

from __future__ import annotations

import math
from dataclasses import replace

from search_engine.graph.walk import BIAS_BYTES, LayerSpec, walk
from search_engine.space.architecture import MIN_UNITS, Architecture, DenseLayer
from search_engine.space.pruned import pruned_architecture


def pruned_walk(
    arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
) -> tuple[LayerSpec, ...]:
    """``graph.walk`` for architectures whose hidden dense layers may have 1..9 units.

    Equal to ``walk(arch, ...)`` for valid architectures. Otherwise the convolutional part is
    walked with the small dense layers raised to the minimum and the dense specs (units,
    parameters, bytes, MACs) are recomputed with the real unit counts.
    """
    units = [layer.units for layer in arch.dense]
    if all(isinstance(u, int) and u >= MIN_UNITS for u in units):
        return walk(arch, input_shape, num_classes)
    if any(not isinstance(u, int) or isinstance(u, bool) or u < 1 for u in units):
        raise ValueError(f"dense units must be positive integers (got {units})")
    proxy = replace(arch, dense=tuple(DenseLayer(max(u, MIN_UNITS)) for u in units))
    specs = list(walk(proxy, input_shape, num_classes))
    shapes: dict[str, tuple[int, ...]] = {}
    for n, spec in enumerate(specs):
        if spec.kind == "dense":
            if spec.name == "classifier":
                out = num_classes
            else:
                out = units[int(spec.name[len("dense") :])]
            n_in = math.prod(shapes[spec.inputs[0]])
            weights = n_in * out
            spec = replace(
                spec,
                output_shape=(out,),
                units=out,
                params=weights + out,
                keras_params=weights + out,
                weight_bytes=weights + BIAS_BYTES * out,
                macs=weights,
            )
            specs[n] = spec
        shapes[spec.name] = spec.output_shape
    return tuple(specs)


def pruned_specs(
    arch: Architecture, sparsity: float, input_shape: tuple[int, int, int], num_classes: int
) -> tuple[LayerSpec, ...]:
    """Layer specs of the pruned network (feed them to ``graph.op_graph_from_specs`` and
    ``resources.summarise_specs`` for its resource figures before training)."""
    return pruned_walk(pruned_architecture(arch, sparsity, input_shape), input_shape, num_classes)
