"""Uniform random architectures: every option of every range (inclusive) can be drawn.

Each free variable of paper Table 1 is drawn uniformly from its options and the result is put
in canonical form. A block that breaks the channel rule of parallel stages (a depthwise last
layer whose channel count differs from its stage's) is redrawn on its own, so the block count
N stays uniform over 1..10 (redrawing whole architectures would favour small N).
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
    count = rng.randint(MIN_BLOCKS, MAX_BLOCKS)
    pooling = sample_pooling(rng) if rng.choice(_BOOLS) else None
    dense = tuple(sample_dense(rng) for _ in range(rng.randint(MIN_DENSE, MAX_DENSE)))
    blocks: tuple[ConvBlock, ...] = ()
    for i in range(count):
        # A block's validity depends only on the blocks before it, so checking prefixes is exact.
        for _ in range(MAX_DRAWS):
            candidate = Architecture(blocks + (sample_block(rng, first=i == 0),), pooling, dense)
            try:
                blocks = normalise(candidate, input_channels).blocks
                break
            except ArchitectureError:
                continue
        else:  # pragma: no cover - a serial block is always valid
            raise RuntimeError(f"no valid block in {MAX_DRAWS} draws")
    return Architecture(blocks, pooling, dense)
