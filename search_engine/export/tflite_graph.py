"""Read a ``.tflite`` flatbuffer as an :class:`OpGraph`, and rewrite its operator order.

TFLM runs the operators in the order they are stored in the model, and its memory planner
derives every buffer's lifetime from that order. So the order whose peak the analyser predicts
must be the stored order: :func:`reorder_operators` writes it, :func:`optimise_operator_order`
asks the analyser for the optimal one and writes that.

Parsing uses the flatbuffer schema module that the ``tflite-micro`` package ships
(``tflite_micro.tensorflow.lite.micro.python.schema_py_generated``; TensorFlow ships the same
generated module, but importing TensorFlow costs seconds), imported lazily.

What the op graph holds (the arena's view of the model, subgraph 0):

- tensors: every non-constant tensor (activations, model inputs and outputs), sized
  ``prod(shape) * bytes(dtype)``. Constant tensors (weights, biases, shape operands: tensors
  whose buffer holds data) live in flash, not in the arena, and are left out, as are variable
  tensors. Tensor keys are the TFLite tensor names (``#<index>`` appended where a name repeats,
  ``tensor<index>`` where it is empty).
- ops: one per operator in stored order, named ``"<OPCODE>:<output tensor key>"`` (for example
  ``"CONV_2D:functional_1/conv2d_1/Relu"``). The names are unique (a tensor has one producer)
  and do not change when operators are reordered. ``kind`` is the opcode name, ``macs`` is
  counted for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (0 elsewhere), ``params`` is the
  number of constant elements the op reads; ``attrs`` holds ``index`` (stored position),
  ``opcode``, ``output_shape`` and ``output_tensor`` (tensor index).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from search_engine.graph.opgraph import Op, OpGraph, validate_op_graph

if TYPE_CHECKING:
    from search_engine.resources import MemoryProfile

# Bytes per element of the TFLite tensor types an arena can hold (TensorType enum values).
_DTYPE_BYTES = {
    0: 4,  # FLOAT32
    1: 2,  # FLOAT16
    2: 4,  # INT32
    3: 1,  # UINT8
    4: 8,  # INT64
    6: 1,  # BOOL
    7: 2,  # INT16
    8: 8,  # COMPLEX64
    9: 1,  # INT8
    10: 8,  # FLOAT64
    12: 8,  # UINT64
    15: 4,  # UINT32
    16: 2,  # UINT16
    18: 2,  # BFLOAT16
}

# vtable slot of Subgraph.operators in the TFLite schema (field 3 -> 4 + 2 * 3).
_SUBGRAPH_OPERATORS_SLOT = 10


class TfliteGraphError(ValueError):
    """A ``.tflite`` model this module cannot read, or an invalid operator order."""


def _schema() -> Any:  # the flatbuffer schema module generated for TFLite (untyped)
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


@dataclass(frozen=True)
class _Tensor:
    index: int
    key: str
    shape: tuple[int, ...]
    dtype: int
    constant: bool


def _opcode_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def _root(data: bytes) -> Any:  # a flatbuffer Model table
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TfliteGraphError("not a TFLite flatbuffer (file identifier 'TFL3' missing)")
    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() != 1:
        raise TfliteGraphError(
            f"expected exactly one subgraph, found {model.SubgraphsLength()} (control flow and "
            "multi-signature models are not supported)"
        )
    return model


def _tensors(model: Any) -> list[_Tensor]:
    sub = model.Subgraphs(0)
    raw = []
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
        has_data = buf is not None and (buf.DataLength() > 0 or buf.Size() > 0)
        name = (t.Name() or b"").decode("utf-8", "replace")
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        raw.append((i, name, shape, t.Type(), has_data or t.IsVariable()))
    counts: dict[str, int] = {}
    for _, name, _, _, const in raw:
        if not const:
            counts[name] = counts.get(name, 0) + 1
    out = []
    for i, name, shape, dtype, const in raw:
        key = name if name and counts.get(name, 0) == 1 else f"{name or 'tensor'}#{i}"
        out.append(_Tensor(i, key, shape, dtype, const))
    return out


def _tensor_bytes(t: _Tensor) -> int:
    if t.dtype not in _DTYPE_BYTES:
        raise TfliteGraphError(f"tensor {t.key!r} has unsupported type {t.dtype}")
    if any(s < 0 for s in t.shape):
        raise TfliteGraphError(f"tensor {t.key!r} has a dynamic shape {t.shape}; export with a "
                               "fixed batch size of 1")
    return math.prod(t.shape) * _DTYPE_BYTES[t.dtype]


def _macs(opcode: str, ins: list[_Tensor], out: _Tensor) -> int:
    try:
        if opcode == "CONV_2D":
            cout, kh, kw, cin = ins[1].shape
            return math.prod(out.shape) * kh * kw * cin
        if opcode == "DEPTHWISE_CONV_2D":
            _, kh, kw, _ = ins[1].shape
            return math.prod(out.shape) * kh * kw
        if opcode == "FULLY_CONNECTED":
            return math.prod(out.shape) * ins[1].shape[-1]
    except (IndexError, ValueError):
        return 0
    return 0


def op_graph_from_tflite_bytes(data: bytes) -> OpGraph:
    """The :class:`OpGraph` of a ``.tflite`` model (stored operator order = default order)."""
    data = bytes(data)
    model = _root(data)
    sub = model.Subgraphs(0)
    tensors = _tensors(model)
    names = _opcode_names()
    producers: dict[int, str] = {}
    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        opcode = names.get(builtin, f"BUILTIN_{builtin}")
        if opcode == "CUSTOM":
            opcode = "CUSTOM_" + (code.CustomCode() or b"?").decode("utf-8", "replace")
        outs = [int(j) for j in op.OutputsAsNumpy()] if op.OutputsLength() else []
        if len(outs) != 1:
            raise TfliteGraphError(f"operator {i} ({opcode}) has {len(outs)} outputs; only "
                                   "single-output operators are supported")
        out = tensors[outs[0]]
        if out.constant:
            raise TfliteGraphError(f"operator {i} ({opcode}) writes constant tensor {out.key!r}")
        if out.index in producers:
            raise TfliteGraphError(f"tensor {out.key!r} is written by two operators")
        in_idx = [int(j) for j in op.InputsAsNumpy()] if op.InputsLength() else []
        ins = [tensors[j] for j in in_idx if j >= 0]
        name = f"{opcode}:{out.key}"
        producers[out.index] = name
        ops.append(
            Op(
                name=name,
                inputs=tuple(t.key for t in ins if not t.constant),
                output=out.key,
                macs=_macs(opcode, ins, out),
                params=sum(math.prod(t.shape) for t in ins if t.constant),
                kind=opcode,
                attrs={"index": i, "opcode": opcode, "output_shape": out.shape,
                       "output_tensor": out.index},
            )
        )
    graph_inputs = tuple(tensors[int(j)].key for j in sub.InputsAsNumpy())
    graph_outputs = tuple(tensors[int(j)].key for j in sub.OutputsAsNumpy())
    used = set(graph_inputs) | set(graph_outputs)
    for op in ops:
        used.update(op.inputs)
        used.add(op.output)
    sizes = {t.key: _tensor_bytes(t) for t in tensors if not t.constant and t.key in used}
    graph = OpGraph(tensors=sizes, inputs=graph_inputs, outputs=graph_outputs, ops=tuple(ops))
    validate_op_graph(graph)
    return graph


def load_tflite_op_graph(path: str | Path) -> OpGraph:
    """The :class:`OpGraph` of the ``.tflite`` file at ``path``."""
    return op_graph_from_tflite_bytes(Path(path).read_bytes())


def _check_order(graph: OpGraph, order: list[str]) -> list[int]:
    """Positions (in stored order) of the ops named by ``order``; raises if it is not valid."""
    from search_engine.resources.peak_memory import OrderError, check_order

    try:
        check_order(graph, order)
    except OrderError as exc:
        raise TfliteGraphError(str(exc)) from None
    position = {op.name: i for i, op in enumerate(graph.ops)}
    return [position[n] for n in order]


def reorder_operators(tflite_bytes: bytes, order: list[str]) -> bytes:
    """The same model with its operators stored (and so run by TFLM) in ``order``.

    ``order`` lists op names as :func:`op_graph_from_tflite_bytes` gives them; it must be a
    permutation of all ops and a valid topological order (checked). The flatbuffer is patched in
    place: only the entries of the subgraph's operator-offset vector change, so the byte size,
    the 16-byte alignment of the weight buffers and everything else stay exactly as the
    converter wrote them.
    """
    data = bytes(tflite_bytes)
    graph = op_graph_from_tflite_bytes(data)
    perm = _check_order(graph, list(order))
    sub = _root(data).Subgraphs(0)
    tab = sub._tab
    slot = tab.Offset(_SUBGRAPH_OPERATORS_SLOT)
    if slot == 0:
        raise TfliteGraphError("model has no operator vector")
    vec = tab.Vector(slot)
    n = sub.OperatorsLength()
    targets = [vec + 4 * j + struct.unpack_from("<I", data, vec + 4 * j)[0] for j in range(n)]
    out = bytearray(data)
    for j, old in enumerate(perm):
        rel = targets[old] - (vec + 4 * j)
        if rel <= 0:
            raise TfliteGraphError("unexpected flatbuffer layout (operator table stored before "
                                   "the operator vector); cannot reorder in place")
        struct.pack_into("<I", out, vec + 4 * j, rel)
    result = bytes(out)
    check = [op.name for op in op_graph_from_tflite_bytes(result).ops]
    if check != list(order):
        raise TfliteGraphError("internal error: reordered model does not have the requested order")
    return result


def optimise_operator_order(
    tflite_bytes: bytes,
) -> tuple[bytes, MemoryProfile, MemoryProfile]:
    """(model in the memory-optimal order, its profile, the stored order's profile).

    The returned model is the input unchanged when the stored order is already optimal.
    """
    from search_engine.resources import evaluate_order, optimal_order

    graph = op_graph_from_tflite_bytes(tflite_bytes)
    default = evaluate_order(graph, [op.name for op in graph.ops])
    best = optimal_order(graph)
    if best.peak_bytes >= default.peak_bytes:
        return bytes(tflite_bytes), default, default
    return reorder_operators(tflite_bytes, list(best.order)), best, default


_DTYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 6: "bool",
                7: "int16", 9: "int8", 10: "float64"}


@dataclass(frozen=True)
class TensorIO:
    """A model input or output: shape, element type and (per-tensor) quantisation."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def quantise(self, x: np.ndarray) -> np.ndarray:
        """Float values -> this tensor's integer type (round to nearest, saturate)."""
        info = np.iinfo(self.dtype)
        q = np.round(np.asarray(x, dtype=np.float64) / self.scale) + self.zero_point
        return np.clip(q, info.min, info.max).astype(self.dtype)

    def dequantise(self, q: np.ndarray) -> np.ndarray:
        """This tensor's integer values -> float32."""
        return ((np.asarray(q, dtype=np.float64) - self.zero_point) * self.scale).astype(
            np.float32
        )


@dataclass(frozen=True)
class ModelIO:
    """The inputs and outputs of a ``.tflite`` model, in the model's order."""

    inputs: tuple[TensorIO, ...]
    outputs: tuple[TensorIO, ...]


def read_model_io(tflite_bytes: bytes) -> ModelIO:
    """Input/output shapes, types and quantisation parameters, read from the flatbuffer."""
    data = bytes(tflite_bytes)
    sub = _root(data).Subgraphs(0)

    def one(index: int) -> TensorIO:
        t = sub.Tensors(index)
        q = t.Quantization()
        scale, zero = 0.0, 0
        if q is not None and q.ScaleLength() >= 1:
            if q.ScaleLength() > 1:
                raise TfliteGraphError(f"tensor {index} is quantised per axis; expected one scale")
            scale = float(q.Scale(0))
            zero = int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        return TensorIO(
            name=(t.Name() or b"").decode("utf-8", "replace"),
            shape=shape,
            dtype=_DTYPE_NAMES.get(t.Type(), f"type{t.Type()}"),
            scale=scale,
            zero_point=zero,
        )

    return ModelIO(
        inputs=tuple(one(int(i)) for i in sub.InputsAsNumpy()),
        outputs=tuple(one(int(i)) for i in sub.OutputsAsNumpy()),
    )
