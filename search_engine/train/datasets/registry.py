"""The data set registry: `load_dataset(name, ...)` and `available_datasets()` over the sources
(digits, mnist, fashion-mnist, cifar10, speech, npz, image-folder)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import cifar, digits, image_zip, mnist, npz, speech
from .base import (
    Dataset,
    DatasetError,
    DatasetInfo,
    MfccConfig,
    binary_grouping,
    check_limit,
    make_binary,
    resolve_data_dir,
)


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    kind: str  # "builtin", "folder" or "upload"
    loader: Callable[..., Dataset]
    folders: tuple[str, ...] = ()  # candidate sub-folders of the data folder
    input_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] = ()
    binary_groupings: dict[str, tuple[str, tuple[str, ...], str]] = field(default_factory=dict)
    present: Callable[[Path], bool] | None = None  # are the files there (folder sources)?
    files: str = ""  # what a folder source needs, for the install hint

    @property
    def options(self) -> tuple[str, ...]:
        params = inspect.signature(self.loader).parameters
        opts = [p for p in params if p not in ("folder", "path", "seed", "limit")]
        return ("path", *opts) if self.kind != "builtin" else tuple(opts)


_IDX_HINT = ("the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
             "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (gzipped or not)")

SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "digits",
            "scikit-learn's 8x8 handwritten digits (1797 images, built in)",
            "builtin",
            digits.load_digits_dataset,
            input_shape=(8, 8, 1),
            class_names=digits.DIGITS_CLASSES,
        ),
        Source(
            "mnist",
            "MNIST handwritten digits, 28x28 grayscale (IDX files)",
            "folder",
            mnist.load_mnist,
            folders=("mnist",),
            input_shape=(28, 28, 1),
            class_names=mnist.MNIST_CLASSES,
            present=mnist.files_present,
            files=_IDX_HINT,
        ),
        Source(
            "fashion-mnist",
            "Fashion-MNIST clothing images, 28x28 grayscale (IDX files)",
            "folder",
            mnist.load_fashion_mnist,
            folders=("fashion-mnist", "fashion_mnist"),
            input_shape=(28, 28, 1),
            class_names=mnist.FASHION_CLASSES,
            present=mnist.files_present,
            files=_IDX_HINT,
        ),
        Source(
            "cifar10",
            "CIFAR-10 natural images, 32x32 RGB (python pickle batches)",
            "folder",
            cifar.load_cifar10,
            folders=("cifar10", "cifar-10", "cifar-10-batches-py"),
            input_shape=(32, 32, 3),
            class_names=cifar.CIFAR10_CLASSES,
            binary_groupings=cifar.BINARY_GROUPINGS,
            present=cifar.files_present,
            files="the CIFAR-10 python batches (data_batch_1 ... data_batch_5, test_batch; the "
            "cifar-10-batches-py folder of cifar-10-python.tar.gz)",
        ),
        Source(
            "speech",
            "Keyword spotting: 1 s 16 kHz WAV clips per word, as MFCCs (Speech Commands layout)",
            "folder",
            speech.load_speech,
            folders=("speech", "speech_commands", "speech-commands"),
            input_shape=MfccConfig().feature_shape,
            present=lambda folder: bool(speech.word_folders(folder)),
            files="one folder of 1 s 16 kHz WAV clips per word (the Speech Commands layout; "
            "_background_noise_ optional)",
        ),
        Source(
            "npz",
            "Your own arrays: a .npz with x_train, y_train, x_test, y_test",
            "upload",
            npz.load_npz,
        ),
        Source(
            "image-folder",
            "Your own images: a zip with one folder of PNG/JPEG/BMP/GIF images per class",
            "upload",
            image_zip.load_image_zip,
        ),
    )
}


def normalise_name(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def get_source(name: str) -> Source:
    key = normalise_name(name)
    if key not in SOURCES:
        raise DatasetError(
            f"unknown data set {name!r}; known: {', '.join(SOURCES)}"
        )
    return SOURCES[key]


def _folder(source: Source, data_dir: Path) -> Path:
    for cand in source.folders:
        if (data_dir / cand).is_dir():
            return data_dir / cand
    return data_dir / source.folders[0]


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    binary: bool = False,
    seed: int = 0,
    limit: int | None = None,
    binary_groups: str | Sequence[str | int] | None = None,
    **options: Any,
) -> Dataset:
    """Load a data set by name.

    data_dir: the folder holding one sub-folder per data set (default: `$UNAS_DATASETS_DIR`,
    else `<repo>/../shared/datasets`); `path=` names the exact folder (folder sources) or the
    uploaded file (npz, image-folder). binary: two classes (`binary_groups`: None for first
    half vs the rest, a known grouping name, or the classes of group 0). seed: fixes every
    split and subsample. limit: at most this many rows per split (seeded subsample). Other
    options go to the source (see `available_datasets()[i].options`).
    """
    source = get_source(name)
    check_limit(limit)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DatasetError(f"seed must be an integer, got {seed!r}")
    allowed = source.options
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DatasetError(
            f"{source.name}: unknown option(s) {', '.join(unknown)}; accepted: "
            f"{', '.join(allowed) or 'none'}"
        )
    if binary_groups is not None and not binary:
        raise DatasetError("binary_groups only applies with binary=True")
    path = options.pop("path", None)
    if source.kind == "builtin":
        ds = source.loader(seed=seed, limit=limit, **options)
    elif source.kind == "folder":
        folder = Path(path) if path is not None else _folder(source, resolve_data_dir(data_dir))
        ds = source.loader(folder, seed=seed, limit=limit, **options)
    else:
        ds = source.loader(path, seed=seed, limit=limit, **options)
    if binary:
        mapping, names = binary_grouping(ds.class_names, binary_groups, source.binary_groupings)
        ds = make_binary(ds, mapping, names)
    return ds


def available_datasets(data_dir: str | Path | None = None) -> list[DatasetInfo]:
    """One entry per source, saying whether it can be loaded from `data_dir` now."""
    root = resolve_data_dir(data_dir)
    infos = []
    for s in SOURCES.values():
        location = None
        available = True
        class_names = s.class_names
        if s.kind == "folder":
            folder = _folder(s, root)
            location = str(folder)
            available = folder.is_dir() and (s.present is None or s.present(folder))
            if s.name == "speech" and available:
                class_names = tuple(speech.word_folders(folder))
        infos.append(
            DatasetInfo(
                name=s.name,
                description=s.description,
                kind=s.kind,
                available=available,
                location=location,
                input_shape=s.input_shape,
                class_names=class_names,
                options=s.options,
                files=s.files,
            )
        )
    return infos
