"""scikit-learn's built-in 8x8 handwritten digits (1797 images, no files needed).

Pixel values 0..16 are scaled to [0, 1]. Split: seeded and stratified, 60% train, 20%
validation, 20% test.
"""

from __future__ import annotations

import numpy as np

from .base import Dataset, apply_limit, stratified_split

DIGITS_CLASSES = tuple(str(d) for d in range(10))


def load_digits_dataset(*, seed: int, limit: int | None) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0))[..., None]
    y = np.asarray(bunch.target, dtype=np.int64)
    rest, test = stratified_split(y, 0.2, seed)
    train_r, val_r = stratified_split(y[rest], 0.25, seed)
    train, val = rest[train_r], rest[val_r]
    ds = Dataset(
        name="digits",
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        input_shape=(8, 8, 1),
        class_names=DIGITS_CLASSES,
        origin="sklearn.datasets.load_digits",
    )
    return apply_limit(ds, limit, seed)
