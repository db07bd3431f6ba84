"""The TFLM child process on the model tflite-micro ships (fast: no TensorFlow anywhere)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from search_engine.export import arena_probe
from search_engine.export.tflite_graph import op_graph_from_tflite_bytes, reorder_operators
from search_engine.export.tflm import (
    TflmError,
    TflmRunner,
    evaluate_int8,
    measure_arena,
    probe_arena,
)

SINE = Path(__import__("tflite_micro").__file__).parent / "python/tflite_micro/sine_float.tflite"


def test_probe_child_never_imports_tensorflow(tmp_path):
    reqs = [{"cmd": "load", "path": str(SINE)}, {"cmd": "probe", "arena": 8192, "record": True},
            {"cmd": "quit"}]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", arena_probe.__file__],
        input="".join(json.dumps(r) + "\n" for r in reqs), capture_output=True, text=True,
        timeout=60,
    )
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert replies[0] == {"ok": True, "inputs": 1, "outputs": 1}
    assert replies[1]["ok"] and replies[1]["total"] > 0
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:")}
    assert "tflite_micro" in modules
    assert not {m for m in modules if m == "tensorflow" or m.startswith("tensorflow.")}
    assert not {m for m in modules if m == "keras" or m.startswith("search_engine")}


def test_arena_of_the_sine_model_is_verified():
    m = measure_arena(SINE.read_bytes())
    assert m.arena_bytes % 16 == 0 and m.probes <= 20
    assert probe_arena(SINE.read_bytes(), m.arena_bytes).ok
    assert not probe_arena(SINE.read_bytes(), m.arena_bytes - 16).ok


def test_crashes_are_contained_and_counted():
    with TflmRunner(SINE.read_bytes()) as runner:
        results = [runner.probe(n) for n in (0, 16, 32, 64)]
        assert not any(r.ok for r in results)
        assert runner.probe(8192).ok  # the runner still works afterwards
    with pytest.raises(ValueError):
        probe_arena(SINE.read_bytes(), -1)


def test_float_model_evaluation_and_the_sine_values():
    x = np.linspace(0, 2 * np.pi, 50, dtype=np.float32).reshape(50, 1)
    ev = evaluate_int8(SINE.read_bytes(), x, np.zeros(50, dtype=int), arena_size=8192)
    assert ev.outputs.shape == (50, 1)
    assert np.max(np.abs(ev.outputs[:, 0] - np.sin(x[:, 0]))) < 0.2  # a small learnt sine
    with pytest.raises(TflmError):
        evaluate_int8(SINE.read_bytes(), x, np.zeros(50, dtype=int), arena_size=16)


def test_reordering_to_the_stored_order_changes_no_byte():
    data = SINE.read_bytes()
    names = [op.name for op in op_graph_from_tflite_bytes(data).ops]
    assert reorder_operators(data, names) == data
