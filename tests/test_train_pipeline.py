"""End to end: train -> materialise -> int8 export -> TFLM measurement -> files and report."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from search_engine.graph import op_graph_from_specs  # noqa: E402
from search_engine.graph.pruned import pruned_specs  # noqa: E402
from search_engine.resources import optimal_order  # noqa: E402
from search_engine.search.overhead import prior_flash  # noqa: E402
from search_engine.space import (  # noqa: E402
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
    architecture_to_json,
)
from search_engine.space.pruned import (  # noqa: E402
    pruned_architecture,
    pruned_architecture_to_json,
)
from search_engine.train.augment import AugmentConfig  # noqa: E402
from search_engine.train.datasets import load_dataset  # noqa: E402
from search_engine.train.pipeline import PipelineError, train_and_export  # noqa: E402
from search_engine.train.profiles import get_profile  # noqa: E402

ARCH = Architecture(
    blocks=(
        ConvBlock((ConvLayer("full", 3, 16, 1, False, True, True),), False),
        ConvBlock((ConvLayer("1x1", 1, 8, 1, False, False, True),
                   ConvLayer("full", 3, 16, 2, False, False, True)), True),
        ConvBlock((ConvLayer("depthwise", 3, None, 1, False, True, True),
                   ConvLayer("1x1", 1, 24, 1, False, True, True)), False),
    ),
    pooling=Pooling("avg", 2),
    dense=(DenseLayer(12),),
)

FIELDS = (
    "val_accuracy", "test_accuracy", "test_accuracy_int8", "agreement_int8", "params",
    "keras_params", "model_size_bytes", "tflite_bytes", "macs", "peak_memory_bytes",
    "paper_peak_memory_bytes", "default_order_peak_bytes", "tflm_arena_bytes",
    "tflm_overhead_bytes", "op_order", "sparsity", "architecture", "pruned_architecture",
    "timeline", "train_seconds", "export_seconds", "dataset", "profile", "seed",
)


@pytest.mark.slow
def test_train_and_export_digits(tmp_path):
    dataset = load_dataset("digits")
    profile = replace(get_profile("digits", "quick"), lr_schedule=((0, 0.1),), batch_size=32,
                      augmentation=AugmentConfig())
    events = []
    report = train_and_export(ARCH, 0.6, dataset, profile, seed=1, out_dir=tmp_path,
                              progress=events.append, epochs=4)
    for field in FIELDS:
        assert field in report, field
    stages = [e["stage"] for e in events]
    assert stages[:4] == ["train"] * 4 and stages[-1] == "done"
    assert {"materialise", "convert", "measure", "evaluate", "write"} <= set(stages)
    for name in ("model.keras", "model.tflite", "model.h", "report.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text()) == report

    # accuracy: trained, and int8 in TFLM close to float
    assert report["val_accuracy"] > 0.6 and report["test_accuracy"] > 0.6
    assert abs(report["test_accuracy_int8"] - report["test_accuracy"]) <= 0.05
    assert report["agreement_int8"] >= 0.9

    # the reported resources are the pruned network's
    pruned = pruned_architecture(ARCH, 0.6, (8, 8, 1))
    assert report["pruned_architecture"] == pruned_architecture_to_json(pruned)
    assert report["pruned_architecture"]["dense"] == [{"units": 5}]
    assert report["architecture"] == architecture_to_json(ARCH)
    specs = pruned_specs(ARCH, 0.6, (8, 8, 1), 10)
    graph = op_graph_from_specs(specs, (8, 8, 1))
    assert report["params"] == sum(s.params for s in specs)
    assert report["macs"] == sum(s.macs for s in specs)
    assert report["keras_params"] == report["keras_count_params"]
    assert report["peak_memory_bytes"] == optimal_order(graph).peak_bytes
    assert report["peak_memory_bytes"] <= report["default_order_peak_bytes"]
    assert report["tflite_bytes"] == (tmp_path / "model.tflite").stat().st_size
    # the search's Flash prior (per-channel parameters of conv and dense layers, tables, names)
    # predicts the converter's real output for this trained model
    predicted = report["model_size_bytes"] + prior_flash(graph)
    assert abs(report["tflite_bytes"] - predicted) <= 700, (report["tflite_bytes"], predicted)
    assert report["tflite_peak_memory_bytes"] == report["peak_memory_bytes"]
    assert report["tflm_arena_bytes"] >= report["peak_memory_bytes"]
    assert report["tflm_overhead_bytes"] == (
        report["tflm_arena_bytes"] - report["peak_memory_bytes"]
    )
    assert len(report["op_order"]) == len(graph.ops)
    assert max(step["total"] for step in report["timeline"]) == report["peak_memory_bytes"]

    # the saved float model is the materialised one
    model = keras.models.load_model(tmp_path / "model.keras")
    assert model.count_params() == report["keras_params"]
    x = dataset.x_test[:8]
    assert model.predict(x, verbose=0).shape == (8, 10)

    # the header compiles
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    src = tmp_path / "use.cc"
    src.write_text('#include "model.h"\nint arena() { return model_arena_size; }\n')
    run = subprocess.run([gxx, "-std=c++17", "-c", str(src), "-o", str(tmp_path / "use.o")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"model_arena_size = {report['tflm_arena_bytes']}" in (tmp_path / "model.h").read_text()


def test_bad_input_raises_pipeline_error(tmp_path):
    dataset = load_dataset("digits", limit=50)
    profile = get_profile("digits", "quick")
    with pytest.raises(PipelineError, match="input: sparsity") as info:
        train_and_export(ARCH, 1.0, dataset, profile, out_dir=tmp_path)
    assert info.value.stage == "input"
    bad = replace(ARCH, dense=(DenseLayer(3),))
    with pytest.raises(PipelineError, match="input: dense"):
        train_and_export(bad, 0.5, dataset, profile, out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_header_uses_measured_arena_and_numpy_free_report(tmp_path):
    # the report must be plain JSON (no numpy scalars, no NaN)
    from search_engine.train.pipeline import _json_ready

    out = _json_ready({"a": np.int64(3), "b": np.float32(0.5), "c": float("nan"), "d": (1, 2)})
    assert out == {"a": 3, "b": 0.5, "c": None, "d": [1, 2]}
    json.dumps(out, allow_nan=False)
