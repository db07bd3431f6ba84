"""Reference networks: small hand-designed families that a user would write in ten minutes.

A search seeds its initial population with them (smallest first, so the first results arrive
quickly), trains them with the same profile as every other candidate, and marks them on the
front, so a user sees what the search beat and by how much; evolution also mutates from them.

Two families, both inside the μNAS space (paper Table 1), scaled by a width ``w``:

* ``lenet-w``: conv 3x3 (w) -> [2x2 max pre-pool] conv 3x3 (2w) -> 2x2 max pool -> dense 4w ->
  classifier; the first conv is pre-pooled when the input is larger than 16 pixels a side, so
  28x28 images are worked on at 14x14 and 7x7 (LeNet-5's shape, with batch norm and ReLU).
* ``dscnn-w`` (for inputs that are not small squares, e.g. 49x10 MFCC frames): conv 3x3 (w),
  then two depthwise-separable blocks (depthwise 3x3 + 1x1 conv), 2x2 average pool, dense 4w.

Which members fit a device is for the search's pre-training check to decide; this module only
builds them.
"""

from __future__ import annotations

from .architecture import Architecture, ConvBlock, ConvLayer, DenseLayer, Pooling

WIDTHS: tuple[int, ...] = (4, 8, 16, 32)


def _conv(kind: str, channels: int | None, *, pre_pool: bool = False) -> ConvLayer:
    kernel = 1 if kind == "1x1" else 3
    return ConvLayer(kind, kernel, channels, 1, pre_pool, True, True)


def lenet(width: int, input_shape: tuple[int, int, int]) -> Architecture:
    """The LeNet-like member of width ``width`` for ``input_shape`` (H, W, C)."""
    big = min(input_shape[0], input_shape[1]) > 16
    return Architecture(
        blocks=(ConvBlock((_conv("full", width, pre_pool=big),), False),
                ConvBlock((_conv("full", 2 * width, pre_pool=True),), False)),
        pooling=Pooling("max", 2),
        dense=(DenseLayer(min(256, max(10, 4 * width))),))


def dscnn(width: int, input_shape: tuple[int, int, int]) -> Architecture:
    """The DS-CNN-like member of width ``width`` (depthwise-separable blocks)."""
    big = min(input_shape[0], input_shape[1]) > 16
    separable = (_conv("depthwise", None), _conv("1x1", 2 * width))
    return Architecture(
        blocks=(ConvBlock((_conv("full", width, pre_pool=big),), False),
                ConvBlock(separable, False),
                ConvBlock((_conv("depthwise", None, pre_pool=True), _conv("1x1", 2 * width)),
                          False)),
        pooling=Pooling("avg", 2),
        dense=(DenseLayer(min(256, max(10, 4 * width))),))


def reference_family(input_shape: tuple[int, int, int]) -> list[tuple[str, Architecture]]:
    """``(name, architecture)`` of the data set's reference family, smallest first.

    Square-ish images get the LeNet-like family; other inputs (speech frames, sensor windows)
    get the DS-CNN-like one first and the LeNet-like one after it.
    """
    height, width = input_shape[0], input_shape[1]
    image_like = max(height, width) <= 2 * min(height, width)
    families = [("lenet", lenet)] if image_like else [("dscnn", dscnn), ("lenet", lenet)]
    return [(f"{name}-{w}", build(w, input_shape)) for w in WIDTHS for name, build in families]
