"""Training-time data augmentation as plain numpy, driven by an `AugmentConfig` value.

`make_augmenter(config, seed)` returns a callable on image batches (N, H, W, C): random L/R flip
(p = 0.5), random rotation (bilinear, zero fill, angle ~ U(-r, r) with probability p), random
integer shift (uniform in [-s, s] pixels per axis, edges filled by mirroring, as the reference
implementation's pad-and-crop did). Normalisation is not augmentation: `make_preprocessor`
applies it, and the trainer must apply it to every split (train after augmenting, val, test).
`make_train_batch_fn(dataset, config, seed)` combines both for a batch of training-row indices,
and for speech data sets augments the waveforms and recomputes MFCCs instead.

Everything is vectorised numpy (no TensorFlow): fast on CPU, and deterministic given the rng.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .datasets.base import Dataset


@dataclass(frozen=True)
class AugmentConfig:
    """What to do to training inputs; the default does nothing.

    rotation_range: max |angle| in radians; rotation_prob: chance a given image is rotated.
    shift_pixels (dy, dx) or shift_fraction (of H, W; rounded down, as the reference did): max
    shift. normalization: per-channel (mean, std), applied by `make_preprocessor`.
    Speech: time_shift_ms, background_noise_prob, background_volume (see SpeechAugmenter).
    """

    rotation_range: float = 0.0
    rotation_prob: float = 0.0
    shift_pixels: tuple[int, int] = (0, 0)
    shift_fraction: tuple[float, float] = (0.0, 0.0)
    horizontal_flip: bool = False
    normalization: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    time_shift_ms: float = 0.0
    background_noise_prob: float = 0.0
    background_volume: float = 0.0

    def __post_init__(self) -> None:
        if self.rotation_range < 0 or not 0 <= self.rotation_prob <= 1:
            raise ValueError("rotation_range must be >= 0 and rotation_prob in [0, 1]")
        if min(self.shift_pixels) < 0 or min(self.shift_fraction) < 0:
            raise ValueError("shifts must be >= 0")
        if any(self.shift_pixels) and any(self.shift_fraction):
            raise ValueError("give shift_pixels or shift_fraction, not both")
        if max(self.shift_fraction) >= 1:
            raise ValueError("shift_fraction must be below 1")
        if self.normalization is not None:
            mean, std = self.normalization
            if len(mean) != len(std) or not mean or min(std) <= 0:
                raise ValueError("normalization needs per-channel means and positive stds")
        if (self.time_shift_ms < 0 or not 0 <= self.background_noise_prob <= 1
                or self.background_volume < 0):
            raise ValueError("speech augmentation settings must be non-negative probabilities")

    def shift_for(self, height: int, width: int) -> tuple[int, int]:
        if any(self.shift_fraction):
            return int(height * self.shift_fraction[0]), int(width * self.shift_fraction[1])
        return int(self.shift_pixels[0]), int(self.shift_pixels[1])

    @property
    def is_identity(self) -> bool:
        """True when augmentation changes nothing (normalisation is not augmentation)."""
        return (
            (self.rotation_range == 0 or self.rotation_prob == 0)
            and not any(self.shift_pixels)
            and not any(self.shift_fraction)
            and not self.horizontal_flip
            and self.time_shift_ms == 0
            and (self.background_noise_prob == 0 or self.background_volume == 0)
        )


def rotate_batch(x: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotate each image (N, H, W, C) by its angle (radians, counter-clockwise as displayed)
    about the image centre; bilinear interpolation, zeros outside. Matches
    `scipy.ndimage.rotate(img, degrees, reshape=False, order=1, mode="grid-constant")`."""
    n, h, w, c = x.shape
    xf = x.astype(np.float32, copy=False)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    cos = np.cos(angles)[:, None, None]
    sin = np.sin(angles)[:, None, None]
    sy = cos * yy + sin * xx + cy  # source row of each output pixel
    sx = -sin * yy + cos * xx + cx
    y0 = np.floor(sy).astype(np.int64)
    x0 = np.floor(sx).astype(np.int64)
    fy = (sy - y0).astype(np.float32)[..., None]
    fx = (sx - x0).astype(np.float32)[..., None]
    b = np.arange(n)[:, None, None]

    def tap(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
        ok = ((yi >= 0) & (yi < h) & (xi >= 0) & (xi < w))[..., None]
        v = xf[b, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        return np.where(ok, v, np.float32(0))

    out: np.ndarray = (
        tap(y0, x0) * (1 - fy) * (1 - fx)
        + tap(y0, x0 + 1) * (1 - fy) * fx
        + tap(y0 + 1, x0) * fy * (1 - fx)
        + tap(y0 + 1, x0 + 1) * fy * fx
    )
    return out.astype(np.float32, copy=False)


def shift_batch(x: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Shift each image by whole pixels (content moves down by dy, right by dx); the uncovered
    border mirrors the image edge (numpy "symmetric" padding)."""
    n, h, w, _ = x.shape
    py, px = int(np.abs(dy).max(initial=0)), int(np.abs(dx).max(initial=0))
    padded = np.pad(x, ((0, 0), (py, py), (px, px), (0, 0)), mode="symmetric")
    rows = (py - np.asarray(dy))[:, None] + np.arange(h)[None, :]
    cols = (px - np.asarray(dx))[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


@dataclass(frozen=True)
class ImageAugmenter:
    config: AugmentConfig
    seed: int = 0

    def __call__(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        cfg = self.config
        if x.ndim != 4:
            raise ValueError(f"expected an image batch (N, H, W, C), got shape {x.shape}")
        if cfg.is_identity:
            return x
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        dtype = x.dtype
        out = x
        n: int
        h: int
        w: int
        n, h, w, _ = x.shape
        if cfg.horizontal_flip:
            flip = rng.random(n) < 0.5
            out = np.where(flip[:, None, None, None], out[:, :, ::-1, :], out)
        if cfg.rotation_range > 0 and cfg.rotation_prob > 0:
            which = rng.random(n) < cfg.rotation_prob
            angles = rng.uniform(-cfg.rotation_range, cfg.rotation_range, size=n)
            if which.any():
                out = np.array(out, dtype=np.float32)
                out[which] = rotate_batch(out[which], angles[which])
        sy, sx = cfg.shift_for(h, w)
        if sy or sx:
            dy = rng.integers(-sy, sy + 1, size=n)
            dx = rng.integers(-sx, sx + 1, size=n)
            out = shift_batch(out, dy, dx)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            return np.clip(np.round(out), info.min, info.max).astype(dtype)
        return out.astype(dtype, copy=False)


def make_augmenter(
    config: AugmentConfig, seed: int = 0
) -> Callable[..., np.ndarray]:
    """callable(x_batch, rng=None) -> augmented batch of the same shape and dtype. Without an
    rng each call draws from a fresh `default_rng(seed)` (so equal inputs give equal outputs);
    a trainer passes one rng per run so epochs differ."""
    return ImageAugmenter(config, seed)


def make_preprocessor(config: AugmentConfig) -> Callable[[np.ndarray], np.ndarray]:
    """callable(x) -> (x - mean) / std per channel, or the identity without normalisation."""
    if config.normalization is None:
        return lambda x: x
    mean = np.asarray(config.normalization[0], dtype=np.float32)
    std = np.asarray(config.normalization[1], dtype=np.float32)

    def normalise(x: np.ndarray) -> np.ndarray:
        if x.shape[-1] != len(mean):
            raise ValueError(f"normalization has {len(mean)} channels, data has {x.shape[-1]}")
        return ((x - mean) / std).astype(np.float32)

    return normalise


def make_train_batch_fn(
    dataset: Dataset, config: AugmentConfig, seed: int = 0
) -> Callable[..., np.ndarray]:
    """callable(indices, rng=None) -> the training inputs for those rows of `dataset`,
    augmented and normalised: what a trainer feeds the model. Images: `make_augmenter` then
    `make_preprocessor`. Speech: waveform augmentation (time shift, background noise) then
    MFCCs, via `speech_augmenter`; with an identity config it returns `x_train[indices]`."""
    preprocess = make_preprocessor(config)
    if dataset.audio is not None and not config.is_identity:
        from .datasets.speech import speech_augmenter

        audio = dataset.audio
        speech = speech_augmenter(
            dataset,
            time_shift_ms=config.time_shift_ms,
            noise_prob=config.background_noise_prob,
            noise_volume=config.background_volume,
            seed=seed,
        )

        def speech_batch(idx: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
            rng = rng if rng is not None else np.random.default_rng(seed)
            return preprocess(speech(audio.train_waveforms[idx], rng, audio.train_silence[idx]))

        return speech_batch
    augment = make_augmenter(config, seed)

    def image_batch(idx: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return preprocess(augment(dataset.x_train[idx], rng))

    return image_batch
