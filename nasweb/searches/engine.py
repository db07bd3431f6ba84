"""The adapter to ``search_engine``: config, space, pre-training check and evaluation context of a
``Search`` row, the data sets the server offers, and the training profiles.

Nothing here imports TensorFlow: the search space, the pre-training check (analytic resource
models) and the data set registry are TF-free. The evaluator (which trains with TF) is imported
only by ``nasweb.searches.worker`` inside the Celery task body.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings

from search_engine.search import HardLimits, SearchConfig, SoftBounds, always_fits
from search_engine.search.objectives import NO_TARGET_ERROR_BOUND

from .models import Search


class EngineSetupError(ValueError):
    """A search cannot be set up as asked; ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def profile_sparsity_range(dataset: str, profile: str) -> tuple[float, float]:
    """The pruning range of ``profile`` for ``dataset`` (training profiles, paper Table 4)."""
    from search_engine.train.profiles import get_profile

    try:
        found = get_profile(dataset, profile)
    except (KeyError, ValueError) as exc:
        raise EngineSetupError("profile", str(exc).strip("'\"")) from None
    low, high = found.pruning.sparsity_range
    return float(low), float(high)


def search_config(search: Search) -> SearchConfig:
    """The engine config of a search row (raises ``ValueError`` for inconsistent values)."""
    limits = HardLimits(int(search.sram_bytes), int(search.flash_bytes),
                        None if search.macs is None else int(search.macs))
    error = NO_TARGET_ERROR_BOUND if search.bound_error is None else search.bound_error
    bounds = SoftBounds(error=error, sram_bytes=search.bound_sram_bytes,
                        flash_bytes=search.bound_flash_bytes, macs=search.bound_macs)
    return SearchConfig(limits=limits, bounds=bounds, rounds=search.rounds,
                        population=search.population, sample=search.sample,
                        strategy=search.strategy, seed=int(search.seed),
                        inheritance=bool(search.inheritance),
                        sparsity_range=(search.sparsity_min, search.sparsity_max))


@lru_cache(maxsize=32)
def _space(input_shape: tuple[int, int, int], num_classes: int) -> Any:
    from search_engine.search.setup import JsonSpace

    return JsonSpace(input_shape, num_classes)


def search_space(search: Search) -> Any:
    """The μNAS space for the search's input shape (architectures as JSON dicts)."""
    return _space(tuple(int(v) for v in search.input_shape), int(search.num_classes))


def precheck_for(search: Search, space: Any) -> Callable[..., Any]:
    """The pre-training hard-limit check (``settings.UNAS_PRECHECK``: analytic or none)."""
    if settings.UNAS_PRECHECK == "none":
        return always_fits
    from search_engine.search.setup import build_precheck

    return build_precheck(space, search_config(search).limits)


def limit_floor(input_shape: tuple[int, int, int], num_classes: int, max_sparsity: float
                ) -> Any:
    """The smallest SRAM / Flash any model of the space needs (``search_engine.search.floor``)."""
    from search_engine.search.floor import smallest_fit

    return smallest_fit(input_shape, num_classes, max_sparsity)


def builtin_datasets() -> list[Any]:
    """The server's data sets (``available_datasets``) without the upload kinds."""
    from search_engine.train.datasets import available_datasets

    return [info for info in available_datasets(settings.DATASETS_DIR) if info.kind != "upload"]


def builtin_shape(name: str) -> tuple[tuple[int, int, int], int]:
    """Input shape and class count of a server data set, from the registry (no loading)."""
    for info in builtin_datasets():
        if info.name == name:
            if not info.available:
                raise EngineSetupError("dataset", f"data set {name!r} is not installed on this "
                                                  f"server (looked in {info.location})")
            if info.input_shape is None or not info.num_classes:
                raise EngineSetupError("dataset", f"data set {name!r} has no known shape")
            return tuple(int(v) for v in info.input_shape), int(info.num_classes)
    names = ", ".join(info.name for info in builtin_datasets())
    raise EngineSetupError("dataset", f"unknown data set {name!r}; known: {names}, or an upload")
