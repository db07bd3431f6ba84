"""A user's `.npz` data set: validation (`validate_npz`, for the web upload) and loading.

Arrays: `x_train, y_train, x_test, y_test` required, `x_val, y_val` optional (else a seeded,
stratified 10% of the training set is held out), `class_names` optional (1-D strings). Nothing
else may be in the archive. Pickles are refused (allow_pickle=False) and every `.npy` header is
checked (dtype, shape, sample counts) before any array data is read; the archive's declared
uncompressed size is capped, and so is what is actually read.

x: (N, H, W) or (N, H, W, C), C in 1..4, H and W in 1..512, real numbers, finite. Scaling is
decided once for all splits: uint8 (and other integers within 0..255) are divided by 255;
floats already within [0, 1] are kept; floats within [0, 255] (max above 1) are divided by 255;
anything else is refused. y: integer-valued, 1-D (or (N, 1)), labels 0..K-1 with K in 2..1000
(K = len(class_names) when given, else the largest label + 1).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from .base import Dataset, DatasetError, apply_limit, check_limit, stratified_split

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_SAMPLES = 500_000
MAX_SIDE = 512
MAX_CLASSES = 1000
MAX_CLASS_NAME = 100
REQUIRED = ("x_train", "y_train", "x_test", "y_test")
OPTIONAL = ("x_val", "y_val", "class_names")
VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class NpzSummary:
    """What a valid `.npz` holds (sizes after the validation split rule is applied)."""

    num_train: int
    num_val: int
    num_test: int
    input_shape: tuple[int, int, int]
    num_classes: int
    class_names: tuple[str, ...]
    source_dtype: str
    scale: float  # x values are divided by this (1.0 or 255.0)
    has_validation: bool
    uncompressed_bytes: int


def _err(field: str, msg: str) -> DatasetError:
    return DatasetError(f"{field}: {msg}")


def _read_header(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, field: str
) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here means a corrupt member
        raise _err(field, f"not a readable .npy array ({exc})") from exc
    if dtype.hasobject:
        raise _err(field, "object arrays (pickles) are not allowed")
    return tuple(int(s) for s in shape), dtype


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, field: str) -> np.ndarray:
    try:
        with zf.open(info) as fh:
            arr = np.lib.format.read_array(fh, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - truncated/forged data, bad CRC, ...
        raise _err(field, f"cannot read the array data ({exc})") from exc
    return arr


def _check_x_header(field: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise _err(field, f"must hold real numbers, found dtype {dtype}")
    if len(shape) not in (3, 4):
        raise _err(field, f"must have shape (N, H, W) or (N, H, W, C), found {shape}")
    if shape[0] < 1:
        raise _err(field, "holds no samples")
    h, w = shape[1], shape[2]
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise _err(field, f"height and width must be in 1..{MAX_SIDE}, found {h}x{w}")
    if len(shape) == 4 and not 1 <= shape[3] <= 4:
        raise _err(field, f"channel count must be in 1..4, found {shape[3]}")


def _check_y_header(field: str, shape: tuple[int, ...], dtype: np.dtype, n: int) -> None:
    if dtype.kind not in "biuf":
        raise _err(field, f"must hold integer labels, found dtype {dtype}")
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise _err(field, f"must be 1-D (N,) or (N, 1), found shape {shape}")
    if shape[0] != n:
        x_field = "x_" + field[2:]
        raise _err(field, f"has {shape[0]} labels but {x_field} has {n} samples")


def _labels(field: str, y: np.ndarray) -> np.ndarray:
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise _err(field, "labels must be whole numbers")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise _err(field, f"labels must be >= 0, found {y.min()}")
    return y


def _class_names(arr: np.ndarray) -> tuple[str, ...]:
    if arr.dtype.kind not in "US" or arr.ndim != 1:
        raise _err("class_names", f"must be a 1-D array of strings, found {arr.dtype} {arr.shape}")
    names = tuple(a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in arr)
    if any(not n.strip() or len(n) > MAX_CLASS_NAME for n in names):
        raise _err("class_names", f"names must be non-empty and at most {MAX_CLASS_NAME} chars")
    if len(set(names)) != len(names):
        raise _err("class_names", "names must be unique")
    return names


def _validate_headers(zf: zipfile.ZipFile, max_bytes: int, max_samples: int
                      ) -> tuple[dict[str, zipfile.ZipInfo], int]:
    """The archive's entries and every header checked, no array data read; (members, the
    bytes the arrays' headers declare: shape x item size, summed)."""
    members: dict[str, zipfile.ZipInfo] = {}
    allowed = REQUIRED + OPTIONAL
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key not in allowed:
            raise DatasetError(
                f"unexpected entry {info.filename!r} in the .npz (allowed arrays: "
                f"{', '.join(allowed)})"
            )
        if key in members:
            raise _err(key, "appears twice in the archive")
        members[key] = info
    missing = [k for k in REQUIRED if k not in members]
    if missing:
        raise DatasetError(
            f"missing array(s) {', '.join(missing)} (a .npz needs x_train, y_train, x_test, "
            "y_test; x_val, y_val and class_names are optional)"
        )
    if ("x_val" in members) != ("y_val" in members):
        raise DatasetError("x_val and y_val must be given together")
    declared = sum(i.file_size for i in members.values())
    if declared > max_bytes:
        raise DatasetError(
            f"the arrays take {declared} bytes uncompressed, more than the limit {max_bytes}"
        )
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in members]
    headers = {k: _read_header(zf, info, k) for k, info in members.items()}
    array_bytes = sum(_nbytes(shape, dtype) for shape, dtype in headers.values())
    if array_bytes > max_bytes:  # a header may declare more than the zip entry's size
        raise DatasetError(
            f"the arrays declare {array_bytes} bytes uncompressed, more than the limit "
            f"{max_bytes}")
    for s in splits:
        _check_x_header(f"x_{s}", *headers[f"x_{s}"])
        _check_y_header(f"y_{s}", *headers[f"y_{s}"], headers[f"x_{s}"][0][0])
    ref = headers["x_train"][0][1:]
    for s in splits[1:]:
        if headers[f"x_{s}"][0][1:] != ref:
            got = headers[f"x_{s}"][0][1:]
            raise _err(f"x_{s}", f"sample shape {got} differs from x_train's {ref}")
    total = sum(headers[f"x_{s}"][0][0] for s in splits)
    if total > max_samples:
        raise DatasetError(f"{total} samples in all, more than the limit {max_samples}")
    return members, array_bytes


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize  # exact: no int64 overflow


def _validate(
    source: str | Path | IO[bytes], max_bytes: int, max_samples: int
) -> tuple[NpzSummary, dict[str, np.ndarray]]:
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"not a readable .npz archive ({exc})") from exc
    with zf:
        members, declared = _validate_headers(zf, max_bytes, max_samples)
        splits = [s for s in ("train", "val", "test") if f"x_{s}" in members]
        ref = _read_header(zf, members["x_train"], "x_train")[0][1:]
        arrays = {k: _read_array(zf, info, k) for k, info in members.items()}
        read = sum(a.nbytes for a in arrays.values())
        if read > max_bytes:  # pragma: no cover - headers were checked against declared sizes
            raise DatasetError(f"the arrays take {read} bytes, more than the limit {max_bytes}")

    lo, hi = np.inf, -np.inf
    kind = "i" if arrays["x_train"].dtype.kind in "iu" else arrays["x_train"].dtype.kind
    for s in splits:
        x = arrays[f"x_{s}"]
        if ("i" if x.dtype.kind in "iu" else x.dtype.kind) != kind:
            ref_dtype = arrays["x_train"].dtype
            raise _err(f"x_{s}", f"dtype {x.dtype} does not match x_train's {ref_dtype}")
        if kind == "f" and not np.all(np.isfinite(x)):
            raise _err(f"x_{s}", "contains NaN or infinite values")
        lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
    if lo < 0 or hi > 255:
        raise DatasetError(
            f"x values must lie in [0, 1] or [0, 255] (uint8 style); found {lo:g}..{hi:g}"
        )
    if kind == "b":
        scale = 1.0
    elif kind == "f":
        scale = 255.0 if hi > 1.0 else 1.0
    else:
        scale = 255.0

    labels = {s: _labels(f"y_{s}", arrays[f"y_{s}"]) for s in splits}
    top = max(int(y.max()) for y in labels.values())
    if "class_names" in arrays:
        names = _class_names(arrays["class_names"])
        k = len(names)
        for s in splits:
            if labels[s].max() >= k:
                raise _err(
                    f"y_{s}",
                    f"label {labels[s].max()} is out of range for {k} class_names (0..{k - 1})",
                )
    else:
        k = top + 1
        names = tuple(str(i) for i in range(k))
    if not 2 <= k <= MAX_CLASSES:
        raise DatasetError(f"the data must have 2..{MAX_CLASSES} classes, found {k}")

    shape = ref if len(ref) == 3 else (*ref, 1)
    n_val = len(labels["val"]) if "val" in labels else int(round(len(labels["train"]) * 0.1))
    n_train = len(labels["train"]) - (0 if "val" in labels else n_val)
    if n_train < 1 or n_val < 1:
        raise _err("x_train", "needs at least 2 samples when no x_val is given")
    summary = NpzSummary(
        num_train=n_train,
        num_val=n_val,
        num_test=len(labels["test"]),
        input_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
        num_classes=k,
        class_names=names,
        source_dtype=str(arrays["x_train"].dtype),
        scale=scale,
        has_validation="val" in labels,
        uncompressed_bytes=declared,
    )
    data = {f"y_{s}": labels[s] for s in splits}
    data.update({f"x_{s}": arrays[f"x_{s}"] for s in splits})
    return summary, data


_STREAM_BYTES = 1 << 20
MAX_CLASS_NAMES_BYTES = 1 << 20


class _Stats:
    """What validation needs of an array, gathered chunk by chunk (never the whole array)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.lo, self.hi = np.inf, -np.inf
        self.finite = True
        self.whole = True
        self.size = 0

    def add(self, part: np.ndarray) -> None:
        if not part.size:
            return
        self.size += part.size
        if part.dtype.kind == "f":
            finite = np.isfinite(part)
            if not finite.all():
                self.finite = False
                part = part[finite]
                if not part.size:
                    return
            if self.whole and not np.all(part == np.round(part)):
                self.whole = False
        self.lo = min(self.lo, float(part.min()))
        self.hi = max(self.hi, float(part.max()))


class _Lazy:
    """A stand-in for an array in the checks below: dtype, length and the streamed stats."""

    def __init__(self, shape: tuple[int, ...], stats: _Stats) -> None:
        self.shape, self.stats, self.dtype = shape, stats, stats.dtype


def _stream_stats(zf: zipfile.ZipFile, info: zipfile.ZipInfo, field: str) -> _Lazy:
    """Read one member's data in chunks of about 1 MiB, checking its length against the header
    (a forged or truncated member is refused), and gather min/max/finiteness."""
    try:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            step = max(dtype.itemsize, _STREAM_BYTES // dtype.itemsize * dtype.itemsize)
            stats = _Stats(dtype)
            got = 0
            while got < expected:
                chunk = fh.read(min(step, expected - got))
                if not chunk or len(chunk) % dtype.itemsize:
                    raise ValueError(f"the data ends after {got + len(chunk)} of {expected} "
                                     "bytes")
                got += len(chunk)
                stats.add(np.frombuffer(chunk, dtype=dtype))
            if fh.read(1):
                raise ValueError("more data than the header declares")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated/forged data, bad CRC, ...
        raise _err(field, f"cannot read the array data ({exc})") from exc
    return _Lazy(tuple(int(v) for v in shape), stats)


def _validate_lazy(source: str | Path | IO[bytes], max_bytes: int,
                   max_samples: int) -> NpzSummary:
    """``_validate`` without holding any array: the same checks, on streamed statistics."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"not a readable .npz archive ({exc})") from exc
    with zf:
        names, array_bytes = _validate_headers(zf, max_bytes, max_samples)
        stats = {k: _stream_stats(zf, info, k) for k, info in names.items()
                 if k != "class_names"}
        class_names = None
        if "class_names" in names:
            if names["class_names"].file_size > MAX_CLASS_NAMES_BYTES:
                raise _err("class_names", f"takes more than {MAX_CLASS_NAMES_BYTES} bytes")
            class_names = _read_array(zf, names["class_names"], "class_names")
    splits = [s for s in ("train", "val", "test") if f"x_{s}" in stats]
    x_kind = stats["x_train"].dtype.kind
    kind = "i" if x_kind in "iu" else x_kind
    lo, hi = np.inf, -np.inf
    for s in splits:
        x = stats[f"x_{s}"]
        if ("i" if x.dtype.kind in "iu" else x.dtype.kind) != kind:
            raise _err(f"x_{s}", f"dtype {x.dtype} does not match x_train's "
                                 f"{stats['x_train'].dtype}")
        if kind == "f" and not x.stats.finite:
            raise _err(f"x_{s}", "contains NaN or infinite values")
        lo, hi = min(lo, x.stats.lo), max(hi, x.stats.hi)
    if lo < 0 or hi > 255:
        raise DatasetError(
            f"x values must lie in [0, 1] or [0, 255] (uint8 style); found {lo:g}..{hi:g}")
    scale = 1.0 if kind == "b" else (255.0 if kind != "f" or hi > 1.0 else 1.0)
    for s in splits:
        y = stats[f"y_{s}"].stats
        if y.dtype.kind == "f" and (not y.finite or not y.whole):
            raise _err(f"y_{s}", "labels must be whole numbers")
        if y.size and y.lo < 0:
            raise _err(f"y_{s}", f"labels must be >= 0, found {int(y.lo)}")
    tops = {s: int(stats[f"y_{s}"].stats.hi) for s in splits}
    if class_names is not None:
        label_names = _class_names(class_names)
        k = len(label_names)
        for s in splits:
            if tops[s] >= k:
                raise _err(f"y_{s}", f"label {tops[s]} is out of range for {k} class_names "
                                     f"(0..{k - 1})")
    else:
        k = max(tops.values()) + 1
        label_names = tuple(str(i) for i in range(k))
    if not 2 <= k <= MAX_CLASSES:
        raise DatasetError(f"the data must have 2..{MAX_CLASSES} classes, found {k}")
    ref = stats["x_train"].shape[1:]
    shape = ref if len(ref) == 3 else (*ref, 1)
    n = {s: stats[f"y_{s}"].shape[0] for s in splits}
    n_val = n["val"] if "val" in n else int(round(n["train"] * VALIDATION_FRACTION))
    n_train = n["train"] - (0 if "val" in n else n_val)
    if n_train < 1 or n_val < 1:
        raise _err("x_train", "needs at least 2 samples when no x_val is given")
    return NpzSummary(num_train=n_train, num_val=n_val, num_test=n["test"],
                      input_shape=(int(shape[0]), int(shape[1]), int(shape[2])),
                      num_classes=k, class_names=label_names,
                      source_dtype=str(stats["x_train"].dtype), scale=scale,
                      has_validation="val" in n,
                      uncompressed_bytes=array_bytes)


def npz_declared_bytes(
    path_or_file: str | Path | IO[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> int:
    """What the arrays of a `.npz` take once loaded, from their `.npy` headers alone (shape x
    item size, summed; no array data is read or decompressed), so that a small archive
    declaring a huge array can be refused before it is streamed. The archive's entries and
    headers are checked as `validate_npz` checks them (`DatasetError`); the data itself is
    not: `validate_npz` then reads it and refuses a member longer or shorter than its header.
    """
    try:
        zf = zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DatasetError(f"not a readable .npz archive ({exc})") from exc
    with zf:
        return _validate_headers(zf, max_bytes, max_samples)[1]


def validate_npz(
    path_or_file: str | Path | IO[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> NpzSummary:
    """Check a `.npz` upload completely, reading each array in chunks (memory stays about
    1 MiB whatever the archive declares); raise `DatasetError` naming the bad field.
    ``uncompressed_bytes`` is what the arrays take once loaded (the headers' sizes, which the
    data was checked to match): count that, not the file."""
    return _validate_lazy(path_or_file, max_bytes, max_samples)


def load_npz(
    path: str | Path | IO[bytes] | None,
    *,
    seed: int,
    limit: int | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> Dataset:
    check_limit(limit)
    if path is None:
        raise DatasetError("npz: pass path=<file.npz> (the uploaded archive)")
    if isinstance(path, (str, Path)) and not Path(path).is_file():
        raise DatasetError(f"npz: file {path} not found")
    summary, data = _validate(path, max_bytes, max_samples)
    shape = summary.input_shape

    def prep(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32)
        if summary.scale != 1.0:
            x /= np.float32(summary.scale)
        return x.reshape((len(x), *shape))

    if summary.has_validation:
        x_tr, y_tr = data["x_train"], data["y_train"]
        x_va, y_va = data["x_val"], data["y_val"]
    else:
        keep, val = stratified_split(data["y_train"], VALIDATION_FRACTION, seed)
        x_tr, y_tr = data["x_train"][keep], data["y_train"][keep]
        x_va, y_va = data["x_train"][val], data["y_train"][val]
    ds = Dataset(
        name="npz",
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=data["x_test"],
        y_test=data["y_test"],
        input_shape=shape,
        class_names=summary.class_names,
        origin=str(path) if isinstance(path, (str, Path)) else "uploaded .npz",
    )
    ds = apply_limit(ds, limit, seed)
    return Dataset(
        name="npz",
        x_train=prep(ds.x_train),
        y_train=ds.y_train,
        x_val=prep(ds.x_val),
        y_val=ds.y_val,
        x_test=prep(ds.x_test),
        y_test=ds.y_test,
        input_shape=shape,
        class_names=ds.class_names,
        origin=ds.origin,
    )
