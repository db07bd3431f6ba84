"""The data set registry: digits, listing, options, binary grouping, limit, determinism and
errors; importing the package must not import TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from search_engine.train.datasets import (
    Dataset,
    DatasetError,
    available_datasets,
    load_dataset,
)
from search_engine.train.datasets.base import binary_grouping, stratified_split

REPO = Path(__file__).resolve().parents[1]


def test_import_does_not_load_tensorflow():
    code = (
        "import sys\n"
        "import search_engine.train.datasets, search_engine.train.profiles\n"
        "import search_engine.train.augment\n"
        "from search_engine.train.datasets import load_dataset\n"
        "load_dataset('digits', limit=10)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "print(bad)\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_digits_matches_sklearn_and_splits_60_20_20():
    ds = load_dataset("digits", seed=0)
    ref = load_digits()
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (1078, 360, 359)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # Every sklearn image appears exactly once across the splits, scaled by 1/16.
    x = np.concatenate([ds.x_train, ds.x_val, ds.x_test])[..., 0] * 16
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    key = lambda imgs, labels: sorted(  # noqa: E731
        (int(lab), im.astype(np.int64).tobytes()) for im, lab in zip(imgs, labels, strict=True)
    )
    assert key(x, y) == key(ref.images, ref.target)
    # Stratified: each class is ~20% of the test set's share.
    assert np.abs(np.bincount(ds.y_test) - np.bincount(ref.target) * 0.2).max() <= 1


def test_same_seed_same_splits_other_seed_differs():
    a, b = load_dataset("digits", seed=7), load_dataset("digits", seed=7)
    c = load_dataset("digits", seed=8)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_val, c.x_val)


def test_limit_subsamples_each_split_deterministically():
    full = load_dataset("digits", seed=1)
    small = load_dataset("digits", seed=1, limit=50)
    assert len(small.y_train) == len(small.y_val) == len(small.y_test) == 50
    # A subset of the full split, in the same order.
    rows = {r.tobytes(): i for i, r in enumerate(full.x_train)}
    where = [rows[r.tobytes()] for r in small.x_train]
    assert where == sorted(where)
    np.testing.assert_array_equal(load_dataset("digits", seed=1, limit=50).y_val, small.y_val)
    assert len(load_dataset("digits", limit=5000).y_train) == len(full.y_train)


def test_binary_halves_and_explicit_groups():
    ds = load_dataset("digits", binary=True, seed=0)
    full = load_dataset("digits", seed=0)
    assert ds.binary and ds.num_classes == 2
    assert ds.class_names == ("0/1/2/3/4", "5/6/7/8/9")
    np.testing.assert_array_equal(ds.y_train, (full.y_train >= 5).astype(np.int64))
    np.testing.assert_array_equal(ds.x_train, full.x_train)
    odd = load_dataset("digits", binary=True, binary_groups=["1", "3", 5, 7, 9])
    np.testing.assert_array_equal(odd.y_test, 1 - full.y_test % 2)
    assert odd.class_names == ("1/3/5/7/9", "0/2/4/6/8")
    assert "binary" in ds.describe()


@pytest.mark.parametrize(
    "groups, message",
    [
        (["x"], "unknown class 'x'"),
        ([11], r"not in 0\.\.9"),
        (list(range(10)), "at least one class in each group"),
        ("vehicles-animals", "unknown binary grouping 'vehicles-animals'; known for this source: "
                             "none"),
    ],
)
def test_binary_group_errors(groups, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset("digits", binary=True, binary_groups=groups)


def test_binary_grouping_odd_class_count():
    mapping, names = binary_grouping(("a", "b", "c"), None)
    assert mapping.tolist() == [0, 1, 1] and names == ("a", "b/c")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "imagenet"}, "unknown data set 'imagenet'; known: digits, mnist"),
        ({"name": "digits", "colour": 1}, r"digits: unknown option\(s\) colour; accepted: none"),
        ({"name": "mnist", "words": ["a"]}, r"unknown option\(s\) words; accepted: path, "),
        ({"name": "digits", "binary_groups": [1]}, "only applies with binary=True"),
        ({"name": "digits", "limit": 0}, "limit must be a positive integer"),
        ({"name": "digits", "limit": 2.5}, "limit must be a positive integer"),
        ({"name": "digits", "seed": "1"}, "seed must be an integer"),
        ({"name": "npz"}, r"pass path=<file\.npz>"),
        ({"name": "image-folder"}, r"pass path=<file\.zip>"),
        ({"name": "cifar10", "data_dir": "/nonexistent"}, "missing data_batch_1"),
        ({"name": "speech", "data_dir": "/nonexistent"}, "folder /nonexistent/speech not found"),
    ],
)
def test_registry_errors(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(DatasetError, match=message):
        load_dataset(name, **kwargs)


def test_names_are_normalised():
    assert load_dataset(" Digits ", limit=3).name == "digits"


def test_available_datasets_reports_presence(tmp_path):
    infos = {i.name: i for i in available_datasets(tmp_path)}
    assert list(infos) == [
        "digits", "mnist", "fashion-mnist", "cifar10", "speech", "npz", "image-folder"
    ]
    assert infos["digits"].available and infos["digits"].kind == "builtin"
    assert not infos["mnist"].available
    assert infos["mnist"].location == str(tmp_path / "mnist")
    assert infos["mnist"].num_classes == 10 and infos["cifar10"].input_shape == (32, 32, 3)
    assert infos["npz"].kind == "upload" and infos["npz"].available
    assert "path" in infos["image-folder"].options
    assert "image_size" in infos["image-folder"].options
    (tmp_path / "mnist").mkdir()  # an empty folder is not a data set
    assert not {i.name: i for i in available_datasets(tmp_path)}["mnist"].available
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / "mnist" / stem).write_bytes(b"")
    assert {i.name: i for i in available_datasets(tmp_path)}["mnist"].available
    (tmp_path / "speech" / "yes").mkdir(parents=True)
    (tmp_path / "speech" / "yes" / "a.wav").write_bytes(b"")
    speech = {i.name: i for i in available_datasets(tmp_path)}["speech"]
    assert speech.available and speech.class_names == ("yes",)
    assert speech.input_shape == (98, 10, 1)


def test_stratified_split_falls_back_when_a_class_is_tiny():
    y = np.array([0] * 10 + [1])
    keep, out = stratified_split(y, 0.2, seed=0)
    assert len(out) == 2 and sorted(np.concatenate([keep, out]).tolist()) == list(range(11))
    with pytest.raises(DatasetError, match="cannot hold out"):
        stratified_split(np.array([0, 1]), 0.1, seed=0)


def test_dataset_subset_and_describe():
    ds = load_dataset("digits", limit=4)
    sub = ds.subset(np.array([0, 1]), np.array([2]), np.array([], dtype=int))
    assert isinstance(sub, Dataset)
    assert sub.describe() == "digits: 2 train / 1 val / 0 test, input (8, 8, 1), 10 classes"
    assert sub.feature_kind == "image"
