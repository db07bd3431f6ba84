"""``SearchSpace``: the search space of one task (input shape, class count) as one object.

It ties the context-free architecture values to the task: the input's channel count decides
the channel rule of parallel stages, so validation, canonical form, sampling and morphisms
are methods here.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, SupportsInt, cast

from search_engine.space import morphisms, sampling, serialise, validation
from search_engine.space.architecture import Architecture
from search_engine.space.errors import ArchitectureError


def int_shape(values: Iterable[SupportsInt]) -> tuple[int, int, int]:
    """``tuple(int(v) for v in values)``, typed as the (H, W, C) shape that callers pass
    (:class:`SearchSpace` rejects any other length)."""
    return cast("tuple[int, int, int]", tuple(int(v) for v in values))


@dataclass(frozen=True)
class SearchSpace:
    """Paper Table 1 for inputs of ``input_shape`` (H, W, C) and ``num_classes`` classes."""

    input_shape: tuple[int, int, int]
    num_classes: int

    def __post_init__(self) -> None:
        shape = self.input_shape
        if (
            not isinstance(shape, tuple | list)
            or len(shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape)
        ):
            raise ValueError(f"input_shape must be three positive integers H, W, C (got {shape!r})")
        object.__setattr__(self, "input_shape", tuple(shape))
        n = self.num_classes
        if not isinstance(n, int) or isinstance(n, bool) or n < 2:
            raise ValueError(f"num_classes must be an integer >= 2 (got {n!r})")

    @property
    def input_channels(self) -> int:
        return self.input_shape[2]

    def sample(self, rng: random.Random) -> Architecture:
        """A uniformly random, valid, canonical architecture."""
        return sampling.sample_architecture(rng, self.input_channels)

    def validate(self, arch: Architecture) -> None:
        """Raise :class:`ArchitectureError` naming the field path unless ``arch`` is valid."""
        validation.validate(arch, self.input_channels)

    def normalise(self, arch: Architecture) -> Architecture:
        """The canonical form of a valid ``arch``."""
        return validation.normalise(arch, self.input_channels)

    def is_canonical(self, arch: Architecture) -> bool:
        """Whether a valid ``arch`` equals its canonical form."""
        return self.normalise(arch) == arch

    def non_canonical_fields(self, arch: Architecture) -> tuple[str, ...]:
        """One message per stored field that differs from the canonical form."""
        return validation.non_canonical_fields(arch, self.input_channels)

    def mutate(self, arch: Architecture, rng: random.Random) -> tuple[Architecture, str]:
        """A valid, canonical child different from ``arch``, and the morphism's name."""
        return morphisms.mutate(arch, rng, self.input_channels)

    def from_json(self, obj: object, *, require_canonical: bool = False) -> Architecture:
        """Parse and fully validate; with ``require_canonical``, reject non-canonical fields."""
        arch = serialise.architecture_from_json(obj)
        self.validate(arch)
        if require_canonical:
            notes = self.non_canonical_fields(arch)
            if notes:
                path, _, problem = notes[0].partition(": ")
                raise ArchitectureError(path, f"not canonical: {problem}")
        return arch

    def to_json(self, arch: Architecture) -> dict[str, Any]:
        """JSON-ready dict of a valid ``arch``."""
        self.validate(arch)
        return serialise.architecture_to_json(arch)
