"""Architecture -> Keras 3 functional model, one layer group per :class:`LayerSpec` of the walk.

The model is built from the same walk (``graph.walk``, via ``graph.pruned.pruned_walk`` so that
pruned architectures with small dense layers build too) that builds the op graph, so the two
cannot disagree on shapes. Layers are named after the specs:

* conv spec ``b0_l1_conv`` -> ``Conv2D``/``DepthwiseConv2D`` ``b0_l1_conv`` ("same" padding,
  bias only without batch norm) [+ ``BatchNormalization`` ``b0_l1_conv_bn``]
  [+ ``ReLU`` ``b0_l1_conv_relu``];
* pools -> ``MaxPooling2D``/``AveragePooling2D`` with the spec's size, strides and padding;
* ``add`` -> ``Add``; ``reshape`` -> ``Flatten``; hidden ``dense{i}`` -> [``Dropout``
  ``dense{i}_dropout``] + ``Dense(relu)``; ``classifier`` -> ``Dense`` logits (no softmax).

Dropout (paper: 0.15 for CIFAR-10 and Fashion-MNIST) goes before every hidden dense layer, not
before the classifier; it is the identity at inference and no TFLite operator.
TensorFlow/Keras is imported lazily, inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from search_engine.graph.pruned import pruned_walk
from search_engine.space.architecture import Architecture

if TYPE_CHECKING:
    from search_engine.graph.walk import LayerSpec

INPUT_NAME = "input"
BN_SUFFIX = "_bn"
RELU_SUFFIX = "_relu"
DROPOUT_SUFFIX = "_dropout"
BN_MOMENTUM = 0.9  # Keras' 0.99 lags behind on short (quick-profile) runs
BN_EPSILON = 1e-3


def layer_specs(
    arch: Architecture, input_shape: tuple[int, int, int], num_classes: int
) -> tuple[LayerSpec, ...]:
    """The walk of ``arch`` (pruned architectures with 1..9-unit dense layers accepted)."""
    return pruned_walk(arch, cast("tuple[int, int, int]", tuple(input_shape)), num_classes)


def spec_name(layer_name: str) -> str:
    """The spec a Keras layer belongs to (``b0_l1_conv_bn`` -> ``b0_l1_conv``)."""
    for suffix in (BN_SUFFIX, RELU_SUFFIX, DROPOUT_SUFFIX):
        if layer_name.endswith(suffix):
            return layer_name[: -len(suffix)]
    return layer_name


def build_keras_model(
    arch: Architecture,
    input_shape: tuple[int, int, int],
    num_classes: int,
    *,
    dropout: float = 0.0,
) -> Any:
    """The (untrained) Keras model of ``arch``; outputs logits of ``num_classes`` classes."""
    return build_from_specs(layer_specs(arch, input_shape, num_classes), input_shape,
                            dropout=dropout)


def build_from_specs(
    specs: Sequence[LayerSpec], input_shape: tuple[int, int, int], *, dropout: float = 0.0
) -> Any:
    """The Keras model of already-walked ``specs``."""
    import keras
    from keras import layers

    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1) (got {dropout!r})")
    inputs = keras.Input(shape=tuple(input_shape), name=INPUT_NAME)
    tensors: dict[str, Any] = {INPUT_NAME: inputs}
    for spec in specs:
        ins = [tensors[name] for name in spec.inputs]
        x = ins[0]
        if spec.kind in ("conv2d", "depthwise_conv2d"):
            if spec.kind == "conv2d":
                x = layers.Conv2D(
                    spec.filters, spec.kernel_size, strides=spec.strides, padding=spec.padding,
                    use_bias=spec.use_bias, name=spec.name,
                )(x)
            else:
                x = layers.DepthwiseConv2D(
                    spec.kernel_size, strides=spec.strides, padding=spec.padding,
                    depth_multiplier=1, use_bias=spec.use_bias, name=spec.name,
                )(x)
            if spec.batch_norm:
                x = layers.BatchNormalization(
                    momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=spec.name + BN_SUFFIX
                )(x)
            if spec.relu:
                x = layers.ReLU(name=spec.name + RELU_SUFFIX)(x)
        elif spec.kind in ("max_pool", "avg_pool"):
            cls = layers.MaxPooling2D if spec.kind == "max_pool" else layers.AveragePooling2D
            x = cls(spec.pool_size, strides=spec.strides, padding=spec.padding,
                    name=spec.name)(x)
        elif spec.kind == "add":
            x = layers.Add(name=spec.name)(ins)
        elif spec.kind == "reshape":
            x = layers.Flatten(name=spec.name)(x)
        elif spec.kind == "dense":
            if spec.relu and dropout > 0:
                x = layers.Dropout(dropout, name=spec.name + DROPOUT_SUFFIX)(x)
            x = layers.Dense(spec.units, activation="relu" if spec.relu else None,
                             use_bias=spec.use_bias, name=spec.name)(x)
        else:  # pragma: no cover - the walk emits only the kinds above
            raise ValueError(f"unknown layer kind {spec.kind!r} in spec {spec.name!r}")
        tensors[spec.name] = x
    return keras.Model(inputs, tensors[specs[-1].name], name="unas")
