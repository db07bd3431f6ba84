"""Model size: parameter counts and the bytes of constant data in an int8 TFLite model.

* ``params``: deployed parameters (batch norm folded, one bias per conv/dense output channel);
  the paper counted model size as 1 byte per parameter.
* ``model_size_bytes``: int8 weights (1 byte) + int32 biases (4 bytes), as TFLite stores them.
  Quantisation scales/zero points, the RESHAPE shape tensor and flatbuffer overhead are not
  counted; the exported ``.tflite`` size is measured separately after export.
* ``keras_params``: what Keras ``count_params()`` reports (BN adds 4 per channel, conv bias
  dropped when BN follows).

:class:`ResourceSummary` bundles these with MACs for one architecture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from search_engine.graph.opgraph import OpGraph
from search_engine.graph.walk import LayerSpec, walk
from search_engine.resources.macs import macs_per_op, total_macs
from search_engine.space.architecture import Architecture

Layers = OpGraph | Sequence[LayerSpec]


def _values(layers: Layers, field: str) -> list[int]:
    if isinstance(layers, OpGraph):
        if field == "params":
            return [op.params for op in layers.ops]
        return [int(op.attrs.get(field, 0)) for op in layers.ops]
    return [getattr(spec, field) for spec in layers]


def params(layers: Layers) -> int:
    """Deployed parameter count (the paper's model size in bytes, 1 byte per parameter)."""
    return sum(_values(layers, "params"))


def keras_params(layers: Layers) -> int:
    """Parameter count of the Keras training model (``model.count_params()``)."""
    return sum(_values(layers, "keras_params"))


def model_size_bytes(layers: Layers) -> int:
    """Bytes of int8 weights plus int32 biases (graphs from ``graph.builder`` carry these)."""
    return sum(_values(layers, "weight_bytes"))


@dataclass(frozen=True)
class ResourceSummary:
    """Static resource figures of one architecture (peak memory lives in ``peak_memory``)."""

    params: int
    keras_params: int
    model_size_bytes: int
    macs: int
    macs_per_op: dict[str, int]


def summarise_specs(specs: Sequence[LayerSpec]) -> ResourceSummary:
    """Resource summary of already-walked layer specs."""
    return ResourceSummary(
        params=params(specs),
        keras_params=keras_params(specs),
        model_size_bytes=model_size_bytes(specs),
        macs=total_macs(specs),
        macs_per_op=macs_per_op(specs),
    )


def summarise(
    arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
) -> ResourceSummary:
    """Resource summary of ``arch`` for inputs of ``input_shape`` and ``num_classes`` classes."""
    return summarise_specs(walk(arch, input_shape, num_classes))
