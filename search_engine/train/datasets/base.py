"""Data set values shared by every source: `Dataset`, `DatasetInfo`, `DatasetError`, the default
data folder, and the split / subsample / binary-grouping helpers the sources use.

A `Dataset` holds numpy arrays only (no TensorFlow): images float32 in [0, 1] with shape
(N, H, W, C), labels int64 in 0..K-1. Speech data sets hold MFCC features instead of images and
carry their raw waveforms in `audio` so that training can augment them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

DATASETS_ENV = "UNAS_DATASETS_DIR"


class DatasetError(ValueError):
    """A data set could not be found, read or validated; the message says what was expected."""


def default_data_dir() -> Path:
    """The folder holding one sub-folder per data set (`mnist/`, `fashion-mnist/`, ...).

    `$UNAS_DATASETS_DIR` if set, else `<repo>/../shared/datasets`.
    """
    env = os.environ.get(DATASETS_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]  # datasets -> train -> search_engine -> repo
    return (repo / ".." / "shared" / "datasets").resolve()


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


@dataclass(frozen=True)
class MfccConfig:
    """Front end of the keyword-spotting data sets (all numbers exact, see docs/datasets.md)."""

    sample_rate: int = 16000
    clip_samples: int = 16000  # 1 s clips: shorter ones are zero-padded, longer ones trimmed
    window_samples: int = 480  # 30 ms
    stride_samples: int = 160  # 10 ms
    fft_length: int = 512
    num_mel_bins: int = 40
    lower_hz: float = 20.0
    upper_hz: float = 4000.0
    num_mfcc: int = 10
    log_offset: float = 1e-6

    @property
    def num_frames(self) -> int:
        return 1 + (self.clip_samples - self.window_samples) // self.stride_samples

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        return (self.num_frames, self.num_mfcc, 1)


@dataclass(frozen=True, eq=False)
class AudioData:
    """Raw audio behind a speech data set's training features, for augmentation.

    `train_waveforms`: int16 (N_train, clip_samples), row i is the clip behind `x_train[i]`
    (int16 halves the memory; divide by 32768 for [-1, 1]). `train_silence`: bool (N_train,),
    True for `_silence_` rows (their foreground is muted and noise is mixed in at a random
    volume). `background_noise`: float32 noise recordings in [-1, 1] (may be empty).
    """

    train_waveforms: np.ndarray
    train_silence: np.ndarray
    background_noise: tuple[np.ndarray, ...]
    mfcc: MfccConfig


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data set: three splits as numpy arrays plus what a model builder needs.

    x arrays: float32 (N, H, W, C); images in [0, 1], speech: MFCC features. y arrays: int64.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    binary: bool = False
    origin: str = ""
    audio: AudioData | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def feature_kind(self) -> str:
        return "mfcc" if self.audio is not None else "image"

    def describe(self) -> str:
        kind = " binary" if self.binary else ""
        return (
            f"{self.name}{kind}: {len(self.y_train)} train / {len(self.y_val)} val / "
            f"{len(self.y_test)} test, input {self.input_shape}, {self.num_classes} classes"
        )

    def subset(
        self, train_idx: np.ndarray, val_idx: np.ndarray, test_idx: np.ndarray
    ) -> Dataset:
        """The same data set restricted to the given row indices of each split."""
        audio = self.audio
        if audio is not None:
            audio = replace(
                audio,
                train_waveforms=audio.train_waveforms[train_idx],
                train_silence=audio.train_silence[train_idx],
            )
        return replace(
            self,
            x_train=self.x_train[train_idx],
            y_train=self.y_train[train_idx],
            x_val=self.x_val[val_idx],
            y_val=self.y_val[val_idx],
            x_test=self.x_test[test_idx],
            y_test=self.y_test[test_idx],
            audio=audio,
        )


@dataclass(frozen=True)
class DatasetInfo:
    """What the web UI lists: one entry per source.

    kind: "builtin" (no files), "folder" (files under the data folder) or "upload" (a file the
    user supplies with `path=`). `available`: loadable now (folder present, or always for
    builtin/upload). `location`: the folder searched, for folder sources.
    """

    name: str
    description: str
    kind: str
    available: bool
    location: str | None
    input_shape: tuple[int, int, int] | None
    class_names: tuple[str, ...]
    options: tuple[str, ...] = ()
    #: what files a folder source needs in ``location`` (the install hint of the UI)
    files: str = ""

    @property
    def install_hint(self) -> str:
        """How to install a folder source that is missing ("" when there is nothing to do)."""
        if self.available or self.kind != "folder" or not self.location:
            return ""
        return f"put {self.files} in {self.location}/"

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) or None


# ----------------------------------------------------------------------------------------------
# helpers shared by the sources


def as_labels(y: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DatasetError(
            f"{what}: labels must lie in 0..{num_classes - 1}, found {y.min()}..{y.max()}"
        )
    return y


def stratified_split(
    y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): a seeded split holding out `fraction` of the rows, stratified
    by label where every class has at least two rows (else a plain seeded split). Both index
    arrays are sorted, so the kept rows stay in file order."""
    n = len(y)
    n_out = int(round(n * fraction))
    if n_out <= 0 or n_out >= n:
        raise DatasetError(f"cannot hold out {fraction:.0%} of {n} samples")
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    counts = np.bincount(y)
    present = int((counts > 0).sum())
    can_stratify = counts[counts > 0].min() >= 2 and min(n_out, n - n_out) >= present
    stratify = y if can_stratify else None
    keep, out = train_test_split(idx, test_size=n_out, random_state=seed, stratify=stratify)
    return np.sort(keep), np.sort(out)


def subsample_indices(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subset of size min(n, limit) (all rows if None)."""
    if limit is None or limit >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False))


def check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DatasetError(f"limit must be a positive integer or None, got {limit!r}")


def apply_limit(ds: Dataset, limit: int | None, seed: int) -> Dataset:
    """Subsample every split to at most `limit` rows (seeded, deterministic)."""
    check_limit(limit)
    if limit is None:
        return ds
    return ds.subset(
        subsample_indices(len(ds.y_train), limit, seed),
        subsample_indices(len(ds.y_val), limit, seed + 1),
        subsample_indices(len(ds.y_test), limit, seed + 2),
    )


def _group_name(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 6:
        return "/".join(names)
    return "/".join(names[:3]) + f"/... ({len(names)} classes)"


def binary_grouping(
    class_names: Sequence[str],
    groups: str | Sequence[str | int] | None,
    named: dict[str, tuple[str, tuple[str, ...], str]] | None = None,
) -> tuple[np.ndarray, tuple[str, str]]:
    """(mapping, names): mapping[k] is the binary label (0 or 1) of original class k.

    groups None: the first floor(K/2) classes are group 0, the rest group 1. A string names a
    known grouping of the source (e.g. "vehicles-animals" for CIFAR-10). A sequence lists the
    classes (names or indices) of group 0.
    """
    k = len(class_names)
    if k < 2:
        raise DatasetError("binary grouping needs at least two classes")
    if groups is None:
        first = list(range(k // 2))
        names = (_group_name(class_names[: k // 2]), _group_name(class_names[k // 2 :]))
    elif isinstance(groups, str):
        named = named or {}
        if groups not in named:
            known = ", ".join(sorted(named)) or "none"
            raise DatasetError(
                f"unknown binary grouping {groups!r}; known for this source: {known}"
            )
        name0, members, name1 = named[groups]
        first = [class_names.index(m) for m in members]
        names = (name0, name1)
    else:
        first = []
        for g in groups:
            if isinstance(g, str):
                if g not in class_names:
                    raise DatasetError(f"binary_groups: unknown class {g!r}")
                first.append(list(class_names).index(g))
            elif isinstance(g, (int, np.integer)) and 0 <= int(g) < k:
                first.append(int(g))
            else:
                raise DatasetError(f"binary_groups: class index {g!r} is not in 0..{k - 1}")
        rest = [i for i in range(k) if i not in first]
        names = (
            _group_name([class_names[i] for i in first]),
            _group_name([class_names[i] for i in rest]),
        )
    if not first or len(set(first)) == k:
        raise DatasetError("binary grouping must leave at least one class in each group")
    mapping = np.ones(k, dtype=np.int64)
    mapping[first] = 0
    return mapping, names


def make_binary(ds: Dataset, mapping: np.ndarray, names: tuple[str, str]) -> Dataset:
    return replace(
        ds,
        y_train=mapping[ds.y_train],
        y_val=mapping[ds.y_val],
        y_test=mapping[ds.y_test],
        class_names=names,
        binary=True,
    )
