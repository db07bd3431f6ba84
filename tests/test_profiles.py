"""Training profiles (paper Table 4 as data, the quick variant) and the numpy augmentation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import given, settings
from hypothesis import strategies as st

from search_engine.train.augment import (
    AugmentConfig,
    make_augmenter,
    make_preprocessor,
    make_train_batch_fn,
    rotate_batch,
    shift_batch,
)
from search_engine.train.datasets import SOURCES, load_dataset
from search_engine.train.profiles import (
    PROFILES,
    OptimizerConfig,
    PruningConfig,
    TrainingProfile,
    get_profile,
)

# ---------------------------------------------------------------------------------------------
# profiles

TABLE4 = {
    # dataset: (optimiser, momentum, weight decay, lr steps, epochs, batch, sparsity, pruning)
    "mnist": ("sgdw", 0.9, 4e-5, ((0, 0.005),), 30, 128, (0.05, 0.80), (3, 18)),
    "fashion-mnist": ("sgdw", 0.9, 1e-5, ((0, 0.01), (20, 0.005), (35, 0.001)), 45, 128,
                      (0.05, 0.90), (3, 38)),
    "cifar10": ("sgdw", 0.9, 1e-5, ((0, 0.01), (35, 0.005), (65, 0.001)), 80, 128,
                (0.10, 0.90), (30, 60)),
    "speech": ("adamw", 0.0, 1e-5, ((0, 0.0005), (20, 0.0001), (40, 2e-5)), 45, 50,
               (0.10, 0.90), (20, 40)),
    "image-folder": ("sgdw", 0.9, 1e-4, ((0, 0.01), (35, 0.005)), 60, 80, (0.10, 0.85),
                     (20, 53)),
}


@pytest.mark.parametrize("dataset", sorted(TABLE4))
def test_paper_profiles_match_table_4(dataset):
    opt, mom, wd, steps, epochs, batch, sparsity, (start, end) = TABLE4[dataset]
    p = get_profile(dataset, "paper")
    assert (p.optimizer.kind, p.optimizer.momentum, p.optimizer.weight_decay) == (opt, mom, wd)
    assert p.lr_schedule == steps and p.epochs == epochs and p.batch_size == batch
    assert p.pruning == PruningConfig(sparsity, start, end)


def test_paper_augmentation_and_dropout():
    mnist, fashion = get_profile("mnist"), get_profile("fashion-mnist")
    assert fashion.augmentation == AugmentConfig(
        rotation_range=0.2, rotation_prob=0.3, shift_pixels=(2, 2), horizontal_flip=True
    )
    # MNIST: the reference code's augmentation (no flip: a flipped digit is label noise)
    assert mnist.augmentation == dataclasses.replace(fashion.augmentation,
                                                     horizontal_flip=False)
    digits = get_profile("digits")
    assert not digits.augmentation.horizontal_flip
    # MNIST's rotations; no shift (a pixel is an eighth of an 8x8 image)
    assert digits.augmentation.shift_pixels == (0, 0)
    assert dataclasses.replace(digits.augmentation, shift_pixels=(2, 2)) == mnist.augmentation
    assert digits.optimizer == mnist.optimizer
    # digits is not in Table 4: MNIST's recipe with enough steps for 1,437 images
    assert digits.lr_schedule == ((0, 0.05), (30, 0.005)) and digits.batch_size == 32
    assert digits.epochs == 40 > get_profile("digits", "quick").epochs
    assert digits.pruning.sparsity_range == mnist.pruning.sparsity_range
    cifar = get_profile("cifar10").augmentation
    assert cifar.horizontal_flip and cifar.shift_pixels == (4, 4) and cifar.rotation_prob == 0
    assert cifar.normalization is not None
    assert get_profile("image-folder").augmentation.shift_for(48, 48) == (4, 4)  # 10% of H/W
    assert get_profile("speech").augmentation.time_shift_ms == 100
    assert {d: get_profile(d).dropout for d in ("cifar10", "fashion-mnist", "mnist")} == {
        "cifar10": 0.15, "fashion-mnist": 0.15, "mnist": 0.0
    }


def test_every_source_has_both_profiles():
    for name in SOURCES:
        for profile in ("paper", "quick"):
            assert get_profile(name, profile).dataset == name


def test_quick_profiles_are_short_and_consistent():
    for (dataset, name), p in PROFILES.items():
        if name != "quick":
            continue
        paper = get_profile(dataset, "paper")
        assert p.epochs == (8 if dataset == "digits" else 3)
        assert 0 < p.pruning.start_epoch < p.pruning.end_epoch < p.epochs
        assert p.pruning.sparsity_range == paper.pruning.sparsity_range
        assert p.optimizer == paper.optimizer and p.dropout == paper.dropout
        assert p.augmentation.is_identity
        assert p.augmentation.normalization == paper.augmentation.normalization
        assert p.lr_schedule[0][0] == 0 and p.lr_schedule[-1][0] < p.epochs
    assert get_profile("digits", "quick").lr_schedule == ((0, 0.05), (6, 0.005))
    assert get_profile("digits", "quick").batch_size == 32
    assert get_profile("cifar10", "quick").lr_schedule == ((0, 0.05), (2, 0.005))


def test_lr_at():
    p = get_profile("cifar10")
    assert [p.lr_at(e) for e in (0, 34, 35, 64, 65, 79)] == [
        0.01, 0.01, 0.005, 0.005, 0.001, 0.001
    ]
    assert p.learning_rate == 0.01


def test_profile_errors():
    with pytest.raises(ValueError, match="unknown training profile 'slow'; known: paper, quick"):
        get_profile("mnist", "slow")
    with pytest.raises(ValueError, match="no training profile for data set 'imagenet'"):
        get_profile("imagenet")
    assert get_profile("Fashion_MNIST").dataset == "fashion-mnist"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"lr_schedule": ((1, 0.1),)}, "start at epoch 0"),
        ({"lr_schedule": ((0, 0.1), (0, 0.2))}, "increasing epochs"),
        ({"lr_schedule": ((0, -1.0),)}, "positive"),
        ({"epochs": 10}, "steps within the epochs"),
        ({"pruning": PruningConfig((0.1, 0.5), 3, 99)}, "pruning must end within"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_profile_validation(change, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(get_profile("cifar10"), **change)


def test_config_validation():
    with pytest.raises(ValueError, match="sgdw"):
        OptimizerConfig("adam", 0.0)
    with pytest.raises(ValueError, match="sparsity_range"):
        PruningConfig((0.5, 0.1), 0, 1)
    with pytest.raises(ValueError, match="not both"):
        AugmentConfig(shift_pixels=(1, 1), shift_fraction=(0.1, 0.1))
    with pytest.raises(ValueError, match="rotation_prob"):
        AugmentConfig(rotation_prob=2)
    assert isinstance(get_profile("mnist"), TrainingProfile)


# ---------------------------------------------------------------------------------------------
# augmentation


def batch(n=16, h=12, w=10, c=1, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, h, w, c)).astype(np.float32)


def test_identity_config_is_the_identity():
    x = batch()
    assert AugmentConfig().is_identity
    out = make_augmenter(AugmentConfig())(x, np.random.default_rng(0))
    np.testing.assert_array_equal(out, x)
    assert make_preprocessor(AugmentConfig())(x) is x
    # A rotation with probability 0 or a zero range changes nothing either.
    for cfg in (AugmentConfig(rotation_range=0.5), AugmentConfig(rotation_prob=1.0)):
        np.testing.assert_array_equal(make_augmenter(cfg)(x), x)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10", "image-folder"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_paper_augmenters_keep_shape_and_dtype(dataset, dtype):
    cfg = get_profile(dataset).augmentation
    x = (batch(c=3 if dataset == "cifar10" else 1) * (255 if dtype == np.uint8 else 1))
    x = x.astype(dtype)
    out = make_augmenter(cfg, seed=1)(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not np.array_equal(out, x)
    assert out.min() >= 0 and out.max() <= x.max() + 1e-6  # zero fill, no overshoot


def test_augmenter_is_deterministic_given_the_rng():
    aug = make_augmenter(get_profile("mnist").augmentation, seed=3)
    x = batch()
    a = aug(x, np.random.default_rng(9))
    b = aug(x, np.random.default_rng(9))
    c = aug(x, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(aug(x), aug(x))  # no rng: default_rng(seed) each call


@settings(max_examples=25, deadline=None)
@given(
    angle=st.floats(-np.pi, np.pi),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    c=st.integers(1, 3),
    seed=st.integers(0, 100),
)
def test_rotation_matches_scipy(angle, h, w, c, seed):
    x = batch(n=2, h=h, w=w, c=c, seed=seed)
    ours = rotate_batch(x, np.array([angle, -angle]))
    for i, a in enumerate((angle, -angle)):
        ref = scipy.ndimage.rotate(x[i], np.degrees(a), reshape=False, order=1,
                                   mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(ours[i], ref, atol=1e-5)


def test_rotation_direction_and_zero_angle():
    x = np.zeros((1, 5, 5, 1), np.float32)
    x[0, 2, 4, 0] = 1.0  # right of centre
    up = rotate_batch(x, np.array([np.pi / 2]))
    assert np.unravel_index(np.argmax(up[0, :, :, 0]), (5, 5)) == (0, 2)  # now above centre
    np.testing.assert_allclose(rotate_batch(batch(), np.zeros(16)), batch(), atol=1e-6)


def test_shift_moves_content_and_mirrors_edges():
    x = np.arange(20, dtype=np.float32).reshape(1, 4, 5, 1)
    out = shift_batch(x, np.array([1]), np.array([-2]))
    # Down by 1, left by 2: out[r, c] = x[r - 1, c + 2] inside the image.
    np.testing.assert_array_equal(out[0, 1:, :3, 0], x[0, :3, 2:, 0])
    # Uncovered cells mirror the edge (numpy "symmetric" padding).
    ref = np.pad(x[0, :, :, 0], ((1, 1), (2, 2)), mode="symmetric")[0:4, 4:9]
    np.testing.assert_array_equal(out[0, :, :, 0], ref)


def test_shift_range_is_bounded():
    cfg = AugmentConfig(shift_pixels=(2, 3))
    x = np.zeros((300, 9, 11, 1), np.float32)
    x[:, 4, 5, 0] = 1.0
    out = make_augmenter(cfg)(x, np.random.default_rng(0))
    r, c = np.divmod(np.argmax(out[..., 0].reshape(300, -1), axis=1), 11)
    assert set((r - 4).tolist()) == set(range(-2, 3))  # every shift in [-2, 2] occurs
    assert set((c - 5).tolist()) == set(range(-3, 4))
    assert np.all(out.sum(axis=(1, 2, 3)) == 1.0)  # the dot stays inside: nothing mirrored


def test_flip_happens_about_half_the_time():
    x = batch(n=400, w=6)
    out = make_augmenter(AugmentConfig(horizontal_flip=True))(x, np.random.default_rng(0))
    flipped = np.all(out == x[:, :, ::-1, :], axis=(1, 2, 3))
    same = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped | same) and 0.4 < flipped.mean() < 0.6


def test_rotation_probability():
    x = batch(n=500)
    cfg = AugmentConfig(rotation_range=0.5, rotation_prob=0.3)
    out = make_augmenter(cfg)(x, np.random.default_rng(0))
    changed = ~np.all(out == x, axis=(1, 2, 3))
    assert 0.25 < changed.mean() < 0.35


def test_normalisation_preprocessor():
    cfg = get_profile("cifar10").augmentation
    x = batch(c=3)
    mean, std = (np.array(v, np.float32) for v in cfg.normalization)
    out = make_preprocessor(cfg)(x)
    np.testing.assert_allclose(out, (x - mean) / std, rtol=1e-6)
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match="3 channels, data has 1"):
        make_preprocessor(cfg)(batch(c=1))


def test_train_batch_fn_for_images():
    ds = load_dataset("digits", limit=40)
    cfg = get_profile("digits").augmentation
    fn = make_train_batch_fn(ds, cfg, seed=0)
    idx = np.arange(10)
    x = fn(idx, np.random.default_rng(0))
    assert x.shape == (10, 8, 8, 1) and x.dtype == np.float32
    assert not np.array_equal(x, ds.x_train[idx])
    plain = make_train_batch_fn(ds, AugmentConfig(), seed=0)
    np.testing.assert_array_equal(plain(idx), ds.x_train[idx])


def test_augmenter_rejects_non_batches():
    with pytest.raises(ValueError, match=r"image batch \(N, H, W, C\)"):
        make_augmenter(get_profile("mnist").augmentation)(np.zeros((8, 8)))
