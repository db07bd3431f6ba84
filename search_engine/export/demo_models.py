"""Small hand-built Keras models and data for export tests, the order demo and overhead fits.

Not part of the search: the real models come from ``search_engine.train``. These exist so that
conversion, reordering and arena measurement can be exercised in seconds: scikit-learn's 8x8
digits (1,797 samples), a plain chain, a chain of configurable depth, and a branched model whose
converter-chosen operator order keeps big tensors alive. TensorFlow is imported lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def digits_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): 8x8x1 digits scaled to [0, 1], a 75/25 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    cut = int(0.75 * len(x))
    return x[:cut], y[:cut], x[cut:], y[cut:]


def chain_model(
    depth: int = 2, width: int = 8, *, input_shape: tuple[int, ...] = (8, 8, 1),
    num_classes: int = 10, seed: int = 0,
) -> Any:
    """Conv(+BN+ReLU) stem, ``depth - 1`` alternating depthwise / 1x1 conv layers, max pool,
    flatten, dense (the op mix of a μNAS serial block)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inp = keras.Input(input_shape)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for i in range(depth - 1):
        if i % 2 == 0:
            x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        else:
            x = layers.Conv2D(width + 4 * (i % 3), 1, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(num_classes)(x)
    return keras.Model(inp, x, name=f"chain{depth}")


def branched_model(
    widths: tuple[int, ...] = (6, 12, 24, 48), *, channels: int = 8,
    input_shape: tuple[int, ...] = (8, 8, 1), num_classes: int = 10, seed: int = 0,
) -> Any:
    """A stem conv, then parallel branches ``conv3x3(w) -> conv1x1(channels)`` of the given
    widths, joined by one Add (its operands listed last branch first), average-pooled,
    flattened, dense.

    Each branch has a wide intermediate tensor and a narrow result. The converter runs the
    branches in creation order (narrowest first) and then the Add chain (the Add starts from the
    last branch), so the narrow results pile up while the widest intermediate is alive; the
    memory-optimal order runs the widest branch first and folds results in as they come.
    """
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inp = keras.Input(input_shape)
    stem = layers.Conv2D(channels, 3, padding="same", activation="relu", name="stem")(inp)
    outs = []
    for i, w in enumerate(widths):
        b = layers.Conv2D(w, 3, padding="same", activation="relu", name=f"b{i}_wide")(stem)
        outs.append(layers.Conv2D(channels, 1, name=f"b{i}_narrow")(b))
    x = layers.Add(name="join")(outs[::-1]) if len(outs) > 1 else outs[0]
    x = layers.AveragePooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inp, x, name="branched")


def train_briefly(model: Any, x: np.ndarray, y: np.ndarray, *, epochs: int = 1) -> Any:
    """Compile with Adam + sparse cross-entropy on logits and fit for ``epochs`` (quietly)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    if epochs > 0:
        model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model
