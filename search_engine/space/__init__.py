"""The μNAS search space (paper Table 1): architecture values, validation, canonical form,
JSON, uniform sampling and morphisms. Semantics: ``docs/search-space.md``."""

from __future__ import annotations

from search_engine.space.architecture import (
    CONV_KINDS,
    KERNEL_SIZES,
    MAX_BLOCKS,
    MAX_CHANNELS,
    MAX_DENSE,
    MAX_LAYERS,
    MAX_UNITS,
    MIN_BLOCKS,
    MIN_CHANNELS,
    MIN_DENSE,
    MIN_LAYERS,
    MIN_UNITS,
    POOL_KINDS,
    POOL_SIZES,
    STRIDES,
    Architecture,
    Candidate,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.errors import ArchitectureError
from search_engine.space.morphisms import MORPHISMS, mutate
from search_engine.space.search_space import SearchSpace
from search_engine.space.serialise import (
    SCHEMA_VERSION,
    architecture_from_json,
    architecture_to_json,
    candidate_from_json,
    candidate_to_json,
)
from search_engine.space.validation import (
    non_canonical_fields,
    normalise,
    stages,
    validate,
    validate_candidate,
)

__all__ = [
    "CONV_KINDS",
    "KERNEL_SIZES",
    "MAX_BLOCKS",
    "MAX_CHANNELS",
    "MAX_DENSE",
    "MAX_LAYERS",
    "MAX_UNITS",
    "MIN_BLOCKS",
    "MIN_CHANNELS",
    "MIN_DENSE",
    "MIN_LAYERS",
    "MIN_UNITS",
    "MORPHISMS",
    "POOL_KINDS",
    "POOL_SIZES",
    "SCHEMA_VERSION",
    "STRIDES",
    "Architecture",
    "ArchitectureError",
    "Candidate",
    "ConvBlock",
    "ConvLayer",
    "DenseLayer",
    "Pooling",
    "SearchSpace",
    "architecture_from_json",
    "architecture_to_json",
    "candidate_from_json",
    "candidate_to_json",
    "mutate",
    "non_canonical_fields",
    "normalise",
    "stages",
    "validate",
    "validate_candidate",
]
