"""Weight inheritance in the search: the engine's plan, the config, the evaluator's fallback."""

from __future__ import annotations

import pytest

from search_engine.search import HardLimits, MemoryStore, Search, SearchConfig
from search_engine.search.evaluate import weights_file
from search_engine.search.local_runner import EvaluationContext, candidate_context
from tests.test_search_engine import LineSpace, config, metrics_for


def _run(search: Search, plans: dict) -> Search:
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        plans[candidate.id] = search.inheritance_plan(candidate.id)
        search.complete(candidate.id, metrics_for(candidate.architecture))
    return search


def test_children_inherit_from_their_evaluated_parent():
    plans: dict = {}
    search = _run(Search.create(config(inheritance=True, inherit_epochs=0.25), LineSpace(),
                                MemoryStore()), plans)
    for c in search.state.candidates:
        if c.parent is None:
            assert plans[c.id] is None  # the random initial population starts fresh
        else:
            assert plans[c.id] == {"parent": c.parent, "epochs_fraction": 0.25}


@pytest.mark.parametrize("overrides", [{}, {"strategy": "random", "inheritance": True}])
def test_no_plan_without_inheritance_or_parents(overrides):
    plans: dict = {}
    _run(Search.create(config(**overrides), LineSpace(), MemoryStore()), plans)
    assert set(plans.values()) == {None}


@pytest.mark.parametrize("value", [0, 0.0, -0.5, 1.5, True, "half", None])
def test_config_rejects_bad_inherit_epochs(value):
    limits = HardLimits(1000, 1000)
    with pytest.raises(ValueError, match="inherit_epochs"):
        SearchConfig(limits=limits, bounds=limits.default_soft_bounds(), inheritance=True,
                     inherit_epochs=value)


def test_config_round_trips_and_old_searches_load_without_inheritance():
    cfg = config(inheritance=True, inherit_epochs=0.5)
    assert SearchConfig.from_json(cfg.to_json()) == cfg
    old = cfg.to_json()
    del old["inheritance"], old["inherit_epochs"]
    loaded = SearchConfig.from_json(old)
    assert loaded.inheritance is False


def test_candidate_context_carries_the_plan(tmp_path):
    search = Search.create(config(inheritance=True, early_stopping=False), LineSpace(),
                           MemoryStore())
    context = _context(tmp_path)
    while (candidate := search.propose()) is not None:
        search.start(candidate.id)
        options = candidate_context(search, candidate.id, context).options
        if candidate.parent is None:
            assert "inherit" not in options
        else:
            assert options["inherit"]["parent"] == candidate.parent
            break
        search.complete(candidate.id, metrics_for(candidate.architecture))
    else:
        pytest.fail("no child was proposed")


def _context(out_dir, **options) -> EvaluationContext:
    return EvaluationContext(dataset="digits", profile="quick", seed=0, out_dir=str(out_dir),
                             options=options)


def test_weights_file_places(tmp_path):
    assert weights_file(_context(tmp_path / "out"), 7) is None  # the search keeps no weights
    apart = _context(tmp_path / "out", weights_dir=str(tmp_path / "w"))
    assert weights_file(apart, 7) == tmp_path / "w" / "00007.npz"


def test_cli_keeps_weights_only_for_inheriting_searches(tmp_path):
    from search_engine.cli.search import cli_context

    for inheritance in (True, False):
        search = Search.create(config(inheritance=inheritance), LineSpace(), MemoryStore())
        search.state.extra["cli"] = {"dataset": "digits", "profile": "quick", "data_dir": None,
                                     "limit": None, "input_shape": [8, 8, 1], "num_classes": 10}
        options = cli_context(search, tmp_path).options
        assert options.get("weights_dir") == (str(tmp_path / "weights") if inheritance
                                              else None)


def _small_architecture() -> dict:
    from search_engine.space import (
        Architecture,
        ConvBlock,
        ConvLayer,
        DenseLayer,
        Pooling,
        architecture_to_json,
    )

    return architecture_to_json(Architecture(
        blocks=(ConvBlock((ConvLayer("full", 3, 8, 2, False, True, True),), False),),
        pooling=Pooling("avg", 2), dense=(DenseLayer(16),)))


@pytest.mark.slow
def test_evaluator_trains_an_inheritor_shorter_and_falls_back_without_weights(tmp_path):
    pytest.importorskip("keras")
    from search_engine.search.evaluate import evaluate_candidate
    from search_engine.train.profiles import get_profile

    arch = _small_architecture()
    epochs = get_profile("digits", "quick").epochs
    base = dict(dataset="digits", profile="quick", seed=0, out_dir=str(tmp_path), limit=300)
    keep = {"weights_dir": str(tmp_path / "weights")}
    parent, _ = evaluate_candidate(arch, 0.2, EvaluationContext(**base, options=keep),
                                   candidate_id=1)
    assert parent["epochs_trained"] == epochs and parent["inheritance"] is None
    assert weights_file(EvaluationContext(**base, options=keep), 1).exists()
    assert not list(tmp_path.rglob("*.npz"))[1:]  # that one file only

    plan = {**keep, "inherit": {"parent": 1, "epochs_fraction": 0.5}}
    child, _ = evaluate_candidate(arch, 0.2, EvaluationContext(**base, options=plan),
                                  candidate_id=2)
    assert child["epochs_trained"] == epochs // 2
    assert child["inheritance"] == {"parent": 1, "layers_exact": 3, "layers_partial": 0,
                                    "layers_fresh": 0}
    assert child["val_accuracy"] > 0.5

    orphan = {**keep, "inherit": {"parent": 99, "epochs_fraction": 0.5}}
    lost, _ = evaluate_candidate(arch, 0.2, EvaluationContext(**base, options=orphan),
                                 candidate_id=3)
    assert lost["epochs_trained"] == epochs
    assert lost["inheritance"] == {"parent": 99, "skipped": "the parent's weights are missing"}

    # a search that keeps no weights writes none and cannot inherit
    plain = {"inherit": {"parent": 1, "epochs_fraction": 0.5}}
    alone, _ = evaluate_candidate(arch, 0.2, EvaluationContext(**base, options=plain),
                                  candidate_id=4)
    assert alone["epochs_trained"] == epochs
    assert alone["inheritance"] == {"parent": 1, "skipped": "the search keeps no weights"}
    assert len(list(tmp_path.rglob("*.npz"))) == 3  # candidates 1-3, not 4
