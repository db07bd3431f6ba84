"""Uniform random architectures: every option of every range (inclusive) can be drawn.

Each free variable of paper Table 1 is drawn uniformly from its options; the draw is then put
in canonical form, and draws that break the channel rule of parallel stages are redrawn.
"""

from __future__ import annotations

import random

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
    ConvBlock,
    ConvLayer,
    DenseLayer,
    Pooling,
)
from search_engine.space.errors import ArchitectureError
from search_engine.space.validation import normalise

_BOOLS = (False, True)
MAX_DRAWS = 1000


def sample_layer(rng: random.Random) -> ConvLayer:
    """A random conv layer (canonical on its own: ``1x1`` has kernel 1 and stride 1)."""
    kind = rng.choice(CONV_KINDS)
    pointwise = kind == "1x1"
    return ConvLayer(
        kind=kind,
        kernel=1 if pointwise else rng.choice(KERNEL_SIZES),
        channels=None if kind == "depthwise" else rng.randint(MIN_CHANNELS, MAX_CHANNELS),
        stride=1 if pointwise else rng.choice(STRIDES),
        pre_pool=rng.choice(_BOOLS),
        batch_norm=rng.choice(_BOOLS),
        relu=rng.choice(_BOOLS),
    )


def sample_block(rng: random.Random, first: bool) -> ConvBlock:
    """A random block of 1..3 layers; serial or parallel (always serial when ``first``)."""
    parallel = False if first else rng.choice(_BOOLS)
    count = rng.randint(MIN_LAYERS, MAX_LAYERS)
    return ConvBlock(layers=tuple(sample_layer(rng) for _ in range(count)), parallel=parallel)


def sample_pooling(rng: random.Random) -> Pooling:
    """A random global pooling (kind and size)."""
    return Pooling(kind=rng.choice(POOL_KINDS), size=rng.choice(POOL_SIZES))


def sample_dense(rng: random.Random) -> DenseLayer:
    """A random hidden dense layer."""
    return DenseLayer(units=rng.randint(MIN_UNITS, MAX_UNITS))


def sample_architecture(rng: random.Random, input_channels: int) -> Architecture:
    """A uniformly drawn, valid, canonical architecture for inputs with ``input_channels``."""
    for _ in range(MAX_DRAWS):
        count = rng.randint(MIN_BLOCKS, MAX_BLOCKS)
        blocks = tuple(sample_block(rng, first=i == 0) for i in range(count))
        pooling = sample_pooling(rng) if rng.choice(_BOOLS) else None
        dense = tuple(sample_dense(rng) for _ in range(rng.randint(MIN_DENSE, MAX_DENSE)))
        try:
            return normalise(Architecture(blocks, pooling, dense), input_channels)
        except ArchitectureError:
            continue
    raise RuntimeError(f"no valid architecture in {MAX_DRAWS} draws")  # pragma: no cover
