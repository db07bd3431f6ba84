"""The search state machine on a synthetic space and evaluator (no TensorFlow)."""

from __future__ import annotations

import itertools
import random

import pytest

from search_engine.search import (
    HardLimits,
    JsonFileStore,
    MemoryStore,
    PrecheckResult,
    Search,
    SearchConfig,
    SearchError,
    SoftBounds,
    hypervolume,
    pareto_front,
    sample_coefficients,
    scalarise,
)
from search_engine.search.engine import hypervolume_reference
from search_engine.search.objectives import objective_values


class LineSpace:
    """Architectures are {"x": int}; mutation moves x by one."""

    def sample(self, rng):
        return {"x": rng.randint(0, 200)}

    def mutate(self, architecture, rng):
        step = rng.choice((-1, 1))
        return {"x": architecture["x"] + step}, "plus" if step > 0 else "minus"


def metrics_for(architecture, sparsity=0.0):
    """Error falls towards x = 100; memory and size grow with x."""
    x = architecture["x"]
    return {"val_accuracy": 1.0 - abs(x - 100) / 1000.0 - 0.01,
            "peak_memory_bytes": 10 * x + 10, "model_size_bytes": 20 * x + 10,
            "tflm_arena_bytes": 10 * x + 10, "tflite_bytes": 20 * x + 10, "macs": 5 * x + 1}


def config(**overrides):
    limits = HardLimits(sram_bytes=100_000, flash_bytes=100_000)
    values = dict(limits=limits, bounds=limits.default_soft_bounds(error=0.5), rounds=40,
                  population=10, sample=3, seed=7)
    values.update(overrides)
    return SearchConfig(**values)


def run_all(search, evaluations=None):
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        if evaluations is not None:
            evaluations[candidate.id] = evaluations.get(candidate.id, 0) + 1
        search.complete(candidate.id, metrics_for(candidate.architecture))
    return search


class FixedRandom(random.Random):
    def __init__(self, values):
        super().__init__(0)
        self.values = list(values)

    def random(self):
        return self.values.pop(0)


def test_scalarisation_matches_eq1_by_hand():
    bounds = SoftBounds(error=0.1, sram_bytes=1000)
    # u = 1 - random(): random() = 0.5 and 0.75 give u = 0.5 and 0.25
    coefficients = sample_coefficients(bounds, FixedRandom([0.5, 0.75]))
    assert coefficients == pytest.approx({"error": 1 / (0.1 * 0.5), "sram_bytes": 1 / 250})
    # L = max(0.05 / 0.05, 800 / 250) = max(1.0, 3.2)
    assert scalarise({"error": 0.05, "sram_bytes": 800, "macs": 1e9}, coefficients) == \
        pytest.approx(3.2)
    # an objective without a bound takes no part, however large
    assert "macs" not in coefficients


def test_error_takes_part_without_a_target():
    # Without an error target the error's bound is its whole range (1.0), not absent: a search
    # that ignored accuracy would pick the smallest network whatever its error.
    limits = HardLimits(sram_bytes=1000, flash_bytes=2000, macs=None)
    assert limits.default_soft_bounds().active() == {
        "error": 1.0, "sram_bytes": 1000.0, "flash_bytes": 2000.0}
    assert limits.default_soft_bounds(error=0.05).active()["error"] == 0.05
    coefficients = sample_coefficients(limits.default_soft_bounds(), FixedRandom([0.0] * 3))
    tiny_useless = {"error": 0.9, "sram_bytes": 100, "flash_bytes": 100, "macs": 1}
    small_good = {"error": 0.1, "sram_bytes": 300, "flash_bytes": 300, "macs": 1}
    assert scalarise(small_good, coefficients) < scalarise(tiny_useless, coefficients)


def test_scalarisation_needs_a_bound():
    with pytest.raises(ValueError, match="no objective has a bound"):
        scalarise({"error": 0.1}, {})
    with pytest.raises(ValueError, match="soft bound error"):
        SoftBounds(error=-1)


def test_coefficients_follow_the_uniform_law():
    rng = random.Random(3)
    bounds = SoftBounds(sram_bytes=2.0)
    inverse = [1 / sample_coefficients(bounds, rng)["sram_bytes"] for _ in range(20000)]
    assert min(inverse) > 0 and max(inverse) <= 2.0
    assert sum(inverse) / len(inverse) == pytest.approx(1.0, abs=0.02)  # mean of U[0, 2]


def test_config_rejects_bad_values():
    limits = HardLimits(1000, 1000)
    with pytest.raises(ValueError, match="sample: must not exceed population"):
        SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), population=3, sample=5)
    with pytest.raises(ValueError, match="rounds"):
        SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), rounds=0)
    with pytest.raises(ValueError, match="strategy"):
        SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), strategy="grid")
    with pytest.raises(ValueError, match="sram_bytes"):
        HardLimits(sram_bytes=0, flash_bytes=10)


def test_rounds_count_every_trained_candidate_and_population_ages():
    search = run_all(Search.create(config(), LineSpace(), MemoryStore()))
    state = search.state
    assert len(state.candidates) == 40 and search.finished and search.propose() is None
    done_order = sorted(state.candidates, key=lambda c: c.timings["finished_at"])
    assert state.population == [c.id for c in done_order[-10:]]  # the 10 youngest survive
    assert all(c.parent is None for c in state.candidates[:10])  # initial population random
    assert all(c.parent is not None for c in state.candidates[10:])


def test_parent_is_the_best_of_the_sample():
    # With sample == population, the parent is the best member of the whole population, and
    # with error as the only bounded objective the scalarised order is the error order.
    limits = HardLimits(10**9, 10**9)
    search = Search.create(config(population=6, sample=6, rounds=30, limits=limits,
                                  bounds=SoftBounds(error=0.5)), LineSpace(), MemoryStore())
    while (candidate := search.propose()) is not None:
        if candidate.parent is not None:
            members = [search.state.by_id(i) for i in search.state.population]
            best = min(members, key=lambda c: (c.objectives["error"], c.id))
            assert candidate.parent == best.id
            assert abs(candidate.architecture["x"] - best.architecture["x"]) == 1
        search.start(candidate.id)
        search.complete(candidate.id, metrics_for(candidate.architecture))


def test_random_strategy_never_mutates():
    search = run_all(Search.create(config(strategy="random"), LineSpace(), MemoryStore()))
    assert all(c.parent is None and c.morphism is None for c in search.state.candidates)


def test_evolution_improves_on_the_synthetic_problem():
    search = run_all(Search.create(config(rounds=120, bounds=SoftBounds(error=0.5)),
                                   LineSpace(), MemoryStore()))
    first = min(c.objectives["error"] for c in search.state.candidates[:10])
    assert search.best_error() < first


def test_precheck_rejects_before_training():
    def precheck(architecture, sparsity, state):
        if architecture["x"] > 150:
            return PrecheckResult(False, "sram")
        return PrecheckResult(True, estimates={"x": architecture["x"]})

    search = run_all(Search.create(config(), LineSpace(), MemoryStore(), precheck))
    assert all(c.architecture["x"] <= 150 for c in search.state.candidates)
    assert search.state.rejected > 0 and search.state.rejection_reasons["sram"] > 0
    assert search.state.candidates[0].precheck == {"x": search.state.candidates[0]
                                                   .architecture["x"]}

    nothing_fits = Search.create(config(max_rejections=50), LineSpace(), MemoryStore(),
                                 lambda a, s, st: PrecheckResult(False, "flash"))
    with pytest.raises(SearchError, match="too tight") as raised:
        nothing_fits.propose()
    # a sentence for the page, not a Python dict
    assert "50 draws over Flash" in str(raised.value) and "{" not in str(raised.value)


def test_feasible_means_measured_and_within_limits():
    limits = HardLimits(sram_bytes=1000, flash_bytes=3000)
    search = run_all(Search.create(config(limits=limits, bounds=limits.default_soft_bounds(0.5)),
                                   LineSpace(), MemoryStore()))
    for c in search.state.candidates:
        m = c.metrics
        assert c.feasible == (m["tflm_arena_bytes"] <= 1000 and m["tflite_bytes"] <= 3000)
    assert any(c.feasible for c in search.state.candidates)
    assert any(not c.feasible for c in search.state.candidates)
    # without measured figures nothing is feasible
    search = Search.create(config(), LineSpace(), MemoryStore())
    candidate = search.propose()
    search.start(candidate.id)
    analytic = {k: v for k, v in metrics_for(candidate.architecture).items()
                if k not in ("tflm_arena_bytes", "tflite_bytes")}
    assert not search.complete(candidate.id, analytic).feasible


def test_hypervolume_is_measured_against_the_users_bounds():
    limits = HardLimits(sram_bytes=1000, flash_bytes=4000)
    cfg = config(limits=limits, bounds=SoftBounds(error=0.5, sram_bytes=500, flash_bytes=None))
    assert hypervolume_reference(cfg) == {"error": 0.5, "sram_bytes": 500.0,
                                          "flash_bytes": 4000.0}
    search = Search.create(cfg, LineSpace(), MemoryStore())

    def evaluate(error, sram, flash):
        candidate = search.propose()
        search.start(candidate.id)
        search.complete(candidate.id, {
            "val_accuracy": 1 - error, "tflm_arena_bytes": sram, "tflite_bytes": flash,
            "peak_memory_bytes": sram, "model_size_bytes": flash, "macs": 1})
        return search.current_hypervolume

    # error 0.25 of the 0.5 target, SRAM 250 of the 500 bound, Flash 1000 of 4000
    assert evaluate(0.25, 250, 1000) == pytest.approx(0.5 * 0.5 * 0.75)
    # feasible but above the error target: outside the box, adds nothing
    assert evaluate(0.6, 10, 10) == pytest.approx(0.1875)
    # within the hard SRAM limit but over the soft bound: adds nothing either
    assert evaluate(0.01, 900, 10) == pytest.approx(0.1875)
    # without an error target the error axis runs to 1.0; MACs join when limited
    plain = HardLimits(sram_bytes=1000, flash_bytes=4000, macs=10**6)
    assert hypervolume_reference(config(limits=plain, bounds=plain.default_soft_bounds())) == {
        "error": 1.0, "sram_bytes": 1000.0, "flash_bytes": 4000.0, "macs": 1e6}


def test_failures_are_recorded_and_do_not_stop_the_search():
    search = Search.create(config(rounds=12), LineSpace(), MemoryStore())
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        if candidate.id % 3 == 0:
            search.fail(candidate.id, "conversion failed")
        else:
            search.complete(candidate.id, metrics_for(candidate.architecture))
    failed = [c for c in search.state.candidates if c.state == "failed"]
    assert len(failed) == 4 and all(c.error_message == "conversion failed" for c in failed)
    assert search.finished and all(c.id not in search.state.population for c in failed)


def test_a_search_whose_candidates_all_failed_says_why():
    """Issue 12: with an untrainable data set every candidate failed and the search ended as
    if it had worked; the engine names the failure, which both drivers end the search with."""
    search = Search.create(config(rounds=3), LineSpace(), MemoryStore())
    assert search.all_failed_reason() is None  # nothing evaluated yet
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        search.fail(candidate.id, f"cannot decode the image ({candidate.id}: Invalid PNG data)")
    assert search.finished
    reason = search.all_failed_reason()
    assert reason == ("all 3 candidates failed; the last error: cannot decode the image "
                      "(2: Invalid PNG data)")
    # one trained candidate among failures: a search that worked, if poorly
    partial = Search.create(config(rounds=3), LineSpace(), MemoryStore())
    for i, candidate in enumerate(iter(partial.propose, None)):
        partial.start(candidate.id)
        if i == 1:
            partial.complete(candidate.id, metrics_for(candidate.architecture))
        else:
            partial.fail(candidate.id, "conversion failed")
    assert partial.finished and partial.all_failed_reason() is None


def test_resume_after_a_kill_loses_and_duplicates_nothing(tmp_path):
    store = JsonFileStore(tmp_path / "search.json")
    search = Search.create(config(), LineSpace(), store)
    evaluations: dict[int, int] = {}
    # run 17 candidates, then "kill" the driver with two candidates running and one queued
    for _ in range(17):
        candidate = search.propose()
        search.start(candidate.id)
        evaluations[candidate.id] = 1
        search.complete(candidate.id, metrics_for(candidate.architecture))
    running = [search.propose(), search.propose()]
    for candidate in running:
        search.start(candidate.id)
    search.propose()
    del search

    resumed = Search.resume(LineSpace(), JsonFileStore(tmp_path / "search.json"))
    assert [c.id for c in resumed.queued()] == [17, 18, 19]
    for candidate in resumed.queued():
        resumed.start(candidate.id)
        evaluations[candidate.id] = evaluations.get(candidate.id, 0) + 1
        resumed.complete(candidate.id, metrics_for(candidate.architecture))
    run_all(resumed, evaluations)
    assert sorted(evaluations) == list(range(40))
    assert set(evaluations.values()) == {1}

    # the resumed run proposes exactly what an uninterrupted one with the same interleaving
    # of events would
    straight = Search.create(config(), LineSpace(), MemoryStore())
    for _ in range(17):
        run_all_one = straight.propose()
        straight.start(run_all_one.id)
        straight.complete(run_all_one.id, metrics_for(run_all_one.architecture))
    for candidate in [straight.propose() for _ in range(3)]:
        straight.start(candidate.id)
        straight.complete(candidate.id, metrics_for(candidate.architecture))
    run_all(straight)
    assert [c.architecture for c in straight.state.candidates] == \
        [c.architecture for c in resumed.state.candidates]


def test_complete_is_idempotent():
    search = Search.create(config(), LineSpace(), MemoryStore())
    candidate = search.propose()
    search.start(candidate.id)
    search.complete(candidate.id, metrics_for(candidate.architecture))
    search.complete(candidate.id, metrics_for({"x": 0}))
    assert search.state.population == [candidate.id]
    assert search.state.candidates[0].metrics == metrics_for(candidate.architecture)
    with pytest.raises(SearchError, match="not queued"):
        search.start(candidate.id)


def test_every_event_is_saved():
    store = MemoryStore()
    search = Search.create(config(rounds=5), LineSpace(), store)
    run_all(search)
    assert store.saves == 1 + 3 * 5  # create, then propose / start / complete per candidate
    assert store.load().to_json() == search.state.to_json()


def test_objective_values_prefer_measured_figures():
    metrics = {"val_accuracy": 0.9, "peak_memory_bytes": 100, "model_size_bytes": 200,
               "macs": 5, "tflm_arena_bytes": 1500, "tflite_bytes": 2500}
    assert objective_values(metrics) == pytest.approx(
        {"error": 0.1, "sram_bytes": 1500, "flash_bytes": 2500, "macs": 5})
    del metrics["tflm_arena_bytes"], metrics["tflite_bytes"]
    metrics["tflm_overhead_bytes"] = 700
    assert objective_values(metrics)["sram_bytes"] == 800
    assert objective_values(metrics)["flash_bytes"] == 200


# -- Pareto front and hypervolume against brute force ---------------------------------------

def brute_hypervolume(points):
    """Inclusion-exclusion over subsets in the unit box."""
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(points, size):
            corner = [max(p[d] for p in subset) for d in range(len(points[0]))]
            volume = 1.0
            for x in corner:
                volume *= max(0.0, 1.0 - x)
            total += (-1) ** (size + 1) * volume
    return total


def test_hypervolume_by_hand():
    assert hypervolume([(0.5, 0.5)], (1, 1)) == pytest.approx(0.25)
    assert hypervolume([(0.2, 0.6), (0.6, 0.2)], (1, 1)) == pytest.approx(0.48)
    assert hypervolume([(50, 5)], (100, 10)) == pytest.approx(0.25)
    assert hypervolume([(150, 5)], (100, 10)) == 0.0  # outside the bounds: no contribution
    assert hypervolume([], (1, 1)) == 0.0


@pytest.mark.parametrize("dims", [2, 3, 4])
def test_hypervolume_matches_inclusion_exclusion(dims):
    rng = random.Random(dims)
    for _ in range(60):
        points = [tuple(rng.random() for _ in range(dims)) for _ in range(rng.randint(1, 7))]
        assert hypervolume(points, (1,) * dims) == pytest.approx(brute_hypervolume(points))


def test_pareto_front_matches_brute_force():
    rng = random.Random(1)
    for _ in range(100):
        points = [tuple(rng.randint(0, 5) for _ in range(3)) for _ in range(rng.randint(1, 12))]
        expected = [i for i, p in enumerate(points)
                    if not any(all(q[d] <= p[d] for d in range(3)) and q != p for q in points)]
        assert pareto_front(points) == expected


def test_references_seed_the_initial_population_smallest_first():
    """The first proposals are the reference family (pre-checked like any child), marked as
    references, at the low end of the sparsity range; then random draws take over."""
    from search_engine.search import HardLimits, MemoryStore, Search, SearchConfig
    from search_engine.search.setup import JsonSpace, build_precheck
    from search_engine.space.references import reference_family

    space = JsonSpace((8, 8, 1), 10)
    limits = HardLimits(64 * 1024, 32 * 1024)  # lenet-32's ~49 KB of weights do not fit
    config = SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), rounds=6,
                          population=5, sample=2, sparsity_range=(0.1, 0.5))
    search = Search.create(config, space, MemoryStore(), build_precheck(space, limits))
    proposed = [search.propose() for _ in range(5)]
    names = [name for name, _ in reference_family((8, 8, 1))]
    assert [c.morphism for c in proposed[:3]] == [f"reference:{n}" for n in names[:3]]
    assert all(c.origin == "reference" and c.sparsity == 0.1 for c in proposed[:3])
    # lenet-32 does not fit at 10% sparsity: it is proposed pruned harder, at the first
    # sparsity of reference_sparsities that fits
    from search_engine.search.engine import reference_sparsities

    big = proposed[3]
    assert big.morphism == "reference:lenet-32" and big.origin == "reference"
    assert big.sparsity in reference_sparsities((0.1, 0.5))[1:]
    assert big.precheck["estimated_flash_bytes"] <= 32 * 1024
    assert proposed[4].origin == "random" and proposed[4].morphism is None
    # under limits it cannot meet even at the top of the range, it is refused
    tight = HardLimits(64 * 1024, 12 * 1024)
    small = Search.create(SearchConfig(limits=tight, bounds=tight.default_soft_bounds(),
                                       rounds=6, population=5, sample=2,
                                       sparsity_range=(0.1, 0.5)),
                          space, MemoryStore(), build_precheck(space, tight))
    assert "reference:lenet-32" not in [small.propose().morphism for _ in range(5)]
    assert small.state.rejection_reasons.get("flash", 0) >= 1
    off = Search.create(SearchConfig(limits=limits, bounds=limits.default_soft_bounds(),
                                     rounds=2, population=2, sample=1, references=False),
                        space, MemoryStore(), build_precheck(space, limits))
    assert off.propose().origin == "random"


def test_searches_saved_before_references_resume_without_them():
    from search_engine.search import HardLimits, SearchConfig

    limits = HardLimits(1000, 1000)
    data = SearchConfig(limits=limits, bounds=limits.default_soft_bounds()).to_json()
    del data["references"]
    assert SearchConfig.from_json(data).references is False


def test_cancel_and_requeue_are_engine_events():
    """The web app ends searches and reaps lost workers through these, not by writing
    records' states itself."""
    search = Search.create(config(rounds=5), LineSpace(), MemoryStore())
    a, b, c = search.propose(), search.propose(), search.propose()
    search.start(a.id)
    search.start(b.id)
    assert search.requeue(b.id).state == "queued"
    with pytest.raises(SearchError, match="not running"):
        search.requeue(b.id)
    search.complete(a.id, metrics_for(a.architecture))
    for candidate in (a, b, c):
        search.cancel(candidate.id)
    assert [x.state for x in search.state.candidates] == ["done", "cancelled", "cancelled"]
    assert "finished_at" in search.state.candidates[1].timings
    assert search.evaluated == 1 and not search.in_flight()


@pytest.mark.parametrize("make, field, text", [
    (lambda: HardLimits(sram_bytes=0, flash_bytes=10), "limits.sram_bytes",
     "hard limit sram_bytes: must be a positive integer (got 0)"),
    (lambda: SoftBounds(error=-1.0), "bounds.error",
     "soft bound error: must be a positive number (got -1.0)"),
    (lambda: config(rounds=0), "rounds", "rounds: must be a positive integer (got 0)"),
    (lambda: config(population=3, sample=5), "sample",
     "sample: must not exceed population (5 > 3)"),
    (lambda: config(strategy="grid"), "strategy", None),
    (lambda: config(inherit_epochs=2.0), "inherit_epochs", None),
])
def test_config_errors_name_their_setting_as_data(make, field, text):
    from search_engine.search import ConfigError

    with pytest.raises(ConfigError) as caught:
        make()
    assert caught.value.field == field
    assert str(caught.value).endswith(caught.value.message)
    if text is not None:
        assert str(caught.value) == text


class TinySpace:
    """Two architectures in all."""

    def sample(self, rng):
        return {"x": rng.choice((99, 101))}

    def mutate(self, architecture, rng):
        return {"x": 200 - architecture["x"]}, "flip"


def test_repeated_candidates_are_drawn_again(monkeypatch):
    # with one sparsity (low == high) a repeat of an architecture is a repeat of a candidate;
    # evolution converging on x = 100 keeps drawing its neighbours again
    from search_engine.search import engine

    def unique(redraws):
        monkeypatch.setattr(engine, "DUPLICATE_REDRAWS", redraws)
        search = run_all(Search.create(config(rounds=60, sparsity_range=(0.5, 0.5)),
                                       LineSpace(), MemoryStore()))
        assert len(search.state.candidates) == 60 and search.state.rejected == 0
        return len({c.architecture["x"] for c in search.state.candidates})

    redraws = engine.DUPLICATE_REDRAWS
    never, default = unique(0), unique(redraws)
    assert redraws == 10 and never == 24 and default == 51  # of 60 (seeded, deterministic)


def test_a_space_with_nothing_new_left_still_proposes():
    search = run_all(Search.create(config(rounds=6, population=2, sample=1,
                                          sparsity_range=(0.5, 0.5)), TinySpace(),
                                   MemoryStore()))
    assert len(search.state.candidates) == 6
    assert {c.architecture["x"] for c in search.state.candidates} == {99, 101}


def test_resumed_searches_remember_what_was_proposed(tmp_path):
    store = JsonFileStore(tmp_path / "search.json")
    search = Search.create(config(rounds=30, sparsity_range=(0.5, 0.5)), LineSpace(), store)
    for _ in range(15):
        candidate = search.propose()
        search.start(candidate.id)
        search.complete(candidate.id, metrics_for(candidate.architecture))
    resumed = run_all(Search(store.load(), LineSpace(), store))
    xs = [c.architecture["x"] for c in resumed.state.candidates]
    assert len(xs) == 30 and len(set(xs)) == 30
