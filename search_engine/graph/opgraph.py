"""The generic operator graph that every resource model reads.

An :class:`OpGraph` is what the memory analyser needs to know about a network and nothing
more: named tensors with their sizes in bytes, which tensors are graph inputs and outputs, and
operators that read some tensors and write exactly one. Ops are listed in a valid (topological)
execution order, the "default" order. The same structure comes from an architecture (see
``graph.builder``), from an op-graph JSON file, or from a ``.tflite`` file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class OpGraph:
    """Tensors (name -> bytes), graph inputs/outputs and ops in a valid default order."""

    tensors: dict[str, int]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    ops: tuple[Op, ...]

    @classmethod
    def from_json(cls, obj: object) -> OpGraph:
        """Parse and fully validate an op-graph JSON object (see :func:`op_graph_from_json`)."""
        return op_graph_from_json(obj)

    def to_json(self) -> dict[str, Any]:
        """The op-graph JSON object of this graph (see :func:`op_graph_to_json`)."""
        return op_graph_to_json(self)

    def validate(self) -> None:
        """Raise :class:`OpGraphError` unless this graph is well formed (see
        :func:`validate_op_graph`)."""
        validate_op_graph(self)


# --- JSON form and validation -------------------------------------------------------------
#
# {"tensors": {"in": 784, "t0": 1568, "out": 10}, "inputs": ["in"], "outputs": ["out"],
#  "ops": [{"name": "conv0", "inputs": ["in"], "output": "t0"},
#          {"name": "fc", "inputs": ["t0"], "output": "out"}]}
#
# Optional per-op keys: "macs", "params" (non-negative integers), "kind" (string), "attrs"
# (object). Every error is an OpGraphError whose message is one line naming the problem.


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise OpGraphError(f"{what} must be a non-empty string (got {value!r})")
    return value


def _str_list(value: object, what: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise OpGraphError(f"{what} must be a list of tensor names (got {type(value).__name__})")
    return tuple(_name(v, f"{what}[{i}]") for i, v in enumerate(value))


def validate_op_graph(graph: OpGraph) -> None:
    """Raise :class:`OpGraphError` naming the first problem of ``graph``, if any.

    Checks: sizes are non-negative integers (not bool/float); names are non-empty strings;
    op names and graph inputs/outputs are unique; every tensor an op reads or writes is
    declared; no tensor is written twice and no graph input is written; every tensor read is a
    graph input or written by some op; the graph has no cycle and the listed op order is a
    valid execution order; every graph output is a graph input or written by some op; there is
    at least one op.
    """
    if not isinstance(graph.tensors, dict):
        raise OpGraphError("tensors must be an object mapping tensor names to byte sizes")
    for name, size in graph.tensors.items():
        _name(name, "tensor name")
        if not _is_int(size):
            raise OpGraphError(
                f"tensor {name!r}: size must be a non-negative integer number of bytes "
                f"(got {size!r})"
            )
        if size < 0:
            raise OpGraphError(f"tensor {name!r}: size must be non-negative (got {size})")
    inputs = _str_list(graph.inputs, "inputs")
    outputs = _str_list(graph.outputs, "outputs")
    for what, names in (("inputs", inputs), ("outputs", outputs)):
        seen: set[str] = set()
        for n in names:
            if n not in graph.tensors:
                raise OpGraphError(f"{what}: unknown tensor {n!r} (not in tensors)")
            if n in seen:
                raise OpGraphError(f"{what}: tensor {n!r} listed twice")
            seen.add(n)
    if not isinstance(graph.ops, list | tuple):
        raise OpGraphError("ops must be a list")
    if not graph.ops:
        raise OpGraphError("the graph has no ops")
    op_names: set[str] = set()
    producer: dict[str, str] = {}
    graph_inputs = set(inputs)
    for i, op in enumerate(graph.ops):
        if not isinstance(op, Op):
            raise OpGraphError(f"ops[{i}] is not an Op")
        _name(op.name, f"ops[{i}].name")
        if op.name in op_names:
            raise OpGraphError(f"duplicate op name {op.name!r}")
        op_names.add(op.name)
        reads = _str_list(op.inputs, f"op {op.name!r} inputs")
        out = _name(op.output, f"op {op.name!r} output")
        for t in (*reads, out):
            if t not in graph.tensors:
                raise OpGraphError(f"op {op.name!r}: unknown tensor {t!r} (not in tensors)")
        if out in graph_inputs:
            raise OpGraphError(f"op {op.name!r} writes graph input {out!r}")
        if out in producer:
            raise OpGraphError(
                f"tensor {out!r} is written twice (by {producer[out]!r} and {op.name!r})"
            )
        producer[out] = op.name
        for field_name in ("macs", "params"):
            value = getattr(op, field_name)
            if not _is_int(value) or value < 0:
                raise OpGraphError(
                    f"op {op.name!r}: {field_name} must be a non-negative integer (got {value!r})"
                )
    for op in graph.ops:
        for t in op.inputs:
            if t not in graph_inputs and t not in producer:
                raise OpGraphError(
                    f"op {op.name!r} reads tensor {t!r}, which is neither a graph input nor "
                    "written by any op"
                )
    for t in outputs:
        if t not in graph_inputs and t not in producer:
            raise OpGraphError(f"graph output {t!r} is not written by any op")
    _check_acyclic_and_order(graph, graph_inputs, producer)


def _check_acyclic_and_order(
    graph: OpGraph, graph_inputs: set[str], producer: dict[str, str]
) -> None:
    deps = {op.name: {producer[t] for t in op.inputs if t not in graph_inputs} for op in graph.ops}
    # Cycle check (Kahn) first, so that a cyclic graph is reported as such.
    indegree = {name: len(d) for name, d in deps.items()}
    users: dict[str, list[str]] = {name: [] for name in deps}
    for name, d in deps.items():
        for p in d:
            users[p].append(name)
    ready = [name for name, k in indegree.items() if k == 0]
    done = 0
    while ready:
        name = ready.pop()
        done += 1
        for u in users[name]:
            indegree[u] -= 1
            if indegree[u] == 0:
                ready.append(u)
    if done != len(deps):
        stuck = sorted(name for name, k in indegree.items() if k > 0)
        raise OpGraphError(f"the graph has a cycle (through ops {', '.join(map(repr, stuck[:4]))})")
    position = {op.name: i for i, op in enumerate(graph.ops)}
    for op in graph.ops:
        for t in op.inputs:
            if t in graph_inputs:
                continue
            p = producer[t]
            if position[p] > position[op.name]:
                raise OpGraphError(
                    f"the listed op order is not a valid execution order: op {op.name!r} reads "
                    f"tensor {t!r}, written later by op {p!r}"
                )


def op_graph_from_json(obj: object) -> OpGraph:
    """Parse and fully validate an op-graph JSON object (raises :class:`OpGraphError`)."""
    if not isinstance(obj, dict):
        raise OpGraphError(f"an op graph must be a JSON object (got {type(obj).__name__})")
    missing = [k for k in ("tensors", "inputs", "outputs", "ops") if k not in obj]
    if missing:
        raise OpGraphError(f"op graph: missing key(s) {', '.join(map(repr, missing))}")
    tensors = obj["tensors"]
    if not isinstance(tensors, dict):
        raise OpGraphError("tensors must be an object mapping tensor names to byte sizes")
    raw_ops = obj["ops"]
    if not isinstance(raw_ops, list):
        raise OpGraphError(f"ops must be a list (got {type(raw_ops).__name__})")
    ops = []
    for i, raw in enumerate(raw_ops):
        if not isinstance(raw, dict):
            raise OpGraphError(f"ops[{i}] must be an object (got {type(raw).__name__})")
        for key in ("name", "inputs", "output"):
            if key not in raw:
                raise OpGraphError(f"ops[{i}]: missing key {key!r}")
        name = _name(raw["name"], f"ops[{i}].name")
        attrs = raw.get("attrs", {})
        if not isinstance(attrs, dict):
            raise OpGraphError(f"op {name!r}: attrs must be an object")
        kind = raw.get("kind", "")
        if not isinstance(kind, str):
            raise OpGraphError(f"op {name!r}: kind must be a string (got {kind!r})")
        ops.append(
            Op(
                name=name,
                inputs=_str_list(raw["inputs"], f"op {name!r} inputs"),
                output=_name(raw["output"], f"op {name!r} output"),
                macs=raw.get("macs", 0),
                params=raw.get("params", 0),
                kind=kind,
                attrs=dict(attrs),
            )
        )
    graph = OpGraph(
        tensors=dict(tensors),
        inputs=_str_list(obj["inputs"], "inputs"),
        outputs=_str_list(obj["outputs"], "outputs"),
        ops=tuple(ops),
    )
    validate_op_graph(graph)
    return graph


def op_graph_to_json(graph: OpGraph) -> dict[str, Any]:
    """The JSON-ready dict of ``graph`` (``macs``/``params``/``kind`` only where set)."""
    ops = []
    for op in graph.ops:
        item: dict[str, Any] = {"name": op.name, "inputs": list(op.inputs), "output": op.output}
        if op.macs:
            item["macs"] = op.macs
        if op.params:
            item["params"] = op.params
        if op.kind:
            item["kind"] = op.kind
        ops.append(item)
    return {
        "tensors": dict(graph.tensors),
        "inputs": list(graph.inputs),
        "outputs": list(graph.outputs),
        "ops": ops,
    }
