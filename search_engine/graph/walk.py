"""The architecture walk: the single source of truth for layer shapes, parameters and MACs.

``walk(arch, input_shape, num_classes)`` turns an architecture into a tuple of
:class:`LayerSpec`, one per deployed operator (batch norm folded into the conv, ReLU fused),
in a valid execution order. The op graph for the resource models (``graph.builder``) and the
Keras model for training are both built from these specs, so they cannot disagree on shapes.

Shape rules (see ``docs/search-space.md``): convolutions, the 2x2 stride-2 pre-pool and the
global PxP stride-P pooling use "same" padding, so a spatial size becomes ceil(size / stride);
parallel block outputs are aligned to the stage's smallest H and W by a VALID max pool with
per-axis stride s = floor(h / t) and size k = h - (t - 1) * s, then summed by binary adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

from search_engine.space.architecture import Architecture, ConvLayer
from search_engine.space.errors import ArchitectureError
from search_engine.space.search_space import SearchSpace
from search_engine.space.validation import stages

INPUT = "input"
KINDS = ("conv2d", "depthwise_conv2d", "max_pool", "avg_pool", "add", "reshape", "dense")
BN_PARAMS_PER_CHANNEL = 4  # gamma, beta, moving mean, moving variance (Keras count_params)
BIAS_BYTES = 4  # TFLite int8 models store int32 biases

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerSpec:
    """One deployed operator with everything needed to build it in Keras and to cost it.

    * ``kind``: ``conv2d`` (full and 1x1 convs), ``depthwise_conv2d`` (depth multiplier 1),
      ``max_pool``, ``avg_pool``, ``add`` (binary), ``reshape`` (flatten), ``dense``.
    * ``inputs``: names of earlier specs, or ``"input"``; ``output_shape``: (H, W, C) or
      (units,).
    * conv: ``kernel_size``, ``strides``, ``padding`` (always ``"same"``), ``filters`` (None
      for depthwise), ``batch_norm`` (a BatchNormalization layer follows the conv in Keras),
      ``relu`` (ReLU after BN), ``use_bias`` (``not batch_norm``).
    * pools: ``pool_size``, ``strides``, ``padding`` (``"same"``, or ``"valid"`` for the
      alignment pools of parallel stages).
    * dense: ``units``, ``relu`` (True for hidden layers, False for the classifier),
      ``use_bias`` True.
    * ``params``: deployed parameters (weights + one bias per output channel, BN folded);
      ``keras_params``: what Keras ``count_params()`` reports for the layer (+ its BN);
      ``weight_bytes``: int8 weights + int32 biases; ``macs``: multiply-accumulates.
    * ``source``: the architecture field the spec comes from (``blocks[0].layers[1]``,
      ``pooling``, ``dense[0]``), or None for structural ops (alignment, add, flatten,
      classifier).
    """

    name: str
    kind: str
    inputs: tuple[str, ...]
    output_shape: Shape
    kernel_size: tuple[int, int] | None = None
    strides: tuple[int, int] | None = None
    padding: str | None = None
    pool_size: tuple[int, int] | None = None
    filters: int | None = None
    units: int | None = None
    batch_norm: bool = False
    relu: bool = False
    use_bias: bool = False
    params: int = 0
    keras_params: int = 0
    weight_bytes: int = 0
    macs: int = 0
    source: str | None = None

    @property
    def output_elements(self) -> int:
        return math.prod(self.output_shape)


def same_size(size: int, stride: int) -> int:
    """Output size of a "same"-padded window op: ceil(size / stride)."""
    return -(-size // stride)


def align_window(size: int, target: int) -> tuple[int, int]:
    """(pool size k, stride s) of a VALID max pool mapping ``size`` to exactly ``target``."""
    stride = size // target
    return size - (target - 1) * stride, stride


def _conv(name: str, source: str, layer: ConvLayer, inp: str, shape: Shape) -> LayerSpec:
    h, w, c_in = shape
    k, s = layer.kernel, layer.stride
    ho, wo = same_size(h, s), same_size(w, s)
    if layer.kind == "depthwise":
        c_out, weights, kind, filters = c_in, k * k * c_in, "depthwise_conv2d", None
    else:
        c_out = cast(int, layer.channels)  # set on every non-depthwise layer
        weights, kind, filters = k * k * c_in * c_out, "conv2d", c_out
    extra = BN_PARAMS_PER_CHANNEL * c_out if layer.batch_norm else c_out
    return LayerSpec(
        name=name,
        kind=kind,
        inputs=(inp,),
        output_shape=(ho, wo, c_out),
        kernel_size=(k, k),
        strides=(s, s),
        padding="same",
        filters=filters,
        batch_norm=layer.batch_norm,
        relu=layer.relu,
        use_bias=not layer.batch_norm,
        params=weights + c_out,
        keras_params=weights + extra,
        weight_bytes=weights + BIAS_BYTES * c_out,
        macs=ho * wo * weights,
        source=source,
    )


def _pool(
    name: str, kind: str, inp: str, shape: Shape, size: tuple[int, int],
    strides: tuple[int, int], padding: str, source: str | None,
) -> LayerSpec:
    h, w, c = shape
    if padding == "same":
        out = (same_size(h, strides[0]), same_size(w, strides[1]), c)
    else:
        out = ((h - size[0]) // strides[0] + 1, (w - size[1]) // strides[1] + 1, c)
    return LayerSpec(
        name=name, kind=kind, inputs=(inp,), output_shape=out, pool_size=size,
        strides=strides, padding=padding, source=source,
    )


def _dense(name: str, inp: str, n_in: int, units: int, relu: bool, source: str | None) -> LayerSpec:
    weights = n_in * units
    return LayerSpec(
        name=name, kind="dense", inputs=(inp,), output_shape=(units,), units=units, relu=relu,
        use_bias=True, params=weights + units, keras_params=weights + units,
        weight_bytes=weights + BIAS_BYTES * units, macs=weights, source=source,
    )


def walk(
    arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
) -> tuple[LayerSpec, ...]:
    """The deployed operators of ``arch`` (canonicalised first) in a valid execution order.

    Raises :class:`ArchitectureError` for an invalid architecture and ``ValueError`` for a
    bad input shape or class count.
    """
    space = SearchSpace(cast("tuple[int, int, int]", tuple(input_shape)), num_classes)
    arch = space.normalise(arch)
    specs: list[LayerSpec] = []

    def emit(spec: LayerSpec) -> tuple[str, Shape]:
        specs.append(spec)
        return spec.name, spec.output_shape

    current: tuple[str, Shape] = (INPUT, space.input_shape)
    for k, stage in enumerate(stages(arch)):
        outputs: list[tuple[int, str, Shape]] = []
        for b in stage:
            name, shape = current
            for j, layer in enumerate(arch.blocks[b].layers):
                source = f"blocks[{b}].layers[{j}]"
                if layer.pre_pool:
                    name, shape = emit(
                        _pool(f"b{b}_l{j}_prepool", "max_pool", name, shape, (2, 2), (2, 2),
                              "same", source)
                    )
                name, shape = emit(_conv(f"b{b}_l{j}_conv", source, layer, name, shape))
            outputs.append((b, name, shape))
        if len(outputs) == 1:
            current = outputs[0][1:]
            continue
        th = min(shape[0] for _, _, shape in outputs)
        tw = min(shape[1] for _, _, shape in outputs)
        channels = outputs[0][2][2]
        aligned = []
        for b, name, shape in outputs:
            if shape[2] != channels:  # cannot happen for a normalised, valid architecture
                raise ArchitectureError(
                    f"blocks[{b}]", f"outputs {shape[2]} channels, its stage {channels}"
                )
            if shape[:2] != (th, tw):
                (kh, sh), (kw, sw) = align_window(shape[0], th), align_window(shape[1], tw)
                name, shape = emit(
                    _pool(f"s{k}_align_b{b}", "max_pool", name, shape, (kh, kw), (sh, sw),
                          "valid", None)
                )
            aligned.append((name, shape))
        current = aligned[0]
        for n in range(1, len(aligned)):
            current = emit(
                LayerSpec(
                    name=f"s{k}_add{n}", kind="add", inputs=(current[0], aligned[n][0]),
                    output_shape=(th, tw, channels),
                )
            )
    name, shape = current
    if arch.pooling is not None:
        p = arch.pooling.size
        name, shape = emit(
            _pool("pool", f"{arch.pooling.kind}_pool", name, shape, (p, p), (p, p), "same",
                  "pooling")
        )
    name, shape = emit(
        LayerSpec(name="flatten", kind="reshape", inputs=(name,), output_shape=(math.prod(shape),))
    )
    for i, dense in enumerate(arch.dense):
        name, shape = emit(_dense(f"dense{i}", name, shape[0], dense.units, True, f"dense[{i}]"))
    emit(_dense("classifier", name, shape[0], num_classes, False, None))
    return tuple(specs)
