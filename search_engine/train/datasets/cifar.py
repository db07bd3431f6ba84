"""CIFAR-10 from the standard python-pickle batches in a local folder.

Files: `data_batch_1`..`data_batch_5`, `test_batch` and (optional) `batches.meta`, either
directly in `<data_dir>/cifar10/` or in its `cifar-10-batches-py/` sub-folder. Each batch is a
pickled dict with b"data" (uint8, (N, 3072): 1024 red, 1024 green, 1024 blue values, rows of
32 pixels) and b"labels" (N ints in 0..9). The pickles are read with an unpickler that only
admits the numpy array reconstruction they need, so a crafted file cannot run code.

Validation split: a seeded, stratified 10% of the 50,000 training images.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .base import Dataset, DatasetError, apply_limit, as_labels, stratified_split

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
SUBFOLDER = "cifar-10-batches-py"
VALIDATION_FRACTION = 0.1
BINARY_GROUPINGS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "vehicles-animals": (
        "vehicles",
        ("airplane", "automobile", "ship", "truck"),
        "animals",
    ),
}
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DatasetError(f"refusing to load {module}.{name} from a CIFAR pickle")
        return super().find_class(module, name)


def _unpickle(path: Path) -> Any:
    try:
        data = path.read_bytes()
        return _SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise DatasetError(f"{path}: not a readable CIFAR-10 pickle batch ({exc})") from exc


def _get(d: dict[str, Any], key: str) -> Any:
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    return None


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 32, 32, 3), labels int64 (N,)) of one batch file."""
    d = _unpickle(path)
    if not isinstance(d, dict):
        raise DatasetError(f"{path}: expected a pickled dict, found {type(d).__name__}")
    data, labels = _get(d, "data"), _get(d, "labels")
    if data is None or labels is None:
        raise DatasetError(f"{path}: the batch dict needs keys b'data' and b'labels'")
    data = np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(
            f"{path}: b'data' must be uint8 of shape (N, 3072), found {data.dtype} {data.shape}"
        )
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(data) or labels.dtype.kind not in "iu":
        raise DatasetError(
            f"{path}: b'labels' must be {len(data)} integers, found {labels.dtype} "
            f"{labels.shape}"
        )
    labels = as_labels(labels, 10, str(path))
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels


def _class_names(folder: Path) -> tuple[str, ...]:
    path = folder / META
    if not path.is_file():
        return CIFAR10_CLASSES
    d = _unpickle(path)
    names = _get(d, "label_names") if isinstance(d, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        raise DatasetError(f"{path}: expected b'label_names' with 10 names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _keras_download() -> tuple[np.ndarray, ...]:  # pragma: no cover - needs internet
    import keras

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.cifar10.load_data()
    return x_tr, y_tr.reshape(-1), x_te, y_te.reshape(-1)


def locate(folder: Path) -> Path:
    sub = folder / SUBFOLDER
    return sub if sub.is_dir() else folder


def files_present(folder: Path) -> bool:
    root = locate(folder)
    return all((root / f).is_file() for f in (*TRAIN_BATCHES, TEST_BATCH))


def load_cifar10(
    folder: Path, *, seed: int, limit: int | None, allow_download: bool = False
) -> Dataset:
    root = locate(folder)
    files = (*TRAIN_BATCHES, TEST_BATCH)
    missing = [f for f in files if not (root / f).is_file()]
    if missing and allow_download and not root.exists():  # pragma: no cover - needs internet
        x_tr, y_tr, x_te, y_te = _keras_download()
        names = CIFAR10_CLASSES
    elif missing:
        hint = (
            "" if root.exists() else
            " Or pass allow_download=True to fetch it with keras.datasets.cifar10.load_data() "
            "(needs internet)."
        )
        raise DatasetError(
            f"cifar10: missing {', '.join(missing)} in {root} (expected the python-pickle "
            f"batches {', '.join(files)} and optionally {META}, directly in that folder or in "
            f"its {SUBFOLDER}/ sub-folder).{hint}"
        )
    else:
        parts = [read_batch(root / f) for f in TRAIN_BATCHES]
        x_tr = np.concatenate([p[0] for p in parts])
        y_tr = np.concatenate([p[1] for p in parts])
        x_te, y_te = read_batch(root / TEST_BATCH)
        names = _class_names(root)
    y_tr = as_labels(y_tr, 10, "cifar10 train labels")
    y_te = as_labels(y_te, 10, "cifar10 test labels")
    keep, val = stratified_split(y_tr, VALIDATION_FRACTION, seed)
    raw = Dataset(
        name="cifar10",
        x_train=x_tr[keep],
        y_train=y_tr[keep],
        x_val=x_tr[val],
        y_val=y_tr[val],
        x_test=x_te,
        y_test=y_te,
        input_shape=(32, 32, 3),
        class_names=names,
        origin=str(root),
    )
    raw = apply_limit(raw, limit, seed)
    scale = np.float32(255.0)
    return Dataset(
        name="cifar10",
        x_train=raw.x_train.astype(np.float32) / scale,
        y_train=raw.y_train,
        x_val=raw.x_val.astype(np.float32) / scale,
        y_val=raw.y_val,
        x_test=raw.x_test.astype(np.float32) / scale,
        y_test=raw.y_test,
        input_shape=(32, 32, 3),
        class_names=names,
        origin=raw.origin,
    )
