"""Image bytes: format sniffing and size parsing without decoding (so hostile files are refused
cheaply), and decoding + resizing to float32 in [0, 1] (TensorFlow, imported lazily; Pillow is
not a dependency of this project).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

from .base import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, sums to 1
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def sniff_format(data: bytes) -> str | None:
    """"png", "jpeg", "bmp", "gif" or None, from the file's magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _JPEG_SOF:
            if i + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG/JPEG/BMP/GIF file, or None if unreadable."""
    fmt = sniff_format(data)
    try:
        if fmt == "png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if fmt == "gif":
            return struct.unpack("<HH", data[6:10])
        if fmt == "bmp":
            (dib,) = struct.unpack("<I", data[14:18])
            if dib == 12:
                return struct.unpack("<HH", data[18:22])
            w, h = struct.unpack("<ii", data[18:26])
            return abs(w), abs(h)
        if fmt == "jpeg":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def check_image_bytes(data: bytes, what: str, max_pixels: int) -> str:
    """The format of an image file's bytes; `DatasetError` if it is not a sane image."""
    fmt = sniff_format(data)
    if fmt is None:
        raise DatasetError(f"{what}: not a PNG, JPEG, BMP or GIF image")
    size = image_size(data)
    if size is None:
        raise DatasetError(f"{what}: cannot read the {fmt.upper()} header (corrupt image?)")
    w, h = size
    if w < 1 or h < 1 or w * h > max_pixels:
        raise DatasetError(f"{what}: image of {w}x{h} pixels (allowed: 1..{max_pixels} pixels)")
    return fmt


def decode_images(
    blobs: Sequence[bytes],
    names: Sequence[str],
    image_size: tuple[int, int],
    color_mode: str,
) -> np.ndarray:
    """Decode and resize (bilinear, antialiased) to float32 (N, H, W, C) in [0, 1]; RGB to
    grayscale by BT.601 luma weights, alpha dropped."""
    import tensorflow as tf

    h, w = image_size
    channels = 1 if color_mode == "grayscale" else 3
    out = np.empty((len(blobs), h, w, channels), dtype=np.float32)
    for i, (blob, name) in enumerate(zip(blobs, names, strict=True)):
        try:
            img = tf.io.decode_image(blob, channels=0, expand_animations=False)
        except Exception as exc:  # noqa: BLE001 - TF raises several types for bad data
            raise DatasetError(f"{name}: cannot decode the image ({exc})") from exc
        img = tf.cast(img, tf.float32)
        c = img.shape[-1]
        if c in (2, 4):  # drop alpha
            img = img[..., : c - 1]
            c -= 1
        px = tf.image.resize(img, (h, w), method="bilinear", antialias=True).numpy()
        if channels == 1 and c == 3:
            px = px @ _LUMA[:, None]
        elif channels == 3 and c == 1:
            px = np.repeat(px, 3, axis=-1)
        out[i] = np.clip(px / 255.0, 0.0, 1.0)
    return out
