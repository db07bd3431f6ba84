"""Keras model -> full-integer int8 ``.tflite`` bytes (int8 input and output, batch size 1).

Conversion path (Keras 3 + TensorFlow 2.21): the model's inference call
(``model.__call__(x, training=False)``) is written as a SavedModel endpoint with a fixed
``(1, *input_shape)`` signature through ``keras.export.ExportArchive``, and that SavedModel is
converted with ``tf.lite.TFLiteConverter.from_saved_model``. This is what
``TFLiteConverter.from_keras_model`` does internally for Keras 3, except that it keeps the
batch dimension dynamic, which makes the converter emit SHAPE / STRIDED_SLICE / PACK ops in
front of every Flatten (extra ops and tensors in the arena). A concrete function from
``tf.function`` cannot be used directly: Keras 3 variables are not frozen on that path
(``READ_VARIABLE`` fails during calibration).

Quantisation: ``Optimize.DEFAULT`` + a representative data set + ``TFLITE_BUILTINS_INT8`` only,
``inference_input_type = inference_output_type = tf.int8``: weights int8 (per channel for
convolutions), biases int32, activations int8 per tensor. TensorFlow is imported lazily.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np


class ConversionError(ValueError):
    """The model or the representative data cannot be converted."""


def _representative_samples(
    representative_x: np.ndarray, input_shape: tuple[int, ...], num_samples: int, seed: int
) -> np.ndarray:
    x = np.asarray(representative_x)
    if x.ndim == 0 or len(x) == 0:
        raise ConversionError("representative_x must hold at least one sample")
    per_sample = int(np.prod(input_shape))
    if int(np.prod(x.shape[1:])) != per_sample:
        raise ConversionError(
            f"representative samples have shape {x.shape[1:]}, the model expects "
            f"{input_shape} ({per_sample} values per sample)"
        )
    x = x.astype(np.float32).reshape((len(x), *input_shape))
    if not np.all(np.isfinite(x)):
        raise ConversionError("representative_x contains NaN or infinite values")
    if num_samples < 1:
        raise ConversionError(f"num_samples must be >= 1, got {num_samples}")
    if len(x) > num_samples:
        pick = np.random.default_rng(seed).choice(len(x), size=num_samples, replace=False)
        x = x[np.sort(pick)]
    return x


def convert_to_int8_tflite(
    model: Any,
    representative_x: np.ndarray,
    *,
    num_samples: int = 200,
    seed: int = 0,
) -> bytes:
    """Full-integer int8 ``.tflite`` bytes of a single-input Keras 3 ``model``.

    ``representative_x`` holds float samples (as the model takes them, without or with the
    batch axis flattened into the first axis); at most ``num_samples`` of them, drawn at
    random with ``seed``, calibrate the activation ranges. The converted model's input has
    batch size 1.
    """
    import keras
    import tensorflow as tf

    if len(model.inputs) != 1:
        raise ConversionError(f"expected a single-input model, got {len(model.inputs)} inputs")
    input_shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in input_shape):
        raise ConversionError(f"model input shape {input_shape} must be fully defined")
    samples = _representative_samples(representative_x, input_shape, num_samples, seed)

    def representative_dataset() -> Iterator[list[np.ndarray]]:  # for the converter
        for i in range(len(samples)):
            yield [samples[i : i + 1]]

    with tempfile.TemporaryDirectory(prefix="unas-export-") as saved_model_dir:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            "serve",
            functools.partial(model.__call__, training=False),
            [tf.TensorSpec((1, *input_shape), tf.float32, name="input")],
        )
        archive.write_out(saved_model_dir, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model_dir, signature_keys=["serve"]
        )
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        try:
            return bytes(converter.convert())
        except Exception as exc:  # the converter raises many types; keep the cause
            raise ConversionError(f"TFLite conversion failed: {exc}") from exc
