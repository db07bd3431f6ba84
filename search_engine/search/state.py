"""The persisted state of a search: its configuration, every candidate, the population.

Everything here is plain data that round-trips through JSON, so a store (a JSON file for the
CLI, database rows for the web app) can save it after every event and a killed process can
resume from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .objectives import HardLimits, SoftBounds

STRATEGIES = ("evolution", "random")

#: Candidate states. ``queued`` and ``running`` are "in flight": on resume they are queued again.
#: ``cancelled``: in flight when its search ended (the web app's cancel), never evaluated.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
IN_FLIGHT = (QUEUED, RUNNING)
#: ``morphism`` of a reference network: ``"reference:lenet-8"``.
REFERENCE_PREFIX = "reference:"


@dataclass(frozen=True)
class SearchConfig:
    """What the user asked for; ``rounds`` counts trained candidates, initial population too."""

    limits: HardLimits
    bounds: SoftBounds
    rounds: int = 60
    population: int = 20
    sample: int = 5
    strategy: str = "evolution"
    seed: int = 0
    sparsity_range: tuple[float, float] = (0.05, 0.8)
    sparsity_sigma: float = 0.05
    max_rejections: int = 2000
    #: Seed the initial population with the reference family (``space.references``), smallest
    #: first; those that cannot fit are refused by the pre-training check like any child.
    references: bool = True
    #: Stop children early at rungs (``search.fidelity``): at ``rung_fractions`` of the
    #: profile's epochs, a child below the top ``1/eta`` of no more expensive candidates stops.
    early_stopping: bool = True
    eta: int = 3
    rung_fractions: tuple[float, ...] = (1 / 9, 1 / 3)
    #: Weight inheritance (``train.inherit``): a child starts from its parent's trained weights
    #: and trains ``inherit_epochs`` of the profile's epochs (the schedule compressed).
    inheritance: bool = False
    inherit_epochs: float = 0.5

    def __post_init__(self) -> None:
        def positive_int(name: str, value: object) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be a positive integer (got {value!r})")

        positive_int("rounds", self.rounds)
        positive_int("population", self.population)
        positive_int("sample", self.sample)
        positive_int("max_rejections", self.max_rejections)
        positive_int("eta", self.eta)
        if self.eta < 2:
            raise ConfigError("eta", f"must be at least 2 (got {self.eta})")
        if not all(isinstance(f, int | float) and 0.0 < f < 1.0 for f in self.rung_fractions):
            raise ConfigError("rung_fractions", "each must be between 0 and 1 "
                              f"(got {list(self.rung_fractions)})")
        if (isinstance(self.inherit_epochs, bool)
                or not isinstance(self.inherit_epochs, int | float)
                or not 0.0 < self.inherit_epochs <= 1.0):
            raise ConfigError("inherit_epochs", "must be a fraction of the profile's epochs in "
                              f"(0, 1] (got {self.inherit_epochs!r})")
        if self.sample > self.population:
            raise ConfigError(
                "sample", f"must not exceed population ({self.sample} > {self.population})")
        if self.strategy not in STRATEGIES:
            raise ConfigError("strategy", f"must be one of {', '.join(STRATEGIES)} "
                              f"(got {self.strategy!r})")
        lo, hi = self.sparsity_range
        if not 0.0 <= lo <= hi < 1.0:
            raise ConfigError("sparsity_range", f"need 0 <= low <= high < 1 (got {lo}, {hi})")
        if not self.bounds.active():
            raise ConfigError("bounds", "at least one objective needs a bound")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["limits"] = self.limits.to_json()
        data["bounds"] = self.bounds.to_json()
        data["sparsity_range"] = list(self.sparsity_range)
        data["rung_fractions"] = list(self.rung_fractions)
        return data

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SearchConfig:
        data = dict(obj)
        data["limits"] = HardLimits.from_json(data["limits"])
        data["bounds"] = SoftBounds.from_json(data["bounds"])
        data["sparsity_range"] = tuple(data["sparsity_range"])
        data.setdefault("references", False)  # searches saved before references existed
        data.setdefault("early_stopping", False)  # ... and before early stopping
        data.setdefault("inheritance", False)  # ... and before weight inheritance
        data["rung_fractions"] = tuple(data.get("rung_fractions", (1 / 9, 1 / 3)))
        return cls(**data)


@dataclass
class CandidateRecord:
    """One proposed candidate and, once evaluated, its metrics."""

    id: int
    architecture: dict[str, Any]
    sparsity: float
    parent: int | None = None
    morphism: str | None = None
    state: str = QUEUED
    metrics: dict[str, Any] = field(default_factory=dict)
    objectives: dict[str, float] = field(default_factory=dict)
    precheck: dict[str, Any] = field(default_factory=dict)
    error_message: str | None = None
    pareto: bool = False
    feasible: bool = False
    attempts: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """How the candidate was made: ``reference`` (a hand-designed network of the reference
        family), ``mutation`` (a parent's child) or ``random`` (drawn from the space)."""
        if self.morphism is not None and self.morphism.startswith(REFERENCE_PREFIX):
            return "reference"
        return "mutation" if self.parent is not None else "random"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> CandidateRecord:
        """Reads the record's own fields; extra keys (readers' flattened metrics) are ignored."""
        return cls(**{f.name: obj[f.name] for f in fields(cls) if f.name in obj})


@dataclass
class SearchState:
    """Everything needed to continue a search exactly where it stopped."""

    config: SearchConfig
    candidates: list[CandidateRecord] = field(default_factory=list)
    population: list[int] = field(default_factory=list)  # candidate ids, oldest first
    proposals: int = 0  # number of proposal attempts so far; seeds each attempt's RNG
    rejected: int = 0  # children refused before training by the hard-limit check
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    hypervolume: list[tuple[int, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the overhead model's data

    def by_id(self, candidate_id: int) -> CandidateRecord:
        candidate = self.candidates[candidate_id]
        if candidate.id != candidate_id:  # ids are list positions; guard against corruption
            raise KeyError(candidate_id)
        return candidate

    def count(self, *states: str) -> int:
        return sum(1 for c in self.candidates if c.state in states)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.to_json(),
            "candidates": [c.to_json() for c in self.candidates],
            "population": list(self.population),
            "proposals": self.proposals,
            "rejected": self.rejected,
            "rejection_reasons": dict(self.rejection_reasons),
            "hypervolume": [list(p) for p in self.hypervolume],
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SearchState:
        return cls(
            config=SearchConfig.from_json(obj["config"]),
            candidates=[CandidateRecord.from_json(c) for c in obj["candidates"]],
            population=list(obj["population"]),
            proposals=int(obj["proposals"]),
            rejected=int(obj["rejected"]),
            rejection_reasons=dict(obj.get("rejection_reasons", {})),
            hypervolume=[(int(n), float(v)) for n, v in obj.get("hypervolume", [])],
            extra=dict(obj.get("extra", {})),
        )
