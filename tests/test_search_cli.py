"""The headless ``search`` command: arguments, a whole run, and resume after a kill.

Training is replaced by ``tests/fake_evaluator.py`` (analytic figures, no TensorFlow), so these
tests exercise the CLI, the spawned worker pool, the pre-training check and the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE = "tests.fake_evaluator:evaluate"


def cli(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "search_engine", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=300, **kwargs)


@pytest.mark.parametrize("args, message", [
    (["--sram", "-4KB", "--flash", "16KB"], "sram"),
    (["--sram", "4XB", "--flash", "16KB"], "unknown unit"),
    (["--sram", "0", "--flash", "16KB"], "at least 1"),
    (["--sram", "4KB", "--flash", "16KB", "--population", "3", "--sample", "5"],
     "sample: must not exceed population"),
    (["--sram", "4KB", "--flash", "16KB", "--rounds", "0"], "positive integer"),
    (["--sram", "4KB", "--flash", "16KB", "--error", "2"], "error rate"),
    (["--sram", "4KB", "--flash", "16KB", "--macs", "5KB"], "unknown unit"),
    (["--flash", "16KB"], "--sram and --flash are required"),
    (["--sram", "4KB", "--flash", "16KB", "--dataset", "nope"], "nope"),
    (["--sram", "4KB", "--flash", "16KB", "--profile", "slowest"], "slowest"),
])
def test_bad_arguments_are_clear_errors(tmp_path, args, message):
    result = cli("search", "--out", str(tmp_path / "run"), *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "search.json").exists()


def test_resume_needs_a_search(tmp_path):
    result = cli("search", "--out", str(tmp_path), "--resume")
    assert result.returncode == 2 and "no search.json" in result.stderr


def read_state(out):
    return json.loads((out / "search.json").read_text())


def test_whole_search_with_two_workers(tmp_path):
    out = tmp_path / "run"
    result = cli("search", "--dataset", "digits", "--sram", "24KB", "--flash", "40KB",
                 "--rounds", "12", "--population", "5", "--sample", "2", "--workers", "2",
                 "--out", str(out), "--seed", "3", "--evaluator", FAKE)
    assert result.returncode == 0, result.stderr
    state = read_state(out)
    candidates = state["candidates"]
    assert [c["id"] for c in candidates] == list(range(12))
    assert all(c["state"] == "done" for c in candidates)
    for c in candidates:
        # metrics flattened under the report's names, next to the summary fields
        assert {"id", "state", "pareto", "feasible", "architecture", "sparsity",
                "val_accuracy", "stopped_early", "epochs_trained", "timings"} <= set(c)
        if c["stopped_early"]:  # stopped at a rung: not exported, never feasible
            assert not c["feasible"] and not c["pareto"] and "tflm_arena_bytes" not in c
            assert c["epochs_trained"] < c["epochs"] and c["rung_accuracy"]
            continue
        assert c["rung_accuracy"]  # the plan reached the worker: rungs were measured
        assert c["feasible"] == (c["tflm_arena_bytes"] <= 24000 and c["tflite_bytes"] <= 40000)
        assert c["precheck"]["estimated_sram_bytes"] <= 24000  # refused children never train
    assert any(c["pareto"] for c in candidates)
    assert state["summary"]["evaluated"] == 12
    assert state["summary"]["stopped_early"] == sum(c["stopped_early"] for c in candidates)
    assert "HV" in result.stderr and "12/12" in result.stderr
    assert sum(c["parent"] is not None for c in candidates) >= 1
    # few trained candidates break the limits: the check learns the overheads
    assert sum(not c["feasible"] for c in candidates if not c["stopped_early"]) <= 4


def test_a_search_whose_candidates_all_fail_exits_non_zero_and_says_why(tmp_path):
    """Issue 12: every candidate failed (an untrainable data set) and the search ended as if it
    had worked; now it fails as the web app's does, with the reason."""
    out = tmp_path / "run"
    args = ["search", "--dataset", "digits", "--sram", "24KB", "--flash", "40KB",
            "--rounds", "3", "--population", "3", "--sample", "2", "--out", str(out),
            "--evaluator", "tests.fake_evaluator:fail"]
    result = cli(*args)
    assert result.returncode == 1, result.stderr
    assert "search failed: all 3 candidates failed; the last error: ValueError: zip entry" \
        in result.stderr
    assert "cannot decode the image (Invalid PNG data)" in result.stderr
    assert "Traceback" not in result.stderr
    state = read_state(out)
    assert [c["state"] for c in state["candidates"]] == ["failed"] * 3
    assert state["summary"]["failed"] == 3 and json.loads(result.stdout)["failed"] == 3
    again = cli("search", "--out", str(out), "--resume", "--evaluator",
                "tests.fake_evaluator:fail")  # resuming it does not make it a success
    assert again.returncode == 1 and "search failed: all 3 candidates failed" in again.stderr


def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path):
    out, log = tmp_path / "run", tmp_path / "evaluations.log"
    env = dict(os.environ, UNAS_FAKE_LOG=str(log), UNAS_FAKE_SECONDS="0.4")
    args = ["search", "--dataset", "digits", "--sram", "24KB", "--flash", "40KB",
            "--rounds", "14", "--population", "4", "--sample", "2", "--workers", "2",
            "--out", str(out), "--evaluator", FAKE]
    process = subprocess.Popen([sys.executable, "-m", "search_engine", *args], cwd=ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (out / "search.json").exists():
            if sum(c["state"] == "done" for c in read_state(out)["candidates"]) >= 5:
                break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its workers, mid-search
    process.wait()
    before = read_state(out)
    done_before = {c["id"] for c in before["candidates"] if c["state"] == "done"}
    assert 5 <= len(done_before) < 14
    evaluated_before = log.read_text().split()

    result = cli("search", "--out", str(out), "--resume", "--workers", "2", "--evaluator",
                 FAKE, env=env)
    assert result.returncode == 0, result.stderr
    after = read_state(out)
    assert [c["id"] for c in after["candidates"]] == list(range(14))
    assert all(c["state"] == "done" for c in after["candidates"])
    evaluated_after = log.read_text().split()[len(evaluated_before):]
    # nothing recorded before the kill is evaluated again, everything else exactly once
    assert not done_before & {int(i) for i in evaluated_after}
    assert sorted(int(i) for i in evaluated_after) == sorted(set(range(14)) - done_before)
    for c in before["candidates"]:
        if c["state"] == "done":
            assert after["candidates"][c["id"]]["metrics"] == c["metrics"]
