"""``python -m search_engine train``: bad input (exit 2, one line), a real run, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search_engine.cli import main

REPO = Path(__file__).resolve().parent.parent
ARCH = {
    "schema_version": 1,
    "blocks": [{"parallel": False, "layers": [
        {"kind": "full", "kernel": 3, "channels": 8, "stride": 1, "pre_pool": False,
         "batch_norm": True, "relu": True}]}],
    "pooling": {"kind": "max", "size": 2},
    "dense": [{"units": 16}],
}


@pytest.fixture
def arch_file(tmp_path):
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(ARCH))
    return path


def run_bad(capsys, *args):
    rc = main(["train", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1, err
    return err


def test_bad_input_exits_2_with_one_line(tmp_path, arch_file, capsys):
    out = str(tmp_path / "out")
    assert "no such file" in run_bad(capsys, "--arch", str(tmp_path / "nope.json"), "--out", out)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    assert "not valid JSON" in run_bad(capsys, "--arch", str(bad_json), "--out", out)
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({**ARCH, "dense": [{"units": 3}]}))
    err = run_bad(capsys, "--arch", str(invalid), "--out", out)
    assert "invalid architecture" in err and "dense[0].units" in err
    for s in ("1.0", "-0.1", "abc", "nan"):
        assert "--sparsity" in run_bad(capsys, "--arch", str(arch_file), "--sparsity", s,
                                       "--out", out)
    assert "unknown data set" in run_bad(capsys, "--arch", str(arch_file), "--dataset", "nope",
                                         "--out", out)
    assert "unknown training profile" in run_bad(capsys, "--arch", str(arch_file), "--profile",
                                                 "fast", "--out", out)
    assert "--limit" in run_bad(capsys, "--arch", str(arch_file), "--limit", "0", "--out", out)
    assert "--epochs" in run_bad(capsys, "--arch", str(arch_file), "--epochs", "x", "--out", out)
    missing = run_bad(capsys, "--arch", str(arch_file), "--dataset", "mnist", "--data-dir",
                      str(tmp_path), "--out", out)
    assert "mnist" in missing
    assert "npz" in run_bad(capsys, "--arch", str(arch_file), "--dataset", "npz", "--out", out)
    assert "not found" in run_bad(capsys, "--arch", str(arch_file), "--dataset", "npz",
                                  "--path", str(tmp_path / "none.npz"), "--out", out)
    afile = tmp_path / "file"
    afile.write_text("")
    assert "not a folder" in run_bad(capsys, "--arch", str(arch_file), "--out", str(afile))
    assert not (tmp_path / "out").exists()


def test_cli_import_does_not_load_tensorflow():
    code = ("import sys, search_engine.cli, search_engine.cli.train; "
            "print('tensorflow' in sys.modules or 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.slow
def test_train_command_writes_the_files(tmp_path, arch_file):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "search_engine", "train", "--arch", str(arch_file), "--dataset",
         "digits", "--sparsity", "0.5", "--profile", "quick", "--out", str(out), "--limit",
         "200", "--epochs", "2", "--seed", "3"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert any(line.startswith("epoch 1/2") for line in lines)
    assert any(line.startswith("epoch 2/2") for line in lines)
    for name in ("model.keras", "model.tflite", "model.h", "report.json"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["sparsity"] == 0.5 and report["seed"] == 3 and report["epochs"] == 2
    assert report["pruned_architecture"]["blocks"][0]["layers"][0]["channels"] == 4
    assert report["pruned_architecture"]["dense"] == [{"units": 8}]
    assert report["tflm_arena_bytes"] >= report["peak_memory_bytes"] > 0
    assert f"TFLM arena {report['tflm_arena_bytes']} B" in proc.stdout
