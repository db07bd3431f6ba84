"""The smallest hard limits a search can ever meet: its space's smallest model, as checked.

A fresh search's pre-training check (``setup.AnalyticPrecheck``, no exports measured yet, so the
overheads are the priors of ``overhead``) refuses every child whose estimated SRAM (exact
activation peak + TFLM arena overhead) or Flash (int8 weights + int32 biases + ``.tflite``
overhead) is over a limit. :func:`smallest_fit` evaluates the same estimates for the smallest
networks of the μNAS space (one conv layer of 1 channel, every kind, kernel 1 or 3, stride 1
or 2, with or without the pre-pool and each global pooling, one hidden dense layer of the
minimum width; at no and at the maximum pruning) and takes the minimum of each figure
separately. A limit below that figure cannot admit any candidate: every proposal is refused
and the search fails without training anything. The web form and API refuse such limits.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

from search_engine.space.architecture import (
    CONV_KINDS,
    MIN_UNITS,
    POOL_KINDS,
    POOL_SIZES,
    Architecture,
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.search_space import int_shape
from search_engine.space.serialise import architecture_to_json

from .overhead import estimate_overhead
from .setup import analyse


@dataclass(frozen=True)
class LimitFloor:
    """The smallest estimated SRAM and Flash of any model of a space, with their parts."""

    sram_bytes: int
    flash_bytes: int
    peak_memory_bytes: int  # activations of the SRAM-smallest model
    sram_overhead_bytes: int  # TFLM's arena beyond them
    model_size_bytes: int  # weights and biases of the Flash-smallest model
    flash_overhead_bytes: int  # .tflite structure beyond them


def _tiny_architectures() -> list[Architecture]:
    out = []
    poolings = [None] + [Pooling(kind, size) for kind in POOL_KINDS for size in POOL_SIZES]
    for kind, kernel, stride, pre_pool, pooling in itertools.product(
            CONV_KINDS, (1, 3), (1, 2), (False, True), poolings):
        if kind == "1x1" and (kernel, stride) != (1, 1):
            continue
        layer = ConvLayer(kind=kind, kernel=kernel,
                          channels=None if kind == "depthwise" else 1, stride=stride,
                          pre_pool=pre_pool, batch_norm=False, relu=True)
        out.append(Architecture(blocks=(ConvBlock(layers=(layer,), parallel=False),),
                                pooling=pooling, dense=(DenseLayer(MIN_UNITS),)))
    return out


@lru_cache(maxsize=64)
def smallest_fit(input_shape: tuple[int, int, int], num_classes: int,
                 max_sparsity: float = 0.0) -> LimitFloor:
    """The smallest SRAM and Flash estimates over the space's smallest models (module doc)."""
    shape = int_shape(input_shape)
    best_sram: tuple[int, int, int] | None = None
    best_flash: tuple[int, int, int] | None = None
    for arch in _tiny_architectures():
        for sparsity in sorted({0.0, float(max_sparsity)}):
            try:
                figures, graph = analyse(architecture_to_json(arch), sparsity, shape,
                                         int(num_classes))
            except ValueError:  # e.g. a pooling larger than what is left of the input
                continue
            overhead = estimate_overhead(graph, figures["peak_memory_bytes"])
            sram = figures["peak_memory_bytes"] + overhead.sram_bytes
            flash = figures["model_size_bytes"] + overhead.flash_bytes
            if best_sram is None or sram < best_sram[0]:
                best_sram = (sram, figures["peak_memory_bytes"], overhead.sram_bytes)
            if best_flash is None or flash < best_flash[0]:
                best_flash = (flash, figures["model_size_bytes"], overhead.flash_bytes)
    if best_sram is None or best_flash is None:
        raise ValueError(f"no model of the space fits input {shape} with {num_classes} classes")
    return LimitFloor(sram_bytes=best_sram[0], flash_bytes=best_flash[0],
                      peak_memory_bytes=best_sram[1], sram_overhead_bytes=best_sram[2],
                      model_size_bytes=best_flash[1], flash_overhead_bytes=best_flash[2])
