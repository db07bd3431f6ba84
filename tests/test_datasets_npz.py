"""The `.npz` upload source: a valid archive loads as documented; each invalid one is refused
with a message naming the field."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from search_engine.train.datasets import DatasetError, load_dataset, validate_npz


def arrays(n_train=30, n_test=10, shape=(5, 4), k=3, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    hi = 256 if np.dtype(dtype).kind in "ui" else 1.0
    x = lambda n: (rng.random((n, *shape)) * hi).astype(dtype)  # noqa: E731
    return {
        "x_train": x(n_train),
        "y_train": np.arange(n_train) % k,
        "x_test": x(n_test),
        "y_test": np.arange(n_test) % k,
    }


def npz_bytes(**fields) -> io.BytesIO:
    buf = io.BytesIO()
    np.savez_compressed(buf, **fields)
    buf.seek(0)
    return buf


def test_valid_uint8_grayscale(tmp_path):
    a = arrays()
    path = tmp_path / "data.npz"
    np.savez(path, **a)
    summary = validate_npz(path)
    assert summary.input_shape == (5, 4, 1) and summary.num_classes == 3
    assert (summary.num_train, summary.num_val, summary.num_test) == (27, 3, 10)
    assert summary.scale == 255.0 and not summary.has_validation
    assert summary.class_names == ("0", "1", "2") and summary.source_dtype == "uint8"
    ds = load_dataset("npz", path=path)
    assert ds.x_train.shape == (27, 5, 4, 1) and ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(ds.x_test[..., 0], a["x_test"] / np.float32(255))
    np.testing.assert_array_equal(ds.y_test, a["y_test"])
    assert np.bincount(ds.y_val).tolist() == [1, 1, 1]  # stratified 10%
    assert ds.name == "npz"


def test_valid_float_rgb_with_validation_and_names():
    a = arrays(shape=(6, 6, 3), dtype=np.float32, k=2)
    a["x_val"], a["y_val"] = a["x_test"][:4], a["y_test"][:4].reshape(-1, 1).astype(np.float64)
    a["class_names"] = np.array(["cat", "dog"])
    summary = validate_npz(npz_bytes(**a))
    assert summary.has_validation and summary.num_val == 4 and summary.scale == 1.0
    ds = load_dataset("npz", path=npz_bytes(**a))
    assert ds.class_names == ("cat", "dog") and ds.input_shape == (6, 6, 3)
    np.testing.assert_array_equal(ds.x_train, a["x_train"])
    np.testing.assert_array_equal(ds.y_val, [0, 1, 0, 1])


def test_float_in_0_255_is_scaled_and_limit_applies():
    a = arrays(dtype=np.float64)
    a = {**a, "x_train": a["x_train"] * 255, "x_test": a["x_test"] * 255}
    ds = load_dataset("npz", path=npz_bytes(**a), limit=5)
    assert validate_npz(npz_bytes(**a)).scale == 255.0
    assert len(ds.y_train) == 5 and ds.x_train.max() <= 1.0


def _with(**changes):
    a = arrays()
    for k, v in changes.items():
        if v is None:
            a.pop(k)
        else:
            a[k] = v
    return a


INVALID = [
    (_with(y_test=None), r"missing array\(s\) y_test"),
    (_with(extra=np.zeros(3)), r"unexpected entry 'extra\.npy'"),
    (_with(x_val=np.zeros((2, 5, 4), np.uint8)), "x_val and y_val must be given together"),
    (_with(x_train=np.zeros((30, 5), np.uint8)), r"x_train: must have shape \(N, H, W\)"),
    (_with(x_train=np.zeros((30, 5, 4, 5), np.uint8)), "x_train: channel count must be in 1..4"),
    (_with(x_test=np.zeros((10, 600, 4), np.uint8)), "x_test: height and width must be in"),
    (_with(x_test=np.zeros((0, 5, 4), np.uint8), y_test=np.zeros(0, int)), "x_test: holds no"),
    (_with(x_test=np.zeros((10, 4, 5), np.uint8)), r"x_test: sample shape \(4, 5\) differs"),
    (_with(x_train=np.full((30, 5, 4), "a")), "x_train: must hold real numbers"),
    (_with(x_train=np.zeros((30, 5, 4), np.complex64)), "x_train: must hold real numbers"),
    (_with(x_test=np.full((10, 5, 4), np.nan, np.float32)), "x_test"),
    (_with(y_train=np.arange(29) % 3), "y_train: has 29 labels but x_train has 30 samples"),
    (_with(y_train=np.zeros((30, 2), int)), r"y_train: must be 1-D \(N,\) or \(N, 1\)"),
    (_with(y_train=np.full(30, 0.5)), "y_train: labels must be whole numbers"),
    (_with(y_test=np.full(10, -1)), "y_test: labels must be >= 0"),
    (_with(y_train=np.zeros(30, int), y_test=np.zeros(10, int)), "2..1000 classes, found 1"),
    (_with(y_train=np.arange(30) * 50), "2..1000 classes, found 1451"),
    (_with(y_train=np.array(["a"] * 30)), "y_train: must hold integer labels"),
    (_with(x_train=np.full((30, 5, 4), 300, np.int32)), r"lie in \[0, 1\] or \[0, 255\]"),
    (_with(x_train=np.full((30, 5, 4), -0.5), x_test=np.ones((10, 5, 4))), r"found -0\.5\.\.1$"),
    (_with(x_test=np.zeros((10, 5, 4), np.float32)), "x_test: dtype float32 does not match"),
    (_with(class_names=np.array(["a", "b"])), "y_train: label 2 is out of range for 2"),
    (_with(class_names=np.array(["a", "a", "b"])), "class_names: names must be unique"),
    (_with(class_names=np.array([1, 2, 3])), "class_names: must be a 1-D array of strings"),
    (_with(x_train=np.zeros((1, 5, 4), np.uint8), y_train=np.array([2])), "needs at least 2"),
]


@pytest.mark.parametrize("fields, message", INVALID)
def test_invalid_npz(fields, message):
    with pytest.raises(DatasetError, match=message):
        validate_npz(npz_bytes(**fields))


def test_nan_message_is_specific():
    a = arrays(dtype=np.float32)
    a["x_test"][0, 0, 0] = np.inf
    with pytest.raises(DatasetError, match="x_test: contains NaN or infinite values"):
        validate_npz(npz_bytes(**a))


def test_object_arrays_are_refused_without_unpickling():
    a = arrays()
    a["y_test"] = np.array([object()] * 10, dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **a)  # savez pickles object arrays
    buf.seek(0)
    with pytest.raises(DatasetError, match="y_test: object arrays"):
        validate_npz(buf)


def test_size_limits():
    a = arrays()
    with pytest.raises(DatasetError, match="more than the limit 100"):
        validate_npz(npz_bytes(**a), max_bytes=100)
    with pytest.raises(DatasetError, match="40 samples in all, more than the limit 39"):
        validate_npz(npz_bytes(**a), max_samples=39)
    assert validate_npz(npz_bytes(**a), max_samples=40).num_test == 10


def test_forged_sizes_and_garbage():
    """A member whose declared size is smaller than its data (a zip-bomb trick) and
    non-zip bytes are both refused cleanly."""
    buf = io.BytesIO()
    a = arrays()
    a["x_train"] = np.zeros((30, 200, 200), np.uint8)
    np.savez_compressed(buf, **a)
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        info = zf.getinfo("x_train.npy")
    real = info.file_size
    forged = (200).to_bytes(4, "little")
    # The uncompressed size sits at offset 22 of the local header and 24 of the central one.
    raw[info.header_offset + 22 : info.header_offset + 26] = forged
    cd = raw.find(b"PK\x01\x02")
    while cd != -1:
        name_len = int.from_bytes(raw[cd + 28 : cd + 30], "little")
        if raw[cd + 46 : cd + 46 + name_len] == b"x_train.npy":
            assert int.from_bytes(raw[cd + 24 : cd + 28], "little") == real
            raw[cd + 24 : cd + 28] = forged
            break
        cd = raw.find(b"PK\x01\x02", cd + 1)
    assert cd != -1
    with pytest.raises(DatasetError, match="x_train: (not a readable|cannot read)"):
        validate_npz(io.BytesIO(bytes(raw)), max_bytes=1_000_000)
    with pytest.raises(DatasetError, match="not a readable .npz archive"):
        validate_npz(io.BytesIO(b"definitely not a zip"))


def test_missing_file():
    with pytest.raises(DatasetError, match="npz: file /nope.npz not found"):
        load_dataset("npz", path="/nope.npz")
