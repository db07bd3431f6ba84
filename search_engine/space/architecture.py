"""The typed, immutable architecture values of the μNAS search space (paper Table 1).

Constructors do not check ranges, so that :func:`~search_engine.space.validation.validate` can
report every problem with its field path; they only turn list arguments into tuples so that
values stay hashable. The meaning of each field is documented in ``docs/search-space.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ranges of the free variables (all inclusive), paper Table 1.
CONV_KINDS: tuple[str, ...] = ("full", "depthwise", "1x1")
KERNEL_SIZES: tuple[int, ...] = (1, 3, 5, 7)
STRIDES: tuple[int, ...] = (1, 2)
MIN_CHANNELS, MAX_CHANNELS = 1, 128
MIN_LAYERS, MAX_LAYERS = 1, 3
MIN_BLOCKS, MAX_BLOCKS = 1, 10
POOL_KINDS: tuple[str, ...] = ("avg", "max")
POOL_SIZES: tuple[int, ...] = (2, 4, 6)
MIN_DENSE, MAX_DENSE = 1, 3
MIN_UNITS, MAX_UNITS = 10, 256


@dataclass(frozen=True)
class ConvLayer:
    """One convolution: optional 2x2 max pre-pool, conv (same padding), optional BN, ReLU.

    ``channels`` is ``None`` exactly for depthwise layers (their output has as many channels as
    their input). A ``"1x1"`` layer has ``kernel == 1`` and ``stride == 1`` in canonical form.
    """

    kind: str
    kernel: int
    channels: int | None
    stride: int
    pre_pool: bool
    batch_norm: bool
    relu: bool


@dataclass(frozen=True)
class ConvBlock:
    """1..3 conv layers in series; ``parallel`` joins it to the previous block's stage."""

    layers: tuple[ConvLayer, ...]
    parallel: bool

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))


@dataclass(frozen=True)
class Pooling:
    """The optional global ``size`` x ``size`` pooling (stride ``size``, same padding)."""

    kind: str
    size: int


@dataclass(frozen=True)
class DenseLayer:
    """A fully-connected hidden layer with ReLU."""

    units: int


@dataclass(frozen=True)
class Architecture:
    """Conv blocks, optional global pooling, hidden dense layers; the classifier is implicit."""

    blocks: tuple[ConvBlock, ...]
    pooling: Pooling | None
    dense: tuple[DenseLayer, ...]

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        if isinstance(self.dense, list):
            object.__setattr__(self, "dense", tuple(self.dense))


@dataclass(frozen=True)
class Candidate:
    """An architecture together with the structured-pruning target it is trained to."""

    architecture: Architecture
    sparsity: float
