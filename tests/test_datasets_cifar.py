"""CIFAR-10 loader against tiny fake batches in the real python-pickle format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from search_engine.train.datasets import DatasetError, available_datasets, load_dataset
from search_engine.train.datasets.cifar import CIFAR10_CLASSES

PER_BATCH = 20


def write_batches(folder: Path, seed: int = 0, meta: bool = True) -> dict[str, tuple]:
    """Five training batches and a test batch, as the real files: pickled dicts of bytes keys,
    b"data" uint8 (N, 3072) with the red, green and blue planes in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in np.arange(PER_BATCH) % 10]
        with open(folder / name, "wb") as fh:
            pickle.dump(
                {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                 b"filenames": [b"x.png"] * PER_BATCH},
                fh,
                protocol=2,
            )
        written[name] = (data, labels)
    if meta:
        with open(folder / "batches.meta", "wb") as fh:
            names = [n.encode() for n in CIFAR10_CLASSES]
            pickle.dump({b"label_names": names, b"num_vis": 3072}, fh, protocol=2)
    return written


def test_loads_fake_batches_with_the_real_layout(tmp_path):
    written = write_batches(tmp_path / "cifar10" / "cifar-10-batches-py")
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.input_shape == (32, 32, 3) and ds.class_names == CIFAR10_CLASSES
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (90, 10, 20)
    assert ds.x_test.dtype == np.float32
    data, labels = written["test_batch"]
    # Pixel (row 3, column 5) of image 2: red at 3*32+5, green 1024 further, blue 2048.
    for ch in range(3):
        assert ds.x_test[2, 3, 5, ch] == np.float32(data[2, ch * 1024 + 3 * 32 + 5]) / 255
    np.testing.assert_array_equal(ds.y_test, labels)
    assert np.bincount(ds.y_val).tolist() == [1] * 10  # stratified 10%
    assert {i.name: i for i in available_datasets(tmp_path)}["cifar10"].available


def test_batches_directly_in_the_folder_and_path_option(tmp_path):
    write_batches(tmp_path / "cifar10", meta=False)
    assert load_dataset("cifar10", data_dir=tmp_path).class_names == CIFAR10_CLASSES
    write_batches(tmp_path / "other")
    assert len(load_dataset("cifar10", path=tmp_path / "other", limit=5).y_train) == 5


def test_binary_vehicles_vs_animals(tmp_path):
    write_batches(tmp_path / "cifar10")
    full = load_dataset("cifar10", data_dir=tmp_path)
    ds = load_dataset("cifar10", data_dir=tmp_path, binary=True,
                      binary_groups="vehicles-animals")
    assert ds.class_names == ("vehicles", "animals")
    vehicles = np.isin(full.y_train, [0, 1, 8, 9])
    np.testing.assert_array_equal(ds.y_train, np.where(vehicles, 0, 1))
    halves = load_dataset("cifar10", data_dir=tmp_path, binary=True)
    np.testing.assert_array_equal(halves.y_test, (full.y_test >= 5).astype(int))


def test_missing_batch_is_named(tmp_path):
    write_batches(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match=r"missing data_batch_3 in .*cifar10"):
        load_dataset("cifar10", data_dir=tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "payload, message",
    [
        ({b"data": np.zeros((2, 3072), np.uint8)}, "needs keys b'data' and b'labels'"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"shape \(N, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "must be uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "must be 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"in 0\.\.9"),
        ([1, 2, 3], "expected a pickled dict"),
        (_Evil(), "refusing to load posix.system"),
    ],
)
def test_bad_batches(tmp_path, payload, message):
    write_batches(tmp_path / "cifar10")
    with open(tmp_path / "cifar10" / "data_batch_2", "wb") as fh:
        pickle.dump(payload, fh, protocol=2)
    with pytest.raises(DatasetError, match=message):
        load_dataset("cifar10", data_dir=tmp_path)


def test_truncated_pickle(tmp_path):
    write_batches(tmp_path / "cifar10")
    path = tmp_path / "cifar10" / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DatasetError, match="not a readable CIFAR-10 pickle batch"):
        load_dataset("cifar10", data_dir=tmp_path)
