"""Final training: the engine's ``finalise`` event, target choice, and the CLI command (with
the fast fake evaluator)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from search_engine.search import HardLimits, MemoryStore, Search, SearchConfig, SearchError
from search_engine.search.finalise import choose_targets, default_targets, finalised_metrics

ROOT = Path(__file__).resolve().parent.parent
FAKE = "tests.fake_evaluator:evaluate"


class Line:
    def sample(self, rng):
        return {"x": rng.randint(1, 50)}

    def mutate(self, architecture, rng):
        return {"x": architecture["x"] + 1}, "plus"


def metrics(x, accuracy, profile="quick"):
    return dict(val_accuracy=accuracy, peak_memory_bytes=10 * x, model_size_bytes=20 * x,
                tflm_arena_bytes=10 * x, tflite_bytes=20 * x, macs=5 * x,
                test_accuracy_int8=accuracy - 0.01, profile=profile)


def searched():
    limits = HardLimits(sram_bytes=400, flash_bytes=800)
    config = SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), rounds=4,
                          population=4, sample=2, references=False, early_stopping=False)
    search = Search.create(config, Line(), MemoryStore())
    results = [(5, 0.80), (10, 0.90), (30, 0.95), (60, 0.99)]  # #3 is over the limits
    for x, acc in results:
        c = search.propose()
        c.architecture = {"x": x}
        search.start(c.id)
        search.complete(c.id, metrics(x, acc), {"tflite": f"screen/{c.id}.tflite"})
    return search


def test_default_targets_are_the_feasible_front():
    search = searched()
    assert [c.id for c in search.front()] == [0, 1, 2, 3]
    assert [c.id for c in default_targets(search.state.candidates)] == [0, 1, 2]


def test_finalise_replaces_figures_and_files_and_keeps_the_screening_ones():
    search = searched()
    final = metrics(10, 0.97, profile="paper")
    record = search.finalise(1, final, {"tflite": "final/1.tflite"})
    assert record.metrics["finalised"] is True
    assert record.metrics["val_accuracy"] == 0.97 and record.metrics["profile"] == "paper"
    assert record.metrics["screening"]["val_accuracy"] == 0.90
    assert record.metrics["screening"]["profile"] == "quick"
    assert record.objectives["error"] == pytest.approx(0.03)
    assert record.artifacts == {"tflite": "final/1.tflite"}
    assert "finalised_at" in record.timings
    # #1 now dominates #2 (0.95 at three times the cost): the front is recomputed
    assert [c.id for c in search.front()] == [0, 1, 3]
    assert search.best_error() == pytest.approx(0.03)
    # finalised twice: the first screening figures stay
    again = search.finalise(1, metrics(10, 0.96, profile="paper"))
    assert again.metrics["screening"]["val_accuracy"] == 0.90
    assert [c.id for c in default_targets(search.state.candidates)] == [0]  # #2 left the front


def test_final_figures_over_a_limit_make_the_candidate_infeasible():
    search = searched()
    bigger = metrics(10, 0.97)
    bigger["tflm_arena_bytes"] = 500  # the final export needs more arena than the limit
    assert search.finalise(1, bigger).feasible is False


def test_bad_targets_are_refused_with_reasons():
    search = searched()
    with pytest.raises(ValueError, match="no such candidate"):
        choose_targets(search, [9])
    c = search.state.candidates[2]
    c.metrics = dict(c.metrics, stopped_early=True)
    with pytest.raises(ValueError, match="stopped early"):
        choose_targets(search, [2])
    queued = Search.create(search.config, Line(), MemoryStore())
    queued.propose()
    with pytest.raises(ValueError, match="queued"):
        choose_targets(queued, [0])
    with pytest.raises(SearchError, match="only trained"):
        queued.finalise(0, metrics(1, 0.5))
    assert finalised_metrics({"val_accuracy": 0.5, "junk": 1}, {"val_accuracy": 0.6}) == {
        "val_accuracy": 0.6, "finalised": True, "screening": {"val_accuracy": 0.5}}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "search_engine", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_top_picks_the_most_accurate_of_the_front():
    search = searched()
    assert [c.id for c in choose_targets(search, None, top=2)] == [1, 2]  # 0.90, 0.95
    assert [c.id for c in choose_targets(search, None, top=1)] == [2]
    assert [c.id for c in choose_targets(search, None, top=9)] == [0, 1, 2]
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="top must be"):
            choose_targets(search, None, top=bad)
    with pytest.raises(ValueError, match="not both"):
        choose_targets(search, [0], top=1)


def test_cli_finalises_the_front(tmp_path):
    out = tmp_path / "run"
    result = cli("search", "--dataset", "digits", "--sram", "24KB", "--flash", "40KB",
                 "--rounds", "8", "--population", "4", "--sample", "2", "--out", str(out),
                 "--evaluator", FAKE)
    assert result.returncode == 0, result.stderr
    before = json.loads((out / "search.json").read_text())["candidates"]
    front = [c["id"] for c in before if c["pareto"] and c["feasible"]]
    assert front

    bad = cli("finalise", "--out", str(out), "--candidates", "99", "--evaluator", FAKE)
    assert bad.returncode == 2 and "no such candidate" in bad.stderr
    assert json.loads((out / "search.json").read_text())["candidates"] == before
    assert cli("finalise", "--out", str(tmp_path / "nothing")).returncode == 2
    assert "unknown training profile" in cli("finalise", "--out", str(out), "--profile",
                                             "slow").stderr

    bad = cli("finalise", "--out", str(out), "--top", "0", "--evaluator", FAKE)
    assert bad.returncode == 2 and "--top" in bad.stderr
    best = min(front, key=lambda i: (before[i]["objectives"]["error"], i))
    result = cli("finalise", "--out", str(out), "--top", "1", "--evaluator", FAKE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["finalised"] == [best]
    front = [i for i in front if i != best]

    result = cli("finalise", "--out", str(out), "--workers", "2", "--evaluator", FAKE)
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads(result.stdout.strip().splitlines()[-1])["finalised"]) == front
    assert "screening" in result.stderr and "final" in result.stderr
    after = {c["id"]: c for c in json.loads((out / "search.json").read_text())["candidates"]}
    for i in front:
        c = after[i]
        assert c["finalised"] is True and c["profile"] == "paper"
        assert c["screening"]["profile"] == "quick"
        assert c["val_accuracy"] == pytest.approx(c["screening"]["val_accuracy"] + 0.01)
        assert "/final/" in c["artifacts"]["tflite"]
    # nothing left to do: a second run says so and changes nothing
    again = cli("finalise", "--out", str(out), "--evaluator", FAKE)
    assert again.returncode == 0 and "nothing to finalise" in again.stderr
