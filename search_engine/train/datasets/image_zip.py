"""A user's image data set as a zip of class folders: `validate_image_zip` and loading.

Layout: `<class>/<image>` for every image, optionally all under one common top folder
(`mydata/<class>/<image>`, as "compress folder" tools make). Class names are the folder names,
sorted. Images: PNG, JPEG, BMP or GIF (first frame), recognised by their magic bytes.

Safety (each a `DatasetError`): absolute paths, `..` components, symlinks, too many entries,
too many bytes by the archive's declared sizes and again by the bytes actually read (so a forged
header cannot smuggle a zip bomb), images with an absurd pixel count, a file with an image
suffix that is not an image, images not directly in a class folder, fewer than 2 classes, a
class folder without images. Files without an image suffix (README.txt, .DS_Store, __MACOSX/
metadata, ...) are skipped and listed in the summary.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np

from .base import Dataset, DatasetError, check_limit, stratified_split, subsample_indices
from .images import IMAGE_SUFFIXES, check_image_bytes, decode_images

DEFAULT_MAX_FILES = 100_000
DEFAULT_MAX_TOTAL_BYTES = 1024 * 1024 * 1024
DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_PIXELS = 4096 * 4096
MAX_SIDE = 512
_CHUNK = 1 << 16
_SKIPPED_LISTED = 20


@dataclass(frozen=True)
class ZipLimits:
    max_files: int = DEFAULT_MAX_FILES
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class ImageZipSummary:
    class_names: tuple[str, ...]
    counts: tuple[int, ...]  # images per class, in class_names order
    num_images: int
    skipped: tuple[str, ...]  # the first few skipped (non-image) entries
    num_skipped: int
    uncompressed_bytes: int  # bytes of the images actually read
    root: str  # the common top folder that was stripped ("" if none)


def _check_name(info: zipfile.ZipInfo) -> PurePosixPath:
    raw = info.filename
    name = raw.replace("\\", "/")
    if any(ord(ch) < 32 for ch in name):
        raise DatasetError(f"zip entry {raw!r}: control characters in the name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise DatasetError(f"zip entry {raw!r}: absolute paths are not allowed")
    path = PurePosixPath(name)
    if ".." in path.parts:
        raise DatasetError(f"zip entry {raw!r}: '..' path components are not allowed")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise DatasetError(f"zip entry {raw!r}: symbolic links are not allowed")
    return path


def _skippable(path: PurePosixPath) -> bool:
    return path.parts[0] == "__MACOSX" or any(p.startswith(".") for p in path.parts)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limits: ZipLimits
) -> bytes:
    """The entry's bytes, counting what is actually decompressed against both limits."""
    cap = min(info.file_size, limits.max_file_bytes)
    chunks: list[bytes] = []
    got = 0
    try:
        with zf.open(info) as fh:
            while True:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if got > cap or got > budget:
                    raise DatasetError(
                        f"zip entry {info.filename!r}: decompresses to more than its declared "
                        f"size or the size limits (zip bomb?)"
                    )
                chunks.append(chunk)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError) as exc:
        raise DatasetError(f"zip entry {info.filename!r}: corrupt or unreadable ({exc})") from exc
    return b"".join(chunks)


def _scan(
    zf: zipfile.ZipFile, limits: ZipLimits, read: bool, keep: bool = True
) -> tuple[ImageZipSummary, list[zipfile.ZipInfo], np.ndarray, list[bytes]]:
    """Check the archive; with ``read``, every image's bytes are read and its header checked,
    one image at a time, and kept (returned in the list) only with ``keep``."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise DatasetError(f"the zip holds {len(infos)} entries, more than the limit "
                           f"{limits.max_files}")
    declared = sum(i.file_size for i in infos)
    if declared > limits.max_total_bytes:
        raise DatasetError(
            f"the zip declares {declared} bytes uncompressed, more than the limit "
            f"{limits.max_total_bytes} (zip bomb?)"
        )
    images: list[tuple[PurePosixPath, zipfile.ZipInfo]] = []
    folders: list[PurePosixPath] = []
    skipped: list[str] = []
    for info in infos:
        path = _check_name(info)
        if info.is_dir():
            if not _skippable(path):
                folders.append(path)
            continue
        if info.file_size > limits.max_file_bytes:
            raise DatasetError(
                f"zip entry {info.filename!r}: {info.file_size} bytes, more than the per-file "
                f"limit {limits.max_file_bytes}"
            )
        if _skippable(path) or path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(info.filename)
            continue
        images.append((path, info))
    if not images:
        raise DatasetError(
            "the zip holds no images (expected <class>/<image>.png|jpg|jpeg|bmp|gif)"
        )
    root = ""
    firsts = {p.parts[0] for p, _ in images}
    if len(firsts) == 1 and all(len(p.parts) == 3 for p, _ in images):
        root = next(iter(firsts))
    depth = 3 if root else 2
    for p, info in images:
        if len(p.parts) != depth:
            raise DatasetError(
                f"zip entry {info.filename!r}: images must sit directly in one folder per "
                f"class (<class>/<image>{', under ' + root + '/' if root else ''})"
            )
    class_of = [p.parts[depth - 2] for p, _ in images]
    classes = sorted(set(class_of))
    prefix = (root,) if root else ()
    for f in folders:  # class folders that hold no images at all
        if len(f.parts) == len(prefix) + 1 and f.parts[: len(prefix)] == prefix:
            if f.parts[-1] not in classes:
                raise DatasetError(f"class folder {f.parts[-1]!r} holds no images")
    if len(classes) < 2:
        raise DatasetError(
            f"need at least 2 class folders with images, found {len(classes)}: "
            f"{', '.join(classes)}"
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c in class_of], dtype=np.int64)
    blobs: list[bytes] = []
    used = 0
    if read:
        for _, info in images:
            data = _read_member(zf, info, limits.max_total_bytes - used, limits)
            used += len(data)
            check_image_bytes(data, f"zip entry {info.filename!r}", limits.max_pixels)
            if keep:
                blobs.append(data)
    summary = ImageZipSummary(
        class_names=tuple(classes),
        counts=tuple(int(c) for c in np.bincount(labels, minlength=len(classes))),
        num_images=len(images),
        skipped=tuple(skipped[:_SKIPPED_LISTED]),
        num_skipped=len(skipped),
        uncompressed_bytes=used,
        root=root,
    )
    return summary, [info for _, info in images], labels, blobs


def _open(source: str | Path | IO[bytes]) -> zipfile.ZipFile:
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise DatasetError(f"image zip {source} not found")
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"not a readable zip archive ({exc})") from exc


def validate_image_zip(
    path_or_file: str | Path | IO[bytes],
    *,
    max_files: int = DEFAULT_MAX_FILES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> ImageZipSummary:
    """Check a class-folder image zip (structure, limits, every image's header) without
    decoding any image; raise `DatasetError` on the first problem. The images are read one at
    a time and not kept: memory does not grow with the archive
    (``decode_check.check_decodes`` then decodes them, in a child process)."""
    limits = ZipLimits(max_files, max_total_bytes, max_file_bytes, max_pixels)
    with _open(path_or_file) as zf:
        summary, _, _, _ = _scan(zf, limits, read=True, keep=False)
    return summary


def image_zip_declared_bytes(path_or_file: str | Path | IO[bytes]) -> int:
    """What the zip's entries take uncompressed, by the sizes its directory declares (nothing
    is decompressed), so that an upload too big once unpacked is refused before it is read.
    Reading checks them later: an entry that decompresses to more is refused (zip bomb)."""
    with _open(path_or_file) as zf:
        return sum(info.file_size for info in zf.infolist())


def _check_options(image_size: object, color_mode: str) -> tuple[int, int]:
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or not all(isinstance(v, int) and 1 <= v <= MAX_SIDE for v in image_size)
    ):
        raise DatasetError(f"image_size must be (height, width) in 1..{MAX_SIDE}, "
                           f"got {image_size!r}")
    if color_mode not in ("grayscale", "rgb"):
        raise DatasetError(f"color_mode must be 'grayscale' or 'rgb', got {color_mode!r}")
    return int(image_size[0]), int(image_size[1])


def load_image_zip(
    path: str | Path | IO[bytes] | None,
    *,
    seed: int,
    limit: int | None,
    image_size: tuple[int, int] = (32, 32),
    color_mode: str = "grayscale",
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_files: int = DEFAULT_MAX_FILES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Dataset:
    check_limit(limit)
    if path is None:
        raise DatasetError("image-folder: pass path=<file.zip> (a zip of class folders)")
    h, w = _check_options(image_size, color_mode)
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1
            and validation_fraction + test_fraction < 1):
        raise DatasetError("validation_fraction and test_fraction must be in (0, 1), sum < 1")
    limits = ZipLimits(max_files, max_total_bytes, max_file_bytes, max_pixels)
    with _open(path) as zf:
        summary, infos, labels, blobs = _scan(zf, limits, read=True)
    rest, test = stratified_split(labels, test_fraction, seed)
    tr, va = stratified_split(labels[rest], validation_fraction / (1 - test_fraction), seed)
    train, val = rest[tr], rest[va]
    splits = []
    for offset, idx in enumerate((train, val, test)):
        idx = idx[subsample_indices(len(idx), limit, seed + offset)]
        x = decode_images([blobs[i] for i in idx], [infos[i].filename for i in idx], (h, w),
                          color_mode)
        splits.append((x, labels[idx]))
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = splits
    return Dataset(
        name="image-folder",
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=x_te,
        y_test=y_te,
        input_shape=(h, w, 1 if color_mode == "grayscale" else 3),
        class_names=summary.class_names,
        origin=str(path) if isinstance(path, (str, Path)) else "uploaded zip",
    )
