"""Multi-fidelity (ASHA-style early stopping) in the engine, on a synthetic evaluator whose
learning curves are known (no TensorFlow), and the trainer's rung epochs."""

from __future__ import annotations

import pytest

from search_engine.search import (
    HardLimits,
    JsonFileStore,
    MemoryStore,
    PrecheckResult,
    Search,
    SearchConfig,
)
from search_engine.search.fidelity import rung_threshold, stopping_plan
from search_engine.train.trainer import rung_steps

EPOCHS = 9


class QualitySpace:
    """Architectures are {"x": cost, "q": final accuracy}; cost and quality independent."""

    def sample(self, rng):
        return {"x": rng.randint(1, 100), "q": round(rng.uniform(0.3, 0.99), 4)}

    def mutate(self, architecture, rng):
        return ({"x": max(1, architecture["x"] + rng.choice((-3, 3))),
                 "q": min(0.99, max(0.3, architecture["q"] + rng.gauss(0, 0.05)))}, "step")


def precheck(architecture, sparsity, state):
    x = architecture["x"]
    return PrecheckResult(True, None, {"estimated_sram_bytes": 100 * x,
                                       "estimated_flash_bytes": 200 * x, "macs": 50 * x})


def curve(q, epoch):
    return q * (0.5 + 0.5 * epoch / EPOCHS)


def evaluate(candidate, plan):
    """Trains along ``curve`` and obeys ``plan`` as the real trainer does; (metrics, epochs)."""
    arch = candidate.architecture
    figures = {"peak_memory_bytes": 90 * arch["x"], "model_size_bytes": 180 * arch["x"],
               "macs": 50 * arch["x"]}
    rungs = {}
    if plan is not None:
        for epoch, key in rung_steps(plan["fractions"], EPOCHS, 1):  # one step an epoch
            rungs[key] = curve(arch["q"], epoch)
            threshold = plan["thresholds"].get(key)
            if threshold is not None and rungs[key] < threshold:
                return dict(figures, val_accuracy=rungs[key], rung_accuracy=rungs,
                            stopped_early=True, epochs_trained=epoch), epoch
    return dict(figures, val_accuracy=arch["q"], rung_accuracy=rungs, stopped_early=False,
                epochs_trained=EPOCHS, tflm_arena_bytes=100 * arch["x"],
                tflite_bytes=200 * arch["x"]), EPOCHS


def config(**overrides):
    limits = HardLimits(sram_bytes=1_000_000, flash_bytes=1_000_000)
    values = dict(limits=limits, bounds=limits.default_soft_bounds(error=0.5), rounds=60,
                  population=12, sample=4, seed=3, references=False)
    values.update(overrides)
    return SearchConfig(**values)


def run(search):
    epochs = 0
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        metrics, spent = evaluate(candidate, search.stopping_plan(candidate.id))
        epochs += spent
        search.complete(candidate.id, metrics)
    return epochs


# -- the rule ---------------------------------------------------------------------------------


def test_rung_steps_follow_the_profile():
    assert rung_steps((1 / 9, 1 / 3), 9, 10) == [(10, "1"), (30, "3")]
    assert rung_steps((1 / 9, 1 / 3), 30, 2) == [(7, "3.5"), (20, "10")]
    # MNIST's quick profile: 3 epochs of 844 steps; the first rung is a third of epoch 1
    assert rung_steps((1 / 9, 1 / 3), 3, 844) == [(281, "0.33"), (844, "1")]
    assert rung_steps((1 / 9, 1 / 3), 1, 2) == [(1, "0.5")]  # two steps: one rung, at step 1
    assert rung_steps((1 / 9, 1 / 3), 1, 1) == []  # one step: nothing to stop early
    assert rung_steps((0.5, 0.5), 2, 10) == [(10, "1")]  # duplicates merge


def test_threshold_is_the_top_third():
    assert rung_threshold([0.5, 0.9], 3) is None  # fewer than eta records: nobody stops
    assert rung_threshold([0.5, 0.9, 0.7], 3) == 0.9
    assert rung_threshold([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 3) == 0.5  # top 2 of 6
    assert rung_threshold([0.1, 0.2, 0.3, 0.4], 2) == 0.3


def test_only_records_no_more_expensive_decide():
    cost = lambda x: {"estimated_sram_bytes": x, "estimated_flash_bytes": x, "macs": x}  # noqa: E731
    records = [(cost(10), {"rung_accuracy": {"1": 0.9}}),
               (cost(10), {"rung_accuracy": {"1": 0.8, "3": 0.95}}),
               (cost(20), {"rung_accuracy": {"1": 0.7}}),
               (cost(99), {"rung_accuracy": {"1": 0.99, "3": 0.99}}),  # dearer: ignored
               ({"estimated_sram_bytes": 5, "estimated_flash_bytes": 50, "macs": 5},
                {"rung_accuracy": {"1": 0.99}}),  # more Flash: ignored
               ({}, {"rung_accuracy": {"1": 0.99}})]  # no estimates: ignored
    plan = stopping_plan(cost(20), records, eta=3, fractions=(1 / 9, 1 / 3))
    assert plan["thresholds"] == {"1": 0.9}  # rung 3 has one comparable record only
    assert plan["fractions"] == [1 / 9, 1 / 3] and plan["eta"] == 3
    # the cheapest child has nothing to be compared with: it trains in full
    assert stopping_plan(cost(1), records, 3, (1 / 9,))["thresholds"] == {}


# -- in the engine ----------------------------------------------------------------------------


def test_stopped_children_are_recorded_but_never_on_the_front():
    search = Search.create(config(), QualitySpace(), MemoryStore(), precheck)
    run(search)
    done = search.state.candidates
    stopped = [c for c in done if c.metrics["stopped_early"]]
    full = [c for c in done if not c.metrics["stopped_early"]]
    assert stopped and full
    assert not any(c.pareto or c.feasible for c in stopped)
    assert all(c.metrics["epochs_trained"] < EPOCHS for c in stopped)
    assert search.front() and all(c in full for c in search.front())
    # stopped children age in the population like any child
    assert set(search.state.population) & {c.id for c in stopped}
    # the best error is a fully trained candidate's
    assert search.best_error() == min(c.objectives["error"] for c in full if c.feasible)


def test_a_child_above_the_threshold_is_promoted_to_full_training():
    search = Search.create(config(), QualitySpace(), MemoryStore(), precheck)
    run(search)
    for candidate in search.state.candidates:
        plan = candidate.metrics  # what the evaluator reported
        # recompute the plan the candidate had from the candidates before it
        earlier = [(c.precheck, c.metrics) for c in search.state.candidates
                   if c.id < candidate.id]
        thresholds = stopping_plan(candidate.precheck, earlier, 3, (1 / 9, 1 / 3))["thresholds"]
        should_stop = any(plan["rung_accuracy"].get(e, 1.0) < t for e, t in thresholds.items())
        assert plan["stopped_early"] == should_stop, candidate.id


def test_early_stopping_saves_epochs_and_keeps_the_best():
    """Same seed, same proposals until the populations diverge: at the same number of
    candidates, stopping spends far fewer epochs; the best found stays in the top few."""
    on = Search.create(config(rounds=120), QualitySpace(), MemoryStore(), precheck)
    off = Search.create(config(rounds=120, early_stopping=False), QualitySpace(), MemoryStore(),
                        precheck)
    epochs_on, epochs_off = run(on), run(off)
    assert epochs_off == 120 * EPOCHS
    assert epochs_on < 0.7 * epochs_off
    assert on.best_error() <= off.best_error() + 0.03
    assert all(not c.metrics["rung_accuracy"] for c in off.state.candidates)
    assert off.stopping_plan(0) is None


def test_resume_mid_rung_recomputes_the_same_plan(tmp_path):
    """A killed driver's running child is queued again and gets the plan it had."""
    store = JsonFileStore(tmp_path / "search.json")
    search = Search.create(config(), QualitySpace(), store, precheck)
    for _ in range(20):
        candidate = search.propose()
        search.start(candidate.id)
        search.complete(candidate.id, evaluate(candidate, search.stopping_plan(candidate.id))[0])
    child = search.propose()
    search.start(child.id)
    before = search.stopping_plan(child.id)
    assert before["thresholds"]  # by now the rungs have records
    del search
    resumed = Search.resume(QualitySpace(), JsonFileStore(tmp_path / "search.json"), precheck)
    assert [c.id for c in resumed.queued()] == [child.id]
    resumed.start(child.id)
    assert resumed.stopping_plan(child.id) == before
    resumed.complete(child.id, evaluate(child, before)[0])
    run(resumed)
    assert resumed.finished


def test_config_checks_and_old_searches_resume_without_early_stopping():
    limits = HardLimits(1000, 1000)
    for bad in ({"eta": 1}, {"eta": 0}, {"rung_fractions": (0.0,)}, {"rung_fractions": (1.5,)}):
        with pytest.raises(ValueError, match="eta|rung_fractions"):
            SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), **bad)
    data = SearchConfig(limits=limits, bounds=limits.default_soft_bounds()).to_json()
    assert SearchConfig.from_json(data).early_stopping is True
    assert SearchConfig.from_json(data).rung_fractions == (1 / 9, 1 / 3)
    del data["early_stopping"], data["rung_fractions"], data["eta"]
    old = SearchConfig.from_json(data)
    assert old.early_stopping is False and old.eta == 3


def test_random_space_draws_are_unaffected_by_stopping():
    """Random search with stopping draws the same architectures as without."""
    a = Search.create(config(strategy="random", rounds=30), QualitySpace(), MemoryStore(),
                      precheck)
    b = Search.create(config(strategy="random", rounds=30, early_stopping=False),
                      QualitySpace(), MemoryStore(), precheck)
    run(a), run(b)
    assert [c.architecture for c in a.state.candidates] == \
        [c.architecture for c in b.state.candidates]
