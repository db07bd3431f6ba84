"""The image-folder zip source: a valid archive loads; hostile or malformed archives are refused
with a clear message (path traversal, absolute paths, symlinks, zip bombs, non-images, ...)."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest

from search_engine.train.datasets import DatasetError, load_dataset, validate_image_zip
from search_engine.train.datasets.images import image_size


def png(arr: np.ndarray, claimed: tuple[int, int] | None = None) -> bytes:
    """A minimal PNG encoder (8-bit gray or RGB), so the tests need no imaging library."""
    arr = np.asarray(arr, np.uint8)
    h, w = arr.shape[:2]
    color = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\x00" + arr[r].tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    cw, ch = claimed or (w, h)
    ihdr = struct.pack(">IIBBBBB", cw, ch, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def bmp(arr: np.ndarray) -> bytes:
    """A 24-bit BMP (bottom-up rows of BGR, padded to 4 bytes)."""
    h, w, _ = arr.shape
    pad = (4 - (w * 3) % 4) % 4
    rows = b"".join(arr[r, :, ::-1].astype(np.uint8).tobytes() + b"\x00" * pad
                    for r in range(h - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    return header + dib + rows


def make_zip(entries: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            if name.endswith("/"):
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "../../etc/passwd")
    buf.seek(0)
    return buf


def solid(value, shape=(10, 12)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def good_entries(root: str = "") -> dict[str, bytes]:
    entries = {}
    for i in range(10):
        entries[f"{root}cat/c{i}.png"] = png(solid(10 * i))
        entries[f"{root}dog/d{i}.bmp"] = bmp(solid(200, (7, 5, 3)))
        entries[f"{root}fox/f{i}.PNG"] = png(solid(255, (9, 9, 3)))
    entries[f"{root}README.txt"] = b"about this data"
    entries[f"{root}cat/.DS_Store"] = b"\x00\x01"
    entries["__MACOSX/._thing.png"] = b"\x00"
    return entries


def test_validate_and_load_a_good_zip():
    summary = validate_image_zip(make_zip(good_entries()))
    assert summary.class_names == ("cat", "dog", "fox") and summary.counts == (10, 10, 10)
    assert summary.num_images == 30 and summary.num_skipped == 3 and summary.root == ""
    assert "README.txt" in summary.skipped
    ds = load_dataset("image-folder", path=make_zip(good_entries()), image_size=(8, 6), seed=1)
    assert ds.input_shape == (8, 6, 1) and ds.class_names == ("cat", "dog", "fox")
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (21, 3, 6)
    assert ds.x_train.shape == (21, 8, 6, 1) and ds.x_train.dtype == np.float32
    # Solid images stay solid after resizing: dogs are RGB 200 -> gray 200/255, foxes 1.0.
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        np.testing.assert_allclose(x[y == 1], 200 / 255, atol=2 / 255)
        np.testing.assert_allclose(x[y == 2], 1.0, atol=1e-6)
        cats = x[y == 0].reshape(int((y == 0).sum()), -1)
        np.testing.assert_allclose(cats.std(axis=1), 0, atol=1e-6)
    rgb = load_dataset("image-folder", path=make_zip(good_entries()), image_size=(4, 4),
                       color_mode="rgb", limit=2)
    assert rgb.x_train.shape == (2, 4, 4, 3) and rgb.input_shape == (4, 4, 3)


def test_same_seed_same_split_and_common_root_folder():
    a = load_dataset("image-folder", path=make_zip(good_entries("mydata/")), seed=3,
                     image_size=(5, 5))
    b = load_dataset("image-folder", path=make_zip(good_entries()), seed=3, image_size=(5, 5))
    assert validate_image_zip(make_zip(good_entries("mydata/"))).root == "mydata"
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = load_dataset("image-folder", path=make_zip(good_entries()), seed=4, image_size=(5, 5))
    assert not np.array_equal(a.x_train, c.x_train)


def test_jpeg_and_gif_headers_are_read():
    import tensorflow as tf

    jpeg = tf.io.encode_jpeg(np.zeros((13, 17, 3), np.uint8)).numpy()
    assert image_size(jpeg) == (17, 13)
    assert image_size(png(solid(1, (3, 4)))) == (4, 3)
    assert image_size(bmp(solid(1, (3, 4, 3)))) == (4, 3)
    assert image_size(b"GIF89a" + struct.pack("<HH", 6, 2)) == (6, 2)
    entries = {f"a/{i}.jpg": jpeg for i in range(5)} | {f"b/{i}.png": png(solid(9))
                                                         for i in range(5)}
    ds = load_dataset("image-folder", path=make_zip(entries), image_size=(13, 17), limit=3)
    assert ds.x_train.shape[1:] == (13, 17, 1)


def bomb_zip(declared_only: bool) -> io.BytesIO:
    entries = good_entries()
    entries["cat/big.png"] = b"\x89PNG\r\n\x1a\n" + b"\x00" * 3_000_000
    buf = make_zip(entries)
    if not declared_only:
        return buf
    # Forge the declared uncompressed size of the big entry down to 1000 bytes.
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        info = zf.getinfo("cat/big.png")
    small = (1000).to_bytes(4, "little")
    raw[info.header_offset + 22 : info.header_offset + 26] = small
    pos = raw.find(b"PK\x01\x02")
    while pos != -1:
        n = int.from_bytes(raw[pos + 28 : pos + 30], "little")
        if raw[pos + 46 : pos + 46 + n] == b"cat/big.png":
            raw[pos + 24 : pos + 28] = small
        pos = raw.find(b"PK\x01\x02", pos + 1)
    return io.BytesIO(bytes(raw))


def test_zip_bomb_by_declared_size():
    with pytest.raises(DatasetError, match=r"declares \d+ bytes uncompressed, more than the "
                                           r"limit 1000000 \(zip bomb\?\)"):
        validate_image_zip(bomb_zip(False), max_total_bytes=1_000_000)
    with pytest.raises(DatasetError, match="more than the per-file limit 100000"):
        validate_image_zip(bomb_zip(False), max_file_bytes=100_000)


def test_zip_bomb_by_actual_size():
    """Declared sizes pass the limits, but the entry holds far more data than declared."""
    with pytest.raises(DatasetError, match=r"cat/big\.png.*(corrupt|more than its declared)"):
        validate_image_zip(bomb_zip(True), max_total_bytes=1_000_000)


def test_actual_bytes_count_against_the_total_budget():
    entries = {f"a/{i}.png": png(np.arange(120, dtype=np.uint8).reshape(10, 12))
               for i in range(3)}
    entries |= {f"b/{i}.png": png(solid(1)) for i in range(3)}
    total = sum(len(v) for v in entries.values())
    assert validate_image_zip(make_zip(entries)).uncompressed_bytes == total
    with pytest.raises(DatasetError, match="declares"):
        validate_image_zip(make_zip(entries), max_total_bytes=total - 1)


def test_reader_stops_at_the_declared_size(monkeypatch):
    """Even if the zip layer handed over more bytes than declared, reading stops there."""
    entries = {f"a/{i}.png": png(solid(i)) for i in range(2)}
    entries |= {f"b/{i}.png": png(solid(i)) for i in range(2)}
    buf = make_zip(entries)
    real_open = zipfile.ZipFile.open

    def open_more(self, info, *args, **kwargs):
        data = real_open(self, info, *args, **kwargs).read()
        return io.BytesIO(data + b"\x00" * 200_000)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_more)
    with pytest.raises(DatasetError, match="decompresses to more than its declared size"):
        validate_image_zip(buf)


@pytest.mark.parametrize(
    "entries, symlinks, message",
    [
        ({"../evil.png": b"x"}, (), r"'\.\.' path components"),
        ({"cat/../../evil.png": b"x"}, (), r"'\.\.' path components"),
        ({"/etc/cat/x.png": b"x"}, (), "absolute paths are not allowed"),
        ({"C:/cat/x.png": b"x"}, (), "absolute paths are not allowed"),
        ({"cat\\..\\..\\x.png": b"x"}, (), r"'\.\.' path components"),
        ({}, ("cat/link.png",), "symbolic links are not allowed"),
        ({"cat/fake.png": b"hello, I am text"}, (), "not a PNG, JPEG, BMP or GIF image"),
        ({"cat/huge.png": png(solid(1, (2, 2)), claimed=(100000, 100000))}, (),
         r"image of 100000x100000 pixels"),
        ({"cat/broken.png": b"\x89PNG\r\n\x1a\nabc"}, (), "cannot read the PNG header"),
        ({"loose.png": png(solid(1))}, (), "images must sit directly in one folder per class"),
        ({"cat/deep/x.png": png(solid(1))}, (), "images must sit directly in one folder"),
        ({"empty/": b"", "empty/notes.txt": b"x"}, (), "class folder 'empty' holds no images"),
    ],
)
def test_hostile_or_malformed_zips(entries, symlinks, message):
    base = {f"cat/{i}.png": png(solid(i)) for i in range(3)}
    base |= {f"dog/{i}.png": png(solid(100 + i)) for i in range(3)}
    with pytest.raises(DatasetError, match=message):
        validate_image_zip(make_zip(base | entries, symlinks))


def test_one_class_no_images_too_many_files_not_a_zip():
    one = {f"cat/{i}.png": png(solid(i)) for i in range(4)}
    with pytest.raises(DatasetError, match="need at least 2 class folders with images, found 1"):
        validate_image_zip(make_zip(one))
    with pytest.raises(DatasetError, match="holds no images"):
        validate_image_zip(make_zip({"a.txt": b"x"}))
    with pytest.raises(DatasetError, match="holds 4 entries, more than the limit 3"):
        validate_image_zip(make_zip(one), max_files=3)
    with pytest.raises(DatasetError, match="not a readable zip archive"):
        validate_image_zip(io.BytesIO(b"PK\x03\x04 nope"))
    with pytest.raises(DatasetError, match="image zip /no/such.zip not found"):
        validate_image_zip("/no/such.zip")


def test_undecodable_image_is_named():
    entries = {f"cat/{i}.png": png(solid(i)) for i in range(5)}
    entries |= {f"dog/{i}.png": png(solid(i)) for i in range(5)}
    good = entries["dog/0.png"]
    entries["dog/0.png"] = good[:33] + b"\x00" * 40  # header intact, pixel data garbage
    with pytest.raises(DatasetError, match=r"dog/0\.png.*cannot decode"):
        load_dataset("image-folder", path=make_zip(entries), image_size=(4, 4))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"image_size": (0, 5)}, "image_size must be"),
        ({"image_size": (600, 5)}, "image_size must be"),
        ({"image_size": 32}, "image_size must be"),
        ({"color_mode": "cmyk"}, "color_mode must be 'grayscale' or 'rgb'"),
        ({"test_fraction": 0.95}, "validation_fraction and test_fraction"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset("image-folder", path=make_zip(good_entries()), **options)
