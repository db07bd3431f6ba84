"""The generic operator graph that every resource model reads.

An :class:`OpGraph` is what the memory analyser needs to know about a network and nothing
more: named tensors with their sizes in bytes, which tensors are graph inputs and outputs, and
operators that read some tensors and write exactly one. Ops are listed in a valid (topological)
execution order, the "default" order. The same structure comes from an architecture (see
``graph.builder``), from an op-graph JSON file, or from a ``.tflite`` file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class OpGraphError(ValueError):
    """An op graph that is malformed (cycle, unknown tensor, bad size, ...)."""


@dataclass(frozen=True)
class Op:
    """One operator: reads ``inputs`` (tensor names, possibly repeated) and writes ``output``."""

    name: str
    inputs: tuple[str, ...]
    output: str
    macs: int = 0
    params: int = 0
    kind: str = ""
    attrs: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class OpGraph:
    """Tensors (name -> bytes), graph inputs/outputs and ops in a valid default order."""

    tensors: dict[str, int]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ops: tuple[Op, ...]
