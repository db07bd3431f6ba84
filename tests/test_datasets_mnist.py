"""MNIST / Fashion-MNIST loaders and the IDX parser, against the real MNIST files and tiny
hand-made IDX files."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from search_engine.train.datasets import DatasetError, default_data_dir, load_dataset
from search_engine.train.datasets.idx import parse_idx, read_idx
from search_engine.train.datasets.mnist import FASHION_CLASSES, IDX_FILES

MNIST_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(), reason="MNIST files not present"
)


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx_folder(folder: Path, n_train=40, n_test=10, size=(6, 5), gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, *size), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, *size), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for stem, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


def test_default_data_dir_is_the_shared_folder(monkeypatch):
    monkeypatch.delenv("UNAS_DATASETS_DIR", raising=False)
    assert default_data_dir() == MNIST_DIR.parent.resolve()


@needs_mnist
def test_real_mnist_headers_and_md5_round_trip():
    """Parse every file fully, check the counts, rebuild the raw IDX bytes from the parsed
    arrays and compare their MD5 with MD5SUMS.raw (the canonical files)."""
    sums = dict(
        reversed(line.split()) for line in (MNIST_DIR / "MD5SUMS.raw").read_text().splitlines()
    )
    counts = {"train": 60000, "t10k": 10000}
    for stem in IDX_FILES:
        arr = read_idx(MNIST_DIR / f"{stem}.gz")
        n = counts[stem.split("-")[0]]
        if "images" in stem:
            assert arr.shape == (n, 28, 28) and arr.dtype == np.uint8
        else:
            assert arr.shape == (n,) and set(np.unique(arr)) == set(range(10))
        assert hashlib.md5(idx_bytes(arr)).hexdigest() == sums[stem]


@needs_mnist
def test_real_mnist_full_split_sizes_and_values(monkeypatch):
    monkeypatch.delenv("UNAS_DATASETS_DIR", raising=False)
    ds = load_dataset("mnist")  # the default folder is the shared one
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (54000, 6000, 10000)
    assert ds.x_train.shape == (54000, 28, 28, 1) and ds.x_train.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.input_shape == (28, 28, 1)
    assert 0.0 == ds.x_test.min() and ds.x_test.max() == 1.0
    # The validation split is stratified: every class within 1% of its training share.
    share_val = np.bincount(ds.y_val) / len(ds.y_val)
    share_tr = np.bincount(ds.y_train) / len(ds.y_train)
    assert np.abs(share_val - share_tr).max() < 0.01
    # Train and validation partition the 60k training images: the pixel sums add up.
    full = read_idx(MNIST_DIR / "train-images-idx3-ubyte.gz")
    total = sum(np.rint(x * 255).astype(np.int64).sum() for x in (ds.x_train, ds.x_val))
    assert total == full.sum(dtype=np.int64)
    # The first test image is the canonical t10k image 0, scaled by 1/255.
    t10k = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(ds.x_test[0, :, :, 0], t10k[0] / np.float32(255))


@needs_mnist
def test_real_mnist_limit_and_determinism():
    a = load_dataset("mnist", data_dir=MNIST_DIR.parent, limit=300, seed=3)
    b = load_dataset("mnist", data_dir=MNIST_DIR.parent, limit=300, seed=3)
    c = load_dataset("mnist", data_dir=MNIST_DIR.parent, limit=300, seed=4)
    assert len(a.y_train) == len(a.y_val) == len(a.y_test) == 300
    for split in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, split), getattr(b, split))
    assert not np.array_equal(a.y_train, c.y_train)
    assert "300 train / 300 val / 300 test" in a.describe()


def test_fashion_mnist_from_uncompressed_files(tmp_path):
    arrays = write_idx_folder(tmp_path / "fashion-mnist", gz=False)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path)
    assert ds.class_names == FASHION_CLASSES and ds.class_names[9] == "Ankle boot"
    assert ds.input_shape == (6, 5, 1)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (36, 4, 10)
    np.testing.assert_array_equal(
        ds.x_test[..., 0], arrays["t10k-images-idx3-ubyte"].astype(np.float32) / 255
    )


def test_path_option_and_env_var(tmp_path, monkeypatch):
    write_idx_folder(tmp_path / "elsewhere")
    ds = load_dataset("mnist", path=tmp_path / "elsewhere")
    assert len(ds.y_test) == 10
    write_idx_folder(tmp_path / "root" / "mnist", n_test=20)
    monkeypatch.setenv("UNAS_DATASETS_DIR", str(tmp_path / "root"))
    assert len(load_dataset("mnist").y_test) == 20


def test_missing_folder_mentions_download_opt_in(tmp_path):
    with pytest.raises(DatasetError, match=r"allow_download=True.*keras\.datasets\.mnist"):
        load_dataset("mnist", data_dir=tmp_path)


def test_missing_file_is_named(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        load_dataset("mnist", data_dir=tmp_path)


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    labels = (np.arange(7) % 10).astype(np.uint8)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(labels))
    )
    with pytest.raises(DatasetError, match="10 images but 7 labels"):
        load_dataset("mnist", data_dir=tmp_path)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x08\x03\x00\x00", "bad IDX magic"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "bad IDX magic"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"truncated: header declares shape \(5,\)"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "1 unexpected bytes"),
    ],
)
def test_parse_idx_rejects_corrupt_data(data, message):
    with pytest.raises(DatasetError, match=message):
        parse_idx(data)


def test_parse_idx_types():
    arr = np.arange(6, dtype=">i4").reshape(2, 3) - 3
    out = parse_idx(idx_bytes(arr, 0x0C))
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.int32


def test_truncated_gzip_and_wrong_dtype(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset("mnist", data_dir=tmp_path)
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((40, 6, 5), ">i2"), 0x0B)))
    with pytest.raises(DatasetError, match="expected 3-D unsigned bytes"):
        load_dataset("mnist", data_dir=tmp_path)


def test_label_out_of_range(tmp_path):
    write_idx_folder(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.full(10, 12, np.uint8)))
    )
    with pytest.raises(DatasetError, match=r"labels must lie in 0\.\.9"):
        load_dataset("mnist", data_dir=tmp_path)
