"""The search as a pure, seedable state machine: aging evolution or random search.

The engine never trains anything itself. A driver (the CLI's local worker pool, or Celery
tasks in the web app) asks it for the next candidate whenever an evaluator is free
(asynchronous steady state), marks candidates running, and reports results or failures. Every
event is saved to a pluggable store before the call returns, so a killed driver resumes where
it was: evaluated candidates are kept, candidates that were in flight are queued again.

Randomness is derived from ``(seed, proposal number)``, so a resumed search proposes exactly
what an uninterrupted one would have.

Hard limits are checked before training: ``precheck`` decides from the architecture alone
whether a child can fit the device after its target pruning; children that cannot are not
trained (counted in ``state.rejected``) and another child is drawn.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .fidelity import stopped_early, stopping_plan
from .finalise import finalised_metrics
from .objectives import (
    NO_TARGET_ERROR_BOUND,
    OBJECTIVES,
    objective_values,
    sample_coefficients,
    scalarise,
)
from .pareto import hypervolume, pareto_front
from .state import (
    CANCELLED,
    DONE,
    FAILED,
    IN_FLIGHT,
    QUEUED,
    REFERENCE_PREFIX,
    RUNNING,
    CandidateRecord,
    SearchConfig,
    SearchState,
)

_LIMIT_NAMES = {"sram": "SRAM", "flash": "Flash", "macs": "the MAC limit"}


def rejection_summary(reasons: dict[str, int]) -> str:
    """``{"flash": 1995, "sram": 5}`` -> ``"1995 draws over Flash, 5 over SRAM"``."""
    parts = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    words = [f"{n} over {_LIMIT_NAMES[reason]}" if reason in _LIMIT_NAMES
             else f"{n} refused ({reason})" for reason, n in parts]
    if words:
        words[0] = words[0].replace(" over ", " draws over " if parts[0][1] != 1
                                    else " draw over ", 1)
    return ", ".join(words) if words else "no reasons recorded"


#: draws in a row that repeat an already proposed (architecture, sparsity) pair and are drawn
#: again; after that many the repeat is accepted (a tiny space may hold nothing new)
DUPLICATE_REDRAWS = 10


def _key(architecture: Any, sparsity: float) -> str:
    return json.dumps(architecture, sort_keys=True, default=str) + f"|{float(sparsity):.6f}"


class SearchError(RuntimeError):
    """The search cannot go on (e.g. no child fits the hard limits)."""


class Space(Protocol):
    """What the engine needs of a search space (architectures as JSON-able dicts)."""

    def sample(self, rng: random.Random) -> dict[str, Any]: ...

    def mutate(self, architecture: dict[str, Any], rng: random.Random
               ) -> tuple[dict[str, Any], str]: ...

    # Optional: ``references() -> list[(name, architecture)]``, the hand-designed networks that
    # seed the initial population when ``SearchConfig.references`` is on.


@dataclass(frozen=True)
class PrecheckResult:
    fits: bool
    reason: str | None = None
    estimates: dict[str, Any] = field(default_factory=dict)


class Precheck(Protocol):
    """Decides before training whether a candidate can fit the hard limits."""

    def __call__(self, architecture: dict[str, Any], sparsity: float,
                 state: SearchState) -> PrecheckResult: ...


class Store(Protocol):
    def save(self, state: SearchState) -> None: ...

    def load(self) -> SearchState | None: ...


def always_fits(architecture: dict[str, Any], sparsity: float,
                state: SearchState) -> PrecheckResult:
    """A precheck that admits everything (for tests and unconstrained runs)."""
    return PrecheckResult(True)


def reference_sparsities(sparsity_range: tuple[float, float], steps: int = 4) -> list[float]:
    """The sparsities a reference network is tried at, lowest first: the range's low end, then
    evenly up to its high end."""
    lo, hi = sparsity_range
    return [round(lo + (hi - lo) * k / steps, 4) for k in range(steps + 1)]


def hypervolume_reference(config: SearchConfig) -> dict[str, float]:
    """The reference point of a search's hypervolume: the user's bounds.

    Per objective, the soft bound that Eq. 1 normalises by (the error target, or 1.0 without
    one; SRAM, Flash and MACs bounds, which default to the hard limits), so the hypervolume
    measures the box the scalarisation steers towards. MACs count only when bounded or
    limited. Candidates outside the box (e.g. above the error target) add nothing.
    """
    limits = config.limits
    reference = {"error": NO_TARGET_ERROR_BOUND, "sram_bytes": float(limits.sram_bytes),
                 "flash_bytes": float(limits.flash_bytes)}
    if limits.macs is not None:
        reference["macs"] = float(limits.macs)
    reference.update(config.bounds.active())
    return reference


def feasible_hypervolume(candidates: Iterable[CandidateRecord],
                         reference: Mapping[str, float]) -> float:
    """Hypervolume of the feasible candidates' objectives against ``reference``."""
    points = [tuple(c.objectives[k] for k in reference) for c in candidates if c.feasible]
    return hypervolume(points, list(reference.values()))


class Search:
    """Drive with ``propose`` / ``start`` / ``complete`` / ``fail``; see the module docstring."""

    def __init__(self, state: SearchState, space: Space, store: Store,
                 precheck: Precheck = always_fits) -> None:
        self.state = state
        self.space = space
        self.store = store
        self.precheck = precheck
        self._seen: set[str] | None = None  # keys of proposed (architecture, sparsity) pairs

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, config: SearchConfig, space: Space, store: Store,
               precheck: Precheck = always_fits) -> Search:
        search = cls(SearchState(config=config), space, store, precheck)
        search._save()
        return search

    @classmethod
    def resume(cls, space: Space, store: Store, precheck: Precheck = always_fits) -> Search:
        state = store.load()
        if state is None:
            raise SearchError("nothing to resume: the store holds no search")
        search = cls(state, space, store, precheck)
        search.requeue_in_flight()
        return search

    def requeue_in_flight(self) -> list[int]:
        """Candidates a dead driver left running go back to the queue."""
        running = [c for c in self.state.candidates if c.state == RUNNING]
        for candidate in running:
            candidate.state = QUEUED
        if running:
            self._save()  # once for all of them
        return [c.id for c in running]

    def requeue(self, candidate_id: int) -> CandidateRecord:
        """A running candidate whose evaluator was lost goes back to the queue."""
        candidate = self.state.by_id(candidate_id)
        if candidate.state != RUNNING:
            raise SearchError(f"candidate {candidate_id} is {candidate.state}, not running")
        candidate.state = QUEUED
        self._save()
        return candidate

    def cancel(self, candidate_id: int) -> CandidateRecord:
        """An in-flight candidate will not be evaluated (its search ended); others are left
        as they are."""
        candidate = self.state.by_id(candidate_id)
        if candidate.state in IN_FLIGHT:
            candidate.state = CANCELLED
            candidate.timings["finished_at"] = time.time()
            self._save()
        return candidate

    # -- queries ----------------------------------------------------------------------------

    @property
    def config(self) -> SearchConfig:
        return self.state.config

    @property
    def evaluated(self) -> int:
        return self.state.count(DONE, FAILED)

    @property
    def budget_left(self) -> int:
        """How many more candidates may still be proposed."""
        return self.config.rounds - len(self.state.candidates)

    @property
    def finished(self) -> bool:
        return self.evaluated >= self.config.rounds

    def queued(self) -> list[CandidateRecord]:
        return [c for c in self.state.candidates if c.state == QUEUED]

    def in_flight(self) -> list[CandidateRecord]:
        return [c for c in self.state.candidates if c.state in IN_FLIGHT]

    def front(self) -> list[CandidateRecord]:
        return [c for c in self.state.candidates if c.pareto]

    def best_error(self, feasible_only: bool = True) -> float | None:
        errors = [c.objectives["error"] for c in self.state.candidates
                  if c.state == DONE and not stopped_early(c.metrics)
                  and (c.feasible or not feasible_only)]
        return min(errors) if errors else None

    def all_failed_reason(self) -> str | None:
        """Why the search as a whole failed: candidates were evaluated, every one of them
        failed and none was trained (e.g. a data set no network can be trained on). ``None``
        while nothing was evaluated or once any candidate is done. The drivers end the search
        failed with this reason (the web app's ``fill``, the CLI's exit status)."""
        failed = [c for c in self.state.candidates if c.state == FAILED]
        if not failed or self.state.count(DONE):
            return None
        last = max(failed, key=lambda c: (c.timings.get("finished_at", 0.0), c.id))
        return (f"all {len(failed)} candidates failed; the last error: "
                f"{(last.error_message or 'unknown')[:500]}")

    @property
    def current_hypervolume(self) -> float:
        return self.state.hypervolume[-1][1] if self.state.hypervolume else 0.0

    def stopping_plan(self, candidate_id: int) -> dict[str, Any] | None:
        """The early-stopping plan for a candidate about to be evaluated (``search.fidelity``),
        from every candidate evaluated so far; ``None`` when early stopping is off."""
        config = self.config
        if not config.early_stopping:
            return None
        candidate = self.state.by_id(candidate_id)
        records = [(c.precheck, c.metrics) for c in self.state.candidates
                   if c.state == DONE and c.id != candidate_id]
        return stopping_plan(candidate.precheck, records, config.eta, config.rung_fractions)

    def inheritance_plan(self, candidate_id: int) -> dict[str, Any] | None:
        """``{"parent": id, "epochs_fraction": f}`` for a child to start from its parent's
        weights (``search.evaluate``); ``None`` when inheritance is off or the candidate has no
        evaluated parent (random and reference candidates)."""
        config = self.config
        candidate = self.state.by_id(candidate_id)
        if not config.inheritance or candidate.parent is None:
            return None
        parent = self.state.by_id(candidate.parent)
        if parent.state != DONE:
            return None
        return {"parent": parent.id, "epochs_fraction": float(config.inherit_epochs)}

    # -- events -----------------------------------------------------------------------------

    def propose(self) -> CandidateRecord | None:
        """The next candidate to evaluate, or ``None`` when the budget is used up."""
        if self.budget_left <= 0:
            return None
        config = self.config
        if self._seen is None:
            self._seen = {_key(c.architecture, c.sparsity) for c in self.state.candidates}
        repeats = 0
        for _ in range(config.max_rejections):
            number = self.state.proposals
            self.state.proposals += 1
            rng = random.Random(f"{config.seed}:{number}")
            architecture, sparsity, parent, morphism = self._draw(rng, number)
            if _key(architecture, sparsity) in self._seen and repeats < DUPLICATE_REDRAWS:
                repeats += 1  # trained (or proposed) already: its result would be a repeat
                continue
            check = self.precheck(architecture, sparsity, self.state)
            if not check.fits and (morphism or "").startswith(REFERENCE_PREFIX):
                # a reference too big at the low end of the sparsity range: pruned harder, it
                # may fit (a wide network pruned often beats a narrow one trained as it is)
                for harder in reference_sparsities(config.sparsity_range)[1:]:
                    check = self.precheck(architecture, harder, self.state)
                    if check.fits:
                        sparsity = harder
                        break
            if check.fits:
                candidate = CandidateRecord(
                    id=len(self.state.candidates), architecture=architecture,
                    sparsity=sparsity, parent=parent, morphism=morphism,
                    precheck=dict(check.estimates), timings={"proposed_at": time.time()},
                )
                self.state.candidates.append(candidate)
                self._seen.add(_key(architecture, sparsity))
                self._save()
                return candidate
            self.state.rejected += 1
            reason = check.reason or "does not fit"
            self.state.rejection_reasons[reason] = self.state.rejection_reasons.get(reason, 0) + 1
        self._save()
        raise SearchError(
            f"no candidate fits the hard limits: {config.max_rejections} draws in a row were "
            f"refused before training ({rejection_summary(self.state.rejection_reasons)}); "
            "the limits may be too tight")

    def start(self, candidate_id: int) -> CandidateRecord:
        candidate = self.state.by_id(candidate_id)
        if candidate.state != QUEUED:
            raise SearchError(f"candidate {candidate_id} is {candidate.state}, not queued")
        candidate.state = RUNNING
        candidate.attempts += 1
        candidate.timings["started_at"] = time.time()
        self._save()
        return candidate

    def complete(self, candidate_id: int, metrics: Mapping[str, Any],
                 artifacts: Mapping[str, str] | None = None) -> CandidateRecord:
        """Record an evaluation. Idempotent: a second result for a done candidate is ignored."""
        candidate = self.state.by_id(candidate_id)
        if candidate.state in (DONE, FAILED):
            return candidate
        candidate.state = DONE
        candidate.metrics = dict(metrics)
        candidate.objectives = objective_values(metrics)
        candidate.feasible = self._feasible(metrics, candidate.objectives)
        candidate.artifacts = dict(artifacts or {})
        candidate.timings["finished_at"] = time.time()
        population = self.state.population
        population.append(candidate.id)
        if len(population) > self.config.population:
            population.pop(0)  # the oldest member dies
        self._update_front()
        self._save()
        return candidate

    def finalise(self, candidate_id: int, metrics: Mapping[str, Any],
                 artifacts: Mapping[str, str] | None = None) -> CandidateRecord:
        """Record a candidate's final training (``search.finalise``): the new metrics,
        objectives, feasibility and files replace the screening ones, which are kept under
        ``metrics["screening"]``; the front is recomputed."""
        candidate = self.state.by_id(candidate_id)
        if candidate.state != DONE:
            raise SearchError(f"candidate {candidate_id} is {candidate.state}: only trained "
                              "candidates can be finalised")
        candidate.metrics = finalised_metrics(candidate.metrics, metrics)
        candidate.objectives = objective_values(candidate.metrics)
        candidate.feasible = self._feasible(metrics, candidate.objectives)
        candidate.artifacts = dict(artifacts or {})
        candidate.timings["finalised_at"] = time.time()
        self._update_front()
        self._save()
        return candidate

    def fail(self, candidate_id: int, message: str) -> CandidateRecord:
        candidate = self.state.by_id(candidate_id)
        if candidate.state in (DONE, FAILED):
            return candidate
        candidate.state = FAILED
        candidate.error_message = message
        candidate.timings["finished_at"] = time.time()
        self.state.hypervolume.append((self.evaluated, self.current_hypervolume))
        self._save()
        return candidate

    # -- internals --------------------------------------------------------------------------

    def _references(self) -> list[tuple[str, dict[str, Any]]]:
        if not self.config.references:
            return []
        references = getattr(self.space, "references", None)
        return list(references()) if references is not None else []

    def _draw(self, rng: random.Random, number: int
              ) -> tuple[dict[str, Any], float, int | None, str | None]:
        config = self.config
        lo, hi = config.sparsity_range
        references = self._references()
        if number < len(references):  # the first proposals: the reference family
            name, architecture = references[number]  # a copy: the space keeps its own
            return copy.deepcopy(architecture), lo, None, f"{REFERENCE_PREFIX}{name}"
        evolve = (config.strategy == "evolution"
                  and len(self.state.candidates) >= config.population
                  and self.state.population)
        if not evolve:
            return self.space.sample(rng), rng.uniform(lo, hi), None, None
        members = [self.state.by_id(i) for i in self.state.population]
        sample = rng.sample(members, min(config.sample, len(members)))
        coefficients = sample_coefficients(config.bounds, rng)
        parent = min(sample, key=lambda c: (scalarise(c.objectives, coefficients), c.id))
        child, morphism = self.space.mutate(parent.architecture, rng)
        sparsity = min(hi, max(lo, parent.sparsity + rng.gauss(0.0, config.sparsity_sigma)))
        return child, sparsity, parent.id, morphism

    def _feasible(self, metrics: Mapping[str, Any], objectives: Mapping[str, float]) -> bool:
        """Measured (exported and run in TFLM) and within the hard limits."""
        return ("tflm_arena_bytes" in metrics and "tflite_bytes" in metrics
                and self.config.limits.admits(objectives))

    def _update_front(self) -> None:
        # the front is made of fully trained candidates: early-stopped ones stay off it
        done = [c for c in self.state.candidates
                if c.state == DONE and not stopped_early(c.metrics)]
        for candidate in self.state.candidates:
            candidate.pareto = False
        vectors = [tuple(c.objectives[k] for k in OBJECTIVES) for c in done]
        on_front = set(pareto_front(vectors))
        for i, candidate in enumerate(done):
            candidate.pareto = i in on_front
        self.state.hypervolume.append(
            (self.evaluated, feasible_hypervolume(done, hypervolume_reference(self.config))))

    def _save(self) -> None:
        self.store.save(self.state)
