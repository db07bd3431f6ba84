"""The search: random scalarisation, aging evolution / random search, Pareto front, stores."""

from .engine import PrecheckResult, Search, SearchError, always_fits
from .errors import ConfigError
from .objectives import (
    OBJECTIVES,
    HardLimits,
    SoftBounds,
    objective_values,
    sample_coefficients,
    scalarise,
)
from .pareto import dominates, hypervolume, pareto_front
from .state import CandidateRecord, SearchConfig, SearchState
from .store import JsonFileStore, MemoryStore

__all__ = [
    "OBJECTIVES", "CandidateRecord", "ConfigError", "HardLimits", "JsonFileStore", "MemoryStore",
    "PrecheckResult", "Search", "SearchConfig", "SearchError", "SearchState", "SoftBounds",
    "always_fits", "dominates", "hypervolume", "objective_values", "pareto_front",
    "sample_coefficients", "scalarise",
]
