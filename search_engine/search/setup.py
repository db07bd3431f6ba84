"""Wiring a search to the real search space, data set and resource models.

``open_space`` gives the engine the μNAS space for a data set's input shape (architectures as
JSON dicts). ``AnalyticPrecheck`` is the pre-training hard-limit check:

A child "cannot fit" when, for the network it will become after its target pruning (its channel
and unit counts are known before training, see ``space.pruned``), the exact optimal peak
activation memory plus the estimated TFLM arena overhead exceeds the SRAM limit, or its int8
weights and int32 biases plus the estimated ``.tflite`` overhead exceed the Flash limit, or its
MACs exceed the MAC limit. The overheads are learnt from the exports measured so far
(``overhead``). Such a child is never trained.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, cast

from search_engine.graph.opgraph import OpGraph

from .engine import PrecheckResult
from .objectives import HardLimits
from .overhead import estimate_overhead
from .state import DONE, SearchState


class SetupError(ValueError):
    """The search cannot be set up as asked (unknown data set, missing files, ...)."""


class JsonSpace:
    """The μNAS search space with architectures as JSON-able dicts (what the engine stores)."""

    def __init__(self, input_shape: tuple[int, int, int], num_classes: int) -> None:
        from search_engine.space import SearchSpace

        self.input_shape = cast("tuple[int, int, int]", tuple(input_shape))
        self.num_classes = num_classes
        self.space = SearchSpace(self.input_shape, num_classes)
        self._references: list[tuple[str, dict[str, Any]]] | None = None

    def sample(self, rng: random.Random) -> dict[str, Any]:
        from search_engine.space import architecture_to_json

        return architecture_to_json(self.space.sample(rng))

    def references(self) -> list[tuple[str, dict[str, Any]]]:
        """The reference family for this input shape, smallest first (``space.references``);
        built once per space, since the engine asks at every proposal."""
        if self._references is None:
            from search_engine.space import architecture_to_json
            from search_engine.space.references import reference_family

            self._references = [(name, architecture_to_json(self.space.normalise(arch)))
                                for name, arch in reference_family(self.input_shape)]
        return list(self._references)

    def mutate(self, architecture: dict[str, Any], rng: random.Random
               ) -> tuple[dict[str, Any], str]:
        from search_engine.space import architecture_from_json, architecture_to_json

        child, morphism = self.space.mutate(architecture_from_json(architecture), rng)
        return architecture_to_json(child), morphism


@dataclass(frozen=True)
class DatasetShape:
    name: str
    input_shape: tuple[int, int, int]
    num_classes: int


def dataset_shape(name: str, data_dir: str | None) -> DatasetShape:
    """Input shape and class count of a data set, reading as little as possible."""
    from search_engine.train.datasets import DatasetError, load_dataset

    try:
        dataset = load_dataset(name, data_dir=data_dir, limit=200)
    except DatasetError as exc:
        raise SetupError(str(exc)) from None
    shape = cast("tuple[int, int, int]", tuple(dataset.input_shape))
    return DatasetShape(name, shape, dataset.num_classes)


def open_space(dataset: str, profile: str, data_dir: str | None
               ) -> tuple[JsonSpace, DatasetShape, Any]:
    """The space for ``dataset`` and its training profile; clear errors for bad names."""
    from search_engine.train.profiles import get_profile

    shape = dataset_shape(dataset, data_dir)
    try:
        training_profile = get_profile(dataset, profile)
    except (KeyError, ValueError) as exc:
        raise SetupError(str(exc).strip("'\"")) from None
    return JsonSpace(shape.input_shape, shape.num_classes), shape, training_profile


def analyse(architecture: dict[str, Any], sparsity: float, input_shape: tuple[int, int, int],
            num_classes: int) -> tuple[dict[str, Any], OpGraph]:
    """Analytic figures of the network a candidate becomes after its target pruning."""
    from search_engine.resources.pruned import analyse_pruned
    from search_engine.space import architecture_from_json

    figures = analyse_pruned(architecture_from_json(architecture), sparsity, input_shape,
                             num_classes)
    return {"peak_memory_bytes": figures.peak_memory_bytes,
            "model_size_bytes": figures.summary.model_size_bytes,
            "macs": figures.summary.macs, "n_ops": len(figures.graph.ops)}, figures.graph


class AnalyticPrecheck:
    """Refuses, before training, children that cannot fit the hard limits (module docstring)."""

    def __init__(self, space: JsonSpace, limits: HardLimits) -> None:
        self.space = space
        self.limits = limits

    def __call__(self, architecture: dict[str, Any], sparsity: float,
                 state: SearchState) -> PrecheckResult:
        figures, graph = analyse(architecture, sparsity, self.space.input_shape,
                                 self.space.num_classes)
        measured = [(c.precheck, c.metrics) for c in state.candidates
                    if c.state == DONE and "tflm_arena_bytes" in c.metrics]
        overhead = estimate_overhead(graph, figures["peak_memory_bytes"], measured)
        sram = figures["peak_memory_bytes"] + overhead.sram_bytes
        flash = figures["model_size_bytes"] + overhead.flash_bytes
        estimates = dict(figures, estimated_sram_bytes=sram, estimated_flash_bytes=flash,
                         prior_sram_bytes=overhead.prior_sram_bytes,
                         prior_flash_bytes=overhead.prior_flash_bytes)
        if sram > self.limits.sram_bytes:
            return PrecheckResult(False, "sram", estimates)
        if flash > self.limits.flash_bytes:
            return PrecheckResult(False, "flash", estimates)
        if self.limits.macs is not None and figures["macs"] > self.limits.macs:
            return PrecheckResult(False, "macs", estimates)
        return PrecheckResult(True, None, estimates)


def build_precheck(space: JsonSpace, limits: HardLimits) -> AnalyticPrecheck:
    return AnalyticPrecheck(space, limits)
