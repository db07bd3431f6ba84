"""C header: compiles with g++, holds the exact model bytes, escapes names, rejects bad ones."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_engine.export.header import (
    HeaderError,
    c_string_literal,
    check_c_identifier,
    extract_usage_example,
    render_c_header,
    sanitise_c_identifier,
    write_c_header,
)
from search_engine.export.tflite_graph import read_model_io
from tests.tflm import SKIP_REASON, compile_flags, tflm_source_tree

SINE = Path(__import__("tflite_micro").__file__).parent / "python/tflite_micro/sine_float.tflite"
NASTY = ['say "hi"', "back\\slash", "ünïcødé ✓", "tri??=graph", "tab\tnew\nline", "", "0x41g"]
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


def _symbols_cc(name: str, header: str) -> str:
    """A program that references every symbol and prints class names as hex bytes."""
    return f"""
#include <cstdio>
#include <cstring>
#include <cstdint>
#include "{header}"
static_assert(alignof(decltype({name})) >= 1, "");
static_assert({name}_arena_size > 0, "");
static_assert({name}_num_classes == sizeof({name}_class_names) / sizeof(char*), "");
static_assert({name}_input_dims == sizeof({name}_input_shape) / sizeof(int), "");
static_assert({name}_output_dims == sizeof({name}_output_shape) / sizeof(int), "");
static_assert({name}_num_op_types >= 1, "");
int main() {{
  if (reinterpret_cast<std::uintptr_t>({name}) % 16 != 0) return 3;
  if (sizeof({name}) != {name}_len) return 4;
  std::printf("%u %d %d %d\\n", {name}_len, {name}_arena_size, {name}_input_zero_point,
              {name}_output_zero_point);
  std::printf("%.9g %.9g\\n", (double){name}_input_scale, (double){name}_output_scale);
  for (int i = 0; i < {name}_num_classes; ++i) {{
    for (const char* p = {name}_class_names[i]; *p; ++p) std::printf("%02x", (unsigned char)*p);
    std::printf("\\n");
  }}
  unsigned sum = 0;
  for (unsigned i = 0; i < {name}_len; ++i) sum = sum * 31u + {name}[i];
  std::printf("%u\\n", sum);
  return 0;
}}
"""


def _checksum(data: bytes) -> int:
    s = 0
    for b in data:
        s = (s * 31 + b) & 0xFFFFFFFF
    return s


def _compile_and_run(tmp_path: Path, name: str, header_text: str) -> list[str]:
    (tmp_path / f"{name}.h").write_text(header_text, encoding="ascii")
    (tmp_path / "main.cc").write_text(_symbols_cc(name, f"{name}.h"))
    obj = subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-c", "main.cc", "-o", "main.o"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert obj.returncode == 0, obj.stderr
    link = subprocess.run(["g++", "main.o", "-o", "main"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert link.returncode == 0, link.stderr
    run = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True)
    assert run.returncode == 0, f"exit {run.returncode}"
    return run.stdout.splitlines()


@needs_gxx
def test_header_compiles_and_holds_the_model(tmp_path):
    model = SINE.read_bytes()
    path = tmp_path / "sine_model.h"
    write_c_header(model, path, name="sine_model", arena_bytes=2048, class_names=["sine"])
    text = path.read_text()
    assert "alignas(16) const unsigned char sine_model[] = {" in text
    assert f"const unsigned int sine_model_len = {len(model)};" in text
    assert "constexpr int sine_model_arena_size = 2048;" in text
    assert "#ifndef SINE_MODEL_MODEL_H_" in text and "tflite::MicroInterpreter" in text
    body = text.split("sine_model[] = {")[1].split("};")[0]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == model
    out = _compile_and_run(tmp_path, "sine_model", text)
    assert out[0].split()[:2] == [str(len(model)), "2048"]
    assert bytes.fromhex(out[2]) == b"sine"
    assert int(out[-1]) == _checksum(model)


@needs_gxx
def test_class_names_survive_escaping(tmp_path):
    model = SINE.read_bytes()
    text = render_c_header(model, name="m", arena_bytes=4096, class_names=[NASTY[0]])
    out = _compile_and_run(tmp_path, "m", text)
    assert bytes.fromhex(out[2]) == NASTY[0].encode()
    # every tricky name, each as the only class of the one-output sine model
    for label in NASTY:
        lines = _compile_and_run(tmp_path, "m", render_c_header(
            model, name="m", arena_bytes=16, class_names=[label]))
        assert bytes.fromhex(lines[2]) == label.encode("utf-8")


def test_c_string_literal_is_plain_ascii_without_raw_specials():
    for label in NASTY:
        lit = c_string_literal(label)
        assert lit.isascii() and lit.startswith('"') and lit.endswith('"')
        inner = lit[1:-1]
        assert "\n" not in inner and '"' not in inner.replace('\\"', "")
        assert "??" not in inner


@pytest.mark.parametrize(
    "bad", ["", "1abc", "a-b", "with space", "int", "class", "__x", "_Upper", "naïve", "a.b"]
)
def test_bad_names_are_rejected(bad):
    with pytest.raises(HeaderError):
        check_c_identifier(bad)
    with pytest.raises(HeaderError):
        render_c_header(SINE.read_bytes(), name=bad, arena_bytes=16, class_names=["s"])


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_sanitised_names_are_valid_identifiers(text):
    name = sanitise_c_identifier(text)
    assert check_c_identifier(name) == name


def test_other_bad_arguments():
    model = SINE.read_bytes()
    with pytest.raises(HeaderError, match="class names"):
        render_c_header(model, name="m", arena_bytes=16, class_names=["a", "b"])
    with pytest.raises(HeaderError, match="positive"):
        render_c_header(model, name="m", arena_bytes=0, class_names=["a"])
    with pytest.raises(HeaderError, match="empty"):
        render_c_header(b"", name="m", arena_bytes=16, class_names=["a"])


@needs_gxx
@pytest.mark.slow
def test_int8_model_header_has_its_quantisation(tmp_path):
    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.demo_models import chain_model, digits_data

    x_train = digits_data()[0]
    tflite = convert_to_int8_tflite(chain_model(depth=2, width=4), x_train, num_samples=20)
    io = read_model_io(tflite)
    names = [f"digit {i}" for i in range(10)]
    text = render_c_header(tflite, name="digits", arena_bytes=5000, class_names=names)
    assert "constexpr int digits_input_shape[] = {1, 8, 8, 1};" in text
    assert "constexpr int digits_output_shape[] = {1, 10};" in text
    assert "resolver.AddConv2D() != kTfLiteOk" in text
    assert "resolver.AddFullyConnected() != kTfLiteOk" in text
    out = _compile_and_run(tmp_path, "digits", text)
    length, arena, in_zp, out_zp = (int(v) for v in out[0].split())
    assert (length, arena, in_zp, out_zp) == (len(tflite), 5000, io.inputs[0].zero_point,
                                              io.outputs[0].zero_point)
    in_scale, out_scale = (float(v) for v in out[1].split())
    assert in_scale == pytest.approx(io.inputs[0].scale, rel=1e-6)
    assert out_scale == pytest.approx(io.outputs[0].scale, rel=1e-6)
    assert [bytes.fromhex(line).decode() for line in out[2:-1]] == names
    assert int(out[-1]) == _checksum(tflite)


# --- the usage example in the header's comment: complete, and compiles against TFLM ----------

@pytest.fixture(scope="module")
def tflm_tree(tmp_path_factory) -> Path:
    tree = tflm_source_tree(tmp_path_factory.mktemp("tflm"))
    if tree is None:
        pytest.skip(SKIP_REASON)
    return tree


def _compile_example(tmp_path: Path, tree: Path, name: str, header_text: str) -> None:
    """Write the header and its extracted example, compile the example with -Werror."""
    (tmp_path / f"{name}.h").write_text(header_text, encoding="ascii")
    (tmp_path / "example.cc").write_text(extract_usage_example(header_text))
    cc = subprocess.run(
        ["g++", *compile_flags(tree), "-I", str(tmp_path), "-c", "example.cc", "-o",
         "example.o"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert cc.returncode == 0, cc.stderr[-4000:]
    symbols = subprocess.run(["nm", "-C", "example.o"], cwd=tmp_path, capture_output=True,
                             text=True).stdout
    assert f"{name}_setup()" in symbols and f"{name}_classify(float const*)" in symbols


def test_usage_example_is_a_whole_file_with_exactly_the_models_ops():
    text = render_c_header(SINE.read_bytes(), name="model", arena_bytes=2048, class_names=["s"])
    example = extract_usage_example(text)
    assert '#include "model.h"' in example
    # the regression: `const tflite::Model* model = tflite::GetModel(model);` reused the name
    assert re.search(r"tflite::Model\*\s*model\b", example) is None
    assert "tflite::GetModel(model)" in example
    assert re.findall(r"resolver\.(Add\w+)\(\)", example) == ["AddFullyConnected"]
    assert "MicroMutableOpResolver<model_num_op_types>" in example
    assert "model_tensor_arena[model_arena_size]" in example and "AllocateTensors()" in example
    assert "Invoke()" in example


def test_a_header_without_an_example_is_refused():
    with pytest.raises(HeaderError, match="no usage example"):
        extract_usage_example("// nothing\n")


@pytest.mark.parametrize("bad", ["tflite", "main", "std", "size_t"])
def test_names_that_clash_with_tflm_are_refused_and_sanitised(bad):
    with pytest.raises(HeaderError, match="TFLM"):
        check_c_identifier(bad)
    assert check_c_identifier(sanitise_c_identifier(bad)) == f"{bad}_"


def test_every_resolver_method_exists_in_tflm(tflm_tree):
    from search_engine.export.header import _RESOLVER

    source = (tflm_tree / "tensorflow/lite/micro/micro_mutable_op_resolver.h").read_text()
    missing = [m for m in _RESOLVER.values() if f"TfLiteStatus {m}(" not in source]
    assert not missing


@needs_gxx
@pytest.mark.parametrize("name", ["model", "sine_model", "input", "resolver", "interpreter"])
def test_usage_example_compiles_against_tflm(tmp_path, tflm_tree, name):
    text = render_c_header(SINE.read_bytes(), name=name, arena_bytes=2048, class_names=["s"])
    _compile_example(tmp_path, tflm_tree, name, text)


@needs_gxx
@pytest.mark.slow
def test_int8_usage_example_compiles_against_tflm(tmp_path, tflm_tree):
    from search_engine.export.convert import convert_to_int8_tflite
    from search_engine.export.demo_models import chain_model, digits_data

    tflite = convert_to_int8_tflite(chain_model(depth=2, width=4), digits_data()[0],
                                    num_samples=20)
    text = render_c_header(tflite, name="model", arena_bytes=5000,
                           class_names=[str(i) for i in range(10)])
    example = extract_usage_example(text)
    assert "int8_t* in = input->data.int8;" in example and "std::lround" in example
    assert "resolver.AddConv2D()" in example
    _compile_example(tmp_path, tflm_tree, "model", text)
