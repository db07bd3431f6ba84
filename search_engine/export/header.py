"""C/C++ header for a TFLM sketch: the model bytes, the measured arena size, I/O and classes.

Follows the convention of TFLM's ``tools/generate_cc_arrays.py`` (``alignas(16) const unsigned
char <name>[]`` and ``const unsigned int <name>_len``; 16-byte alignment because some Cortex-M
parts fault on unaligned flatbuffer reads). Every other symbol is prefixed with ``<name>_`` so
that two models can live in one sketch:

- ``<name>_arena_size`` (``constexpr int``): the measured smallest working arena,
- ``<name>_input_dims``, ``<name>_input_shape[]``, ``<name>_input_scale``,
  ``<name>_input_zero_point`` and the same for ``output``,
- ``<name>_num_classes``, ``<name>_class_names[]`` (UTF-8 C string literals),
- ``<name>_num_op_types``: how many distinct operators the op resolver must register.

The top comment holds a usage example between ``// BEGIN EXAMPLE`` and ``// END EXAMPLE``: a
whole C++ file (``<name>_setup()``: resolver with exactly the model's operators, the arena,
the interpreter; ``<name>_classify(x)``: quantise, invoke, argmax) that compiles as pasted;
:func:`extract_usage_example` returns it, and the tests compile it against the TFLM headers.

Names must be C identifiers (``write_c_header`` rejects anything else;
:func:`sanitise_c_identifier` turns arbitrary text into one). Class names are escaped: quotes,
backslashes, '?' (trigraphs), control characters and every non-ASCII byte of their UTF-8
encoding become octal escapes, so any text is safe.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

from search_engine.export.tflite_graph import op_graph_from_tflite_bytes, read_model_io

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = frozenset(
    """alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t
    char16_t char32_t class compl concept const consteval constexpr constinit const_cast continue
    co_await co_return co_yield decltype default delete do double dynamic_cast else enum explicit
    export extern false float for friend goto if inline int long mutable namespace new noexcept
    not not_eq nullptr operator or or_eq private protected public register reinterpret_cast
    requires restrict return short signed sizeof static static_assert static_cast struct switch
    template this thread_local throw true try typedef typeid typename union unsigned using
    virtual void volatile wchar_t while xor xor_eq _Bool _Complex _Imaginary""".split()
)
# Names a TFLM program already uses at file scope: a model array with one of them would not
# compile beside the TFLM headers (or the usage example).
_TFLM_CLASHES = frozenset(
    """main std tflite flatbuffers TfLiteTensor TfLiteStatus kTfLiteOk kTfLiteError
    TFLITE_SCHEMA_VERSION int8_t uint8_t int16_t int32_t uint32_t size_t""".split()
)

# TFLite opcode -> tflite::MicroMutableOpResolver method (others: CamelCase of the opcode).
_RESOLVER = {
    "ADD": "AddAdd",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "FULLY_CONNECTED": "AddFullyConnected",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean",
    "MUL": "AddMul",
    "PAD": "AddPad",
    "QUANTIZE": "AddQuantize",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "SOFTMAX": "AddSoftmax",
}


class HeaderError(ValueError):
    """A name, class list or model that cannot be written as a C header."""


def check_c_identifier(name: str) -> str:
    """``name`` if it is a plain C/C++ identifier that is not reserved; raises otherwise."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise HeaderError(
            f"{name!r} is not a C identifier (letters, digits and '_', not starting with a digit)"
        )
    if name in _RESERVED:
        raise HeaderError(f"{name!r} is a C/C++ keyword")
    if name in _TFLM_CLASHES:
        raise HeaderError(f"{name!r} is already used by TFLM programs")
    if name.startswith("__") or re.match(r"^_[A-Z]", name):
        raise HeaderError(f"{name!r} is reserved for the implementation (leading '__' or '_X')")
    return name


def sanitise_c_identifier(text: str, *, default: str = "model") -> str:
    """A valid, non-reserved C identifier derived from arbitrary ``text``."""
    s = re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_")
    s = re.sub(r"__+", "_", s)
    if not s:
        s = default
    if s[0].isdigit():
        s = f"{default}_{s}"
    if s in _RESERVED or s in _TFLM_CLASHES:
        s = f"{s}_"
    return s


def c_string_literal(text: str) -> str:
    """``text`` as a C string literal (UTF-8 bytes; anything unsafe octal-escaped)."""
    out = []
    for byte in str(text).encode("utf-8"):
        ch = chr(byte)
        if 0x20 <= byte < 0x7F and ch not in '"\\?':
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _float_literal(value: float) -> str:
    if not math.isfinite(value):
        raise HeaderError(f"non-finite quantisation scale {value}")
    s = f"{value:.9g}"
    if not any(c in s for c in ".eEn"):
        s += ".0"
    return s + "f"


def _resolver_method(opcode: str) -> str:
    return _RESOLVER.get(opcode) or "Add" + "".join(p.capitalize() for p in opcode.split("_"))

_QUANTISED_RANGE = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}
_C_TYPE = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t"}
_UNION_MEMBER = {"int8": "int8", "uint8": "uint8", "int16": "i16", "float32": "f"}


def _usage_example(
    name: str, opcodes: Sequence[str], arena_bytes: int, in_dtype: str, out_dtype: str
) -> list[str]:
    """The header's usage example: a whole C++ file (one line per item, no comment prefix).

    Every file-scope symbol it declares starts with ``<name>_`` (so it cannot clash with the
    header's or the sketch's own), the resolver registers exactly ``opcodes``.
    """
    n = name
    lines = [
        "#include <cmath>",
        "#include <cstddef>",
        "#include <cstdint>",
        "",
        f'#include "{n}.h"',
        '#include "tensorflow/lite/micro/micro_interpreter.h"',
        '#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"',
        '#include "tensorflow/lite/schema/schema_generated.h"',
        "",
        f"// {arena_bytes} bytes: the measured smallest arena ({n}_arena_size).",
        f"alignas(16) static uint8_t {n}_tensor_arena[{n}_arena_size];",
        f"static tflite::MicroInterpreter* {n}_interpreter = nullptr;",
        "",
        "// Loads the model and plans its memory; false when that fails (TFLM logs why).",
        f"bool {n}_setup() {{",
        f"  const tflite::Model* flatbuffer = tflite::GetModel({n});",
        "  if (flatbuffer->version() != TFLITE_SCHEMA_VERSION) return false;",
        f"  // Exactly the {len(opcodes)} operator type(s) of this model:",
        f"  static tflite::MicroMutableOpResolver<{n}_num_op_types> resolver;",
    ]
    lines += [f"  if (resolver.{_resolver_method(op)}() != kTfLiteOk) return false;"
              for op in opcodes]
    lines += [
        "  static tflite::MicroInterpreter interpreter(flatbuffer, resolver,",
        f"                                              {n}_tensor_arena, {n}_arena_size);",
        "  if (interpreter.AllocateTensors() != kTfLiteOk) return false;  // arena too small",
        f"  {n}_interpreter = &interpreter;",
        "  return true;",
        "}",
        "",
        "// Runs the model on one sample of float features x (the training layout, NHWC) and",
        f"// returns the index of the highest-scoring class ({n}_class_names[index]), or -1.",
        f"int {n}_classify(const float* x) {{",
        f"  if ({n}_interpreter == nullptr) return -1;",
        f"  TfLiteTensor* input = {n}_interpreter->input(0);",
    ]
    if in_dtype in _QUANTISED_RANGE:
        lo, hi = _QUANTISED_RANGE[in_dtype]
        ctype = _C_TYPE[in_dtype]
        lines += [
            f"  {ctype}* in = input->data.{_UNION_MEMBER[in_dtype]};",
            f"  for (size_t i = 0; i < input->bytes / sizeof({ctype}); ++i) {{",
            f"    long q = std::lround(x[i] / {n}_input_scale) + {n}_input_zero_point;",
            f"    in[i] = static_cast<{ctype}>(q < {lo} ? {lo} : (q > {hi} ? {hi} : q));",
            "  }",
        ]
    else:
        lines += [
            "  float* in = input->data.f;",
            "  for (size_t i = 0; i < input->bytes / sizeof(float); ++i) in[i] = x[i];",
        ]
    lines += [
        f"  if ({n}_interpreter->Invoke() != kTfLiteOk) return -1;",
        f"  const TfLiteTensor* output = {n}_interpreter->output(0);",
    ]
    ctype = _C_TYPE.get(out_dtype, "float")
    member = _UNION_MEMBER.get(out_dtype, "f")
    lines += [f"  const {ctype}* scores = output->data.{member};"]
    if out_dtype in _QUANTISED_RANGE:
        lines += [f"  // score of class c: (scores[c] - {n}_output_zero_point) * {n}_output_scale"]
    lines += [
        "  int best = 0;",
        f"  for (int c = 1; c < {n}_num_classes; ++c) {{",
        "    if (scores[c] > scores[best]) best = c;",
        "  }",
        "  return best;",
        "}",
    ]
    return lines


def extract_usage_example(header_text: str) -> str:
    """The usage example of a header written by :func:`render_c_header`, as a C++ file."""
    lines = header_text.splitlines()
    try:
        start = lines.index("// BEGIN EXAMPLE") + 1
        end = lines.index("// END EXAMPLE", start)
    except ValueError:
        raise HeaderError("no usage example (BEGIN/END EXAMPLE) in this header") from None
    out = []
    for line in lines[start:end]:
        if line != "//" and not line.startswith("//  "):
            raise HeaderError(f"unexpected line in the usage example: {line!r}")
        out.append(line[4:])
    return "\n".join(out) + "\n"


def render_c_header(
    tflite_bytes: bytes,
    *,
    name: str,
    arena_bytes: int,
    class_names: Sequence[str],
) -> str:
    """The header text (see :func:`write_c_header`)."""
    check_c_identifier(name)
    data = bytes(tflite_bytes)
    if not data:
        raise HeaderError("empty model")
    if int(arena_bytes) <= 0:
        raise HeaderError(f"arena_bytes must be positive, got {arena_bytes}")
    io = read_model_io(data)
    if len(io.inputs) != 1 or len(io.outputs) != 1:
        raise HeaderError("only single-input, single-output models are supported")
    inp, out = io.inputs[0], io.outputs[0]
    num_classes = math.prod(out.shape[1:]) if len(out.shape) > 1 else math.prod(out.shape)
    classes = list(class_names)
    if len(classes) != num_classes:
        raise HeaderError(f"{len(classes)} class names for a model with {num_classes} outputs")
    opcodes = sorted({op.kind for op in op_graph_from_tflite_bytes(data).ops})
    guard = name.upper() + "_MODEL_H_"

    lines = [
        f"// {name}: int8 TFLite model for TensorFlow Lite Micro, generated by uNAS Web",
        "// (search_engine.export.header). Do not edit.",
        "//",
        f"// Model: {len(data)} bytes. Measured smallest tensor arena: {int(arena_bytes)} bytes.",
        f"// Input {list(inp.shape)} {inp.dtype}, output {list(out.shape)} {out.dtype}.",
        "//",
        "// Usage: the lines between BEGIN EXAMPLE and END EXAMPLE (without the leading '//')",
        "// are a complete C++17 source file for TFLM, compiled in uNAS Web's tests with",
        f"// g++ -Wall -Wextra -Werror. Call {name}_setup() once, then {name}_classify(x) per",
        "// sample.",
        "//",
        "// BEGIN EXAMPLE",
    ]
    example = _usage_example(name, opcodes, int(arena_bytes), inp.dtype, out.dtype)
    lines += ["//" + (f"  {line}" if line else "") for line in example]
    lines += [
        "// END EXAMPLE",
        "//",
        "// The arena size was measured with the 64-bit host build of TFLM's reference kernels.",
        "// A 32-bit MCU needs a little less for TFLM's bookkeeping (smaller pointers); kernels",
        "// that request scratch memory (e.g. CMSIS-NN) may need a little more.",
        "",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        f"alignas(16) const unsigned char {name}[] = {{",
    ]
    for i in range(0, len(data), 12):
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in data[i : i + 12]) + ",")
    lines += [
        "};",
        f"const unsigned int {name}_len = {len(data)};",
        "",
        f"constexpr int {name}_arena_size = {int(arena_bytes)};",
        f"constexpr int {name}_num_op_types = {len(opcodes)};",
        "",
    ]
    for label, t in (("input", inp), ("output", out)):
        lines += [
            f"constexpr int {name}_{label}_dims = {len(t.shape)};",
            f"constexpr int {name}_{label}_shape[] = {{{', '.join(str(d) for d in t.shape)}}};",
            f"constexpr float {name}_{label}_scale = {_float_literal(t.scale)};",
            f"constexpr int {name}_{label}_zero_point = {t.zero_point};",
            "",
        ]
    lines += [
        f"constexpr int {name}_num_classes = {num_classes};",
        f"const char* const {name}_class_names[] = {{",
    ]
    lines += [f"  {c_string_literal(c)}," for c in classes]
    lines += ["};", "", f"#endif  // {guard}", ""]
    return "\n".join(lines)


def write_c_header(
    tflite_bytes: bytes,
    path: str | Path,
    *,
    name: str,
    arena_bytes: int,
    class_names: Sequence[str],
) -> None:
    """Write the C header for ``tflite_bytes`` to ``path``.

    Shapes and quantisation parameters are read from the model; ``arena_bytes`` should be the
    measured smallest arena (:func:`search_engine.export.tflm.find_min_arena`); one class name
    per model output. ``name`` must be a C identifier (see :func:`sanitise_c_identifier`).
    """
    text = render_c_header(tflite_bytes, name=name, arena_bytes=arena_bytes,
                           class_names=class_names)
    Path(path).write_text(text, encoding="ascii")
