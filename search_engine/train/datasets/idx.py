"""IDX file parsing (the MNIST / Fashion-MNIST format), gzipped or not, with numpy only.

Layout: two zero bytes, a type code, the number of dimensions d, then d big-endian uint32
sizes, then the data in C order, big-endian. Every check failure raises `DatasetError`.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from .base import DatasetError

IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_IDX_BYTES = 1 << 30  # refuse to decompress more than 1 GiB from one file


def parse_idx(data: bytes, what: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file into an array (native byte order)."""
    if len(data) < 4:
        raise DatasetError(f"{what}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES:
        raise DatasetError(
            f"{what}: bad IDX magic number {data[:4].hex()} "
            "(expected 0000 then a type code 08/09/0b/0c/0d/0e and a dimension count)"
        )
    dtype = IDX_TYPES[data[2]]
    ndim = data[3]
    if ndim < 1:
        raise DatasetError(f"{what}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{what}: truncated IDX header ({len(data)} of {header} bytes)")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise DatasetError(
            f"{what}: truncated: header declares shape {shape} ({expected} bytes of data), "
            f"file holds {found}"
        )
    if found > expected:
        raise DatasetError(
            f"{what}: {found - expected} unexpected bytes after the data of shape {shape}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx_bytes(path: Path) -> bytes:
    """The decompressed bytes of an IDX file (`.gz` decompressed on the fly)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(MAX_IDX_BYTES + 1)
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    if len(data) > MAX_IDX_BYTES:
        raise DatasetError(f"{path}: more than {MAX_IDX_BYTES} bytes after decompression")
    return data


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """`folder/stem` or `folder/stem.gz`, whichever exists (uncompressed first)."""
    for cand in (folder / stem, folder / f"{stem}.gz"):
        if cand.is_file():
            return cand
    return None


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    return parse_idx(read_idx_bytes(path), str(path))
