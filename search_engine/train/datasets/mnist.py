"""MNIST and Fashion-MNIST from the four standard IDX files in a local folder.

Validation split: a seeded, stratified 10% of the 60,000 training images (as the reference
implementation did); the 10,000 t10k images are the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, apply_limit, as_labels, stratified_split
from .idx import find_idx_file, read_idx

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
VALIDATION_FRACTION = 0.1
_KERAS_LOADERS = {"mnist": "mnist", "fashion-mnist": "fashion_mnist"}


def _keras_download(name: str) -> tuple[np.ndarray, ...]:  # pragma: no cover - needs internet
    import keras

    module = getattr(keras.datasets, _KERAS_LOADERS[name])
    (x_tr, y_tr), (x_te, y_te) = module.load_data()
    return x_tr, y_tr, x_te, y_te


def files_present(folder: Path) -> bool:
    return all(find_idx_file(folder, stem) is not None for stem in IDX_FILES)


def read_idx_folder(folder: Path, name: str) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) as uint8 arrays, with every count checked."""
    missing = [stem for stem in IDX_FILES if find_idx_file(folder, stem) is None]
    if missing:
        raise DatasetError(
            f"{name}: missing {', '.join(m + '[.gz]' for m in missing)} in {folder} "
            f"(expected the four standard IDX files: {', '.join(IDX_FILES)}, gzipped or not)"
        )
    arrays = []
    for stem in IDX_FILES:
        path = find_idx_file(folder, stem)
        assert path is not None
        arr = read_idx(path)
        want_ndim = 3 if "images" in stem else 1
        if arr.dtype != np.uint8 or arr.ndim != want_ndim:
            raise DatasetError(
                f"{path}: expected {want_ndim}-D unsigned bytes, found {arr.ndim}-D {arr.dtype}"
            )
        arrays.append(arr)
    x_tr, y_tr, x_te, y_te = arrays
    for x, y, split in ((x_tr, y_tr, "train"), (x_te, y_te, "t10k")):
        if len(x) != len(y):
            raise DatasetError(
                f"{name} {split}: {len(x)} images but {len(y)} labels in {folder}"
            )
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise DatasetError(
            f"{name}: train images are {x_tr.shape[1:]} but t10k images are {x_te.shape[1:]}"
        )
    return x_tr, y_tr, x_te, y_te


def load_idx_dataset(
    name: str,
    folder: Path,
    class_names: tuple[str, ...],
    *,
    seed: int,
    limit: int | None,
    allow_download: bool = False,
) -> Dataset:
    if folder.is_dir():
        x_tr, y_tr, x_te, y_te = read_idx_folder(folder, name)
    elif allow_download:  # pragma: no cover - needs internet
        x_tr, y_tr, x_te, y_te = _keras_download(name)
    else:
        raise DatasetError(
            f"{name}: folder {folder} not found (expected {', '.join(IDX_FILES)}, gzipped or "
            f"not). Put the files there, point data_dir or $UNAS_DATASETS_DIR at their "
            f"parent folder, or pass allow_download=True to fetch them with "
            f"keras.datasets.{_KERAS_LOADERS[name]}.load_data() (needs internet)."
        )
    k = len(class_names)
    y_tr = as_labels(y_tr, k, f"{name} train labels")
    y_te = as_labels(y_te, k, f"{name} test labels")
    keep, val = stratified_split(y_tr, VALIDATION_FRACTION, seed)
    # Images stay uint8 until after `limit`, so small demos never build the full float copy.
    raw = Dataset(
        name=name,
        x_train=x_tr[keep],
        y_train=y_tr[keep],
        x_val=x_tr[val],
        y_val=y_tr[val],
        x_test=x_te,
        y_test=y_te,
        input_shape=(*x_tr.shape[1:3], 1),
        class_names=class_names,
        origin=str(folder),
    )
    raw = apply_limit(raw, limit, seed)

    def to_float(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / np.float32(255.0))[..., None]

    return Dataset(
        name=name,
        x_train=to_float(raw.x_train),
        y_train=raw.y_train,
        x_val=to_float(raw.x_val),
        y_val=raw.y_val,
        x_test=to_float(raw.x_test),
        y_test=raw.y_test,
        input_shape=raw.input_shape,
        class_names=class_names,
        origin=raw.origin,
    )


def load_mnist(
    folder: Path, *, seed: int, limit: int | None, allow_download: bool = False
) -> Dataset:
    return load_idx_dataset(
        "mnist", folder, MNIST_CLASSES, seed=seed, limit=limit, allow_download=allow_download
    )


def load_fashion_mnist(
    folder: Path, *, seed: int, limit: int | None, allow_download: bool = False
) -> Dataset:
    return load_idx_dataset(
        "fashion-mnist",
        folder,
        FASHION_CLASSES,
        seed=seed,
        limit=limit,
        allow_download=allow_download,
    )
