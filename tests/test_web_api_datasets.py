"""Data sets over the API: the server's list, uploads (validated, per user, size limits),
searches on an upload, deleting one in use; MCU presets."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from nasweb.searches.models import UploadedDataset
from nasweb.searches.presets import KB, MB

pytestmark = pytest.mark.django_db


def npz_bytes(n=40, shape=(6, 6), classes=3, **extra):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n, *shape), dtype=np.uint8),
              "y_train": np.arange(n) % classes,
              "x_test": rng.integers(0, 256, (n // 2, *shape), dtype=np.uint8),
              "y_test": np.arange(n // 2) % classes}
    arrays.update(extra)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def png(width=4, height=4):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def image_zip(corrupt: str | None = None):
    """Six 4x4 PNGs in two class folders; ``corrupt`` names one whose pixel data is garbage
    behind a valid header (the header check passes, decoding fails)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for label in ("cat", "dog"):
            for i in range(3):
                name = f"pets/{label}/{i}.png"
                data = png()
                if name == corrupt:
                    data = data[:33] + b"\x00\x00\x00\x10IDATgarbage-garbage!" + data[-12:]
                zf.writestr(name, data)
    return buffer.getvalue()


def upload(client, name, content, **fields):
    return client.post("/api/datasets/uploads/",
                       {"name": "mine", "file": SimpleUploadedFile(name, content), **fields},
                       format="multipart")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_server_data_sets_are_listed(web_client):
    body = web_client.get("/api/datasets/").json()
    names = {d["name"]: d for d in body["server"]}
    assert names["digits"]["available"] and names["digits"]["input_shape"] == [8, 8, 1]
    assert names["digits"]["num_classes"] == 10
    assert "npz" not in names and body["uploads"] == []
    assert names["digits"]["install"] == ""  # built in: nothing to install


def test_missing_data_sets_say_how_to_install_them(web_client, settings, tmp_path):
    settings.DATASETS_DIR = tmp_path / "empty"
    names = {d["name"]: d for d in web_client.get("/api/datasets/").json()["server"]}
    mnist = names["mnist"]
    assert not mnist["available"]
    assert "train-images-idx3-ubyte" in mnist["install"]
    assert str(tmp_path / "empty" / "mnist") in mnist["install"]
    assert "data_batch_1" in names["cifar10"]["install"]
    assert names["speech"]["num_classes"] is None and "WAV" in names["speech"]["install"]


def test_npz_upload_is_validated_stored_and_usable(web_client, other_client):
    response = upload(web_client, "../../etc/passwd.npz", npz_bytes())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "npz" and body["input_shape"] == [6, 6, 1]
    assert body["num_classes"] == 3 and body["summary"]["num_test"] == 20
    row = UploadedDataset.objects.get(pk=body["id"])
    assert row.file.name.startswith(f"datasets/{web_client.user.pk}/")
    assert ".." not in row.file.name and row.file.name.endswith(".npz")
    assert row.file.size == row.size
    listed = web_client.get("/api/datasets/").json()["uploads"]
    assert [u["id"] for u in listed] == [body["id"]]
    # a project and a search on it
    project = web_client.post("/api/projects/", {"name": "p", "upload": body["id"]},
                              format="json")
    assert project.status_code == 201 and project.json()["dataset"] == "npz"
    search = web_client.post("/api/searches/", {"project": project.json()["id"], "name": "s",
                                                "sram_bytes": 4096, "flash_bytes": 65536},
                             format="json")
    assert search.status_code == 201, search.content
    assert search.json()["input_shape"] == [6, 6, 1] and search.json()["num_classes"] == 3
    assert (search.json()["sparsity_min"], search.json()["sparsity_max"]) == (0.1, 0.85)
    # in use: cannot be deleted
    refused = web_client.delete(f"/api/datasets/uploads/{body['id']}/")
    assert refused.status_code == 409
    # others see nothing and cannot use it
    assert other_client.get(f"/api/datasets/uploads/{body['id']}/").status_code == 404
    assert other_client.get("/api/datasets/").json()["uploads"] == []
    theirs = other_client.post("/api/projects/", {"name": "q", "upload": body["id"]},
                               format="json")
    assert theirs.status_code == 400 and "upload" in theirs.json()


def test_image_zip_upload(web_client):
    response = upload(web_client, "pets.zip", image_zip(), image_height=16, image_width=12,
                      color_mode="rgb")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "image-folder" and body["input_shape"] == [16, 12, 3]
    assert body["class_names"] == ["cat", "dog"] and body["summary"]["num_images"] == 6
    pk = body["id"]
    assert web_client.delete(f"/api/datasets/uploads/{pk}/").status_code == 204
    assert not UploadedDataset.objects.filter(pk=pk).exists()


def test_an_image_zip_whose_pixels_do_not_decode_is_refused_naming_the_file(web_client):
    """Valid headers, garbage pixel data: every image is decoded at upload (TensorFlow, in a
    child process), so the set is refused at the door, not by every candidate later."""
    from search_engine.train.datasets import validate_image_zip

    bad = image_zip(corrupt="pets/dog/1.png")
    validate_image_zip(io.BytesIO(bad))  # the header-only check cannot see it
    response = upload(web_client, "pets.zip", bad)
    assert response.status_code == 400
    message = " ".join(response.json()["file"])
    assert "pets/dog/1.png" in message and "cannot decode" in message
    assert not UploadedDataset.objects.exists()


@pytest.mark.parametrize("name, content, fields, field, message", [
    ("a.npz", b"not a zip at all", {}, "file", "not a readable .npz"),
    ("a.npz", npz_bytes(extra=np.zeros(3)), {}, "file", "unexpected entry"),
    ("a.npz", npz_bytes(x_val=np.zeros((2, 6, 6)), y_val=np.zeros(2)), {}, "file", "x_val"),
    ("a.zip", b"PK\x03\x04garbage", {}, "file", "zip"),
    ("a.txt", npz_bytes(), {}, "kind", "cannot tell"),
    ("a.zip", image_zip(), {"color_mode": "cmyk"}, "color_mode", ""),
    ("a.zip", image_zip(), {"image_height": 0}, "image_height", ""),
    ("a.npz", b"", {}, "file", ""),
])
def test_bad_uploads_are_field_errors(web_client, name, content, fields, field, message):
    response = upload(web_client, name, content, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert message in str(response.json()[field])
    assert UploadedDataset.objects.count() == 0


def test_upload_needs_a_file_and_a_name(web_client):
    assert "file" in web_client.post("/api/datasets/uploads/", {"name": "x"},
                                     format="multipart").json()
    response = web_client.post("/api/datasets/uploads/", {"name": "x"}, format="json")
    assert response.status_code == 415


def test_size_limits(web_client, settings):
    settings.UNAS_UPLOAD_MAX_BYTES = 1000
    response = upload(web_client, "a.npz", npz_bytes())
    assert response.status_code == 413 and "limit" in str(response.json())
    settings.UNAS_UPLOAD_MAX_BYTES = 10**9
    settings.UNAS_UPLOAD_QUOTA_BYTES = len(npz_bytes()) + 10
    assert upload(web_client, "a.npz", npz_bytes()).status_code == 201
    over = upload(web_client, "b.npz", npz_bytes())
    assert over.status_code == 413 and "quota" in over.json()["file"][0]


def test_mcu_presets():
    from rest_framework.test import APIClient

    presets = {p["id"]: p for p in APIClient().get("/api/mcu-presets/").json()}
    assert presets["arduino-nano-33-ble"]["sram_bytes"] == 256 * KB
    assert presets["arduino-nano-33-ble"]["flash_bytes"] == 1 * MB
    assert (presets["stm32f446re"]["sram_bytes"], presets["stm32f446re"]["flash_bytes"]) == (
        128 * 1024, 512 * 1024)
    assert presets["stm32h743"]["sram_bytes"] == 512 * 1024  # the AXI SRAM block
    assert presets["stm32h743"]["flash_bytes"] == 2 * 1024 * 1024
    assert presets["esp32"]["sram_bytes"] == 520 * 1024
    assert presets["rp2040-pico"]["sram_bytes"] == 264 * 1024
    assert presets["nrf52840"]["flash_bytes"] == 1024 * 1024
    assert len(presets) == 12


def sparse_npz(n: int) -> bytes:
    """A small compressed .npz whose arrays take ``n * 1024`` bytes once unpacked."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=np.zeros((n, 32, 32), np.uint8),
                        y_train=np.arange(n) % 2, x_test=np.zeros((4, 32, 32), np.uint8),
                        y_test=np.arange(4) % 2)
    return buffer.getvalue()


def test_quota_counts_uncompressed_bytes_and_validation_streams(web_client, settings):
    """Issue 12: a 0.49 MB .npz declaring 502 MB was accepted against a 1 GiB quota, and its
    validation took 480 MB of memory."""
    import tracemalloc

    from search_engine.train.datasets import validate_npz

    content = sparse_npz(60_000)  # 61 MB of arrays in a file of about 60 KB
    assert len(content) < 200_000
    tracemalloc.start()
    summary = validate_npz(io.BytesIO(content))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert summary.uncompressed_bytes > 60_000 * 1024 and summary.num_train == 54_000
    assert peak < 8 * 1024 * 1024, peak  # chunks, not the 61 MB array
    settings.UNAS_UPLOAD_QUOTA_BYTES = 50 * 1024 * 1024
    over = upload(web_client, "big.npz", content)
    assert over.status_code == 400
    assert f"declare {summary.uncompressed_bytes} bytes" in over.json()["file"][0]
    assert "uncompressed" in over.json()["file"][0] and "quota" in over.json()["file"][0]
    assert UploadedDataset.objects.count() == 0
    settings.UNAS_UPLOAD_QUOTA_BYTES = 100 * 1024 * 1024
    assert upload(web_client, "big.npz", content).status_code == 201
    assert UploadedDataset.objects.get().quota_bytes == summary.uncompressed_bytes
    second = upload(web_client, "big2.npz", content)  # 2 x 61 MB > 100 MB
    assert second.status_code == 400 and "quota" in second.json()["file"][0]


def test_small_board_presets_with_core_and_clock():
    from rest_framework.test import APIClient

    presets = {p["id"]: p for p in APIClient().get("/api/mcu-presets/").json()}
    kib = 1024
    expected = {"stm32f103c8": (20, 64), "stm32l072cz": (20, 192), "stm32g071rb": (36, 128),
                "nrf52832": (64, 512), "arduino-nano-33-ble": (256, 1024),
                "rp2040-pico": (264, 2048), "esp32-c3": (384, 4096), "samd21g18": (32, 256)}
    for pid, (sram, flash) in expected.items():
        assert (presets[pid]["sram_bytes"], presets[pid]["flash_bytes"]) == (sram * kib,
                                                                             flash * kib), pid
    assert sum(p["sram_bytes"] < 128 * kib for p in presets.values()) >= 5
    for p in presets.values():  # every board names its core and clock
        assert "MHz" in p["mcu"] and "(" in p["mcu"], p


# -- issue 12: undecodable images and compression bombs, refused at the door -----------------


def garbage_jpeg(width=4, height=4):
    """A JPEG whose header (SOI, JFIF, SOF0 with its size) is valid and whose data is not."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"garbage!" * 16 + b"\xff\xd9"


def garbage_png():
    good = png()
    return good[:33] + b"\x00\x00\x00\x10IDATgarbage-garbage!" + good[-12:]


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def quota_used(client) -> int:
    return client.get("/api/datasets/").json()["quota"]["used_bytes"]


@pytest.mark.parametrize("files, named", [
    ({f"{c}/{i}.png": garbage_png() for c in ("cat", "dog") for i in range(3)}, "cat/0.png"),
    ({"cat/a.jpg": garbage_jpeg(), "cat/b.png": png(), "dog/c.png": png()}, "cat/a.jpg"),
    ({"cat/a.png": png(), "cat/b.png": png(), "dog/c.png": png(), "dog/d.jpeg": garbage_jpeg()},
     "dog/d.jpeg"),
], ids=["all-garbage-pngs", "garbage-jpeg", "one-bad-jpeg-among-good-pngs"])
def test_image_zips_that_cannot_be_decoded_are_refused_and_nothing_is_stored(
        web_client, settings, files, named):
    from search_engine.train.datasets import validate_image_zip

    content = zip_of(files)
    validate_image_zip(io.BytesIO(content))  # headers alone look fine
    assert upload(web_client, "ok.npz", npz_bytes()).status_code == 201  # something to keep
    before = quota_used(web_client)
    stored = sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    response = upload(web_client, "pets.zip", content)
    assert response.status_code == 400, response.content
    message = " ".join(response.json()["file"])
    assert f"zip entry {named!r}: cannot decode the image" in message, message
    assert UploadedDataset.objects.count() == 1 and quota_used(web_client) == before
    assert sorted(p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()) == stored


def test_validating_an_image_zip_holds_one_image_at_a_time():
    """The header check read every image and kept them all (the whole zip in the web
    process's memory); now memory does not grow with the archive."""
    import tracemalloc

    from search_engine.train.datasets import validate_image_zip

    padding = np.random.default_rng(0).bytes(20_000)  # incompressible: the zip is ~24 MB
    files = {f"{c}/{i}.png": png() + padding for c in ("cat", "dog") for i in range(600)}
    content = zip_of(files)
    tracemalloc.start()
    summary = validate_image_zip(io.BytesIO(content))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert summary.num_images == 1200 and summary.uncompressed_bytes > 24_000_000
    assert peak < 2 * 1024 * 1024, peak


def npz_bomb(n: int, side: int = 32) -> bytes:
    """An .npz whose ``x_train`` is ``n`` zero images, compressed about 1,000:1 and written
    in 1 MiB pieces: ``npz_bomb(490_000)`` is the issue's 0.49 MB file declaring 502 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("x_train.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "|u1", "fortran_order": False, "shape": (n, side, side)})
            left, zero = n * side * side, bytes(1 << 20)
            while left > 0:
                fh.write(zero[:min(left, len(zero))])
                left -= len(zero)
        for name, array in (("y_train", np.arange(n, dtype=np.uint8) % 2),
                            ("x_test", np.zeros((4, side, side), np.uint8)),
                            ("y_test", np.arange(4) % 2)):
            with zf.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return npz_bomb(490_000)


def test_an_npz_bomb_is_refused_by_its_declared_size_before_it_is_read(web_client, settings,
                                                                       bomb):
    """Issue 12: a 0.49 MB .npz declaring 502 MB was accepted (the quota counted compressed
    bytes) and validating it took Daphne from 155 to 635 MB."""
    import tracemalloc

    from search_engine.train.datasets import npz_declared_bytes

    declared = npz_declared_bytes(io.BytesIO(bomb))
    assert len(bomb) < 500_000 and declared == 490_000 * (1024 + 1) + 4 * 1024 + 4 * 8
    assert upload(web_client, "small.npz", npz_bytes()).status_code == 201
    before = quota_used(web_client)
    # the per-file limit (256 MiB by default) counts the uncompressed arrays
    tracemalloc.start()
    response = upload(web_client, "bomb.npz", bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert response.status_code == 400, response.content
    message = response.json()["file"][0]
    assert f"the arrays declare {declared} bytes (479.0 MiB) uncompressed" in message
    assert f"per-file limit of {settings.UNAS_UPLOAD_MAX_BYTES} bytes" in message
    assert peak < 16 * 1024 * 1024, peak  # headers only: no array was decompressed
    # under a quota it would break: refused from its headers too, naming the declared size
    settings.UNAS_UPLOAD_MAX_BYTES = 1024 * 1024 * 1024
    settings.UNAS_UPLOAD_QUOTA_BYTES = 400 * 1024 * 1024
    over = upload(web_client, "bomb.npz", bomb)
    assert over.status_code == 400
    assert f"declare {declared} bytes" in over.json()["file"][0]
    assert "quota" in over.json()["file"][0]
    assert UploadedDataset.objects.count() == 1 and quota_used(web_client) == before
    stored = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert len(stored) == 1


def test_an_npz_bomb_within_the_limits_counts_its_uncompressed_size(web_client, settings,
                                                                    bomb):
    """Accepted where the limits allow it, validated in chunks (memory stays flat while 502 MB
    are decompressed), and its quota_bytes, shown in the API, is the uncompressed size: the
    1 GiB quota admits two such files, not thousands."""
    import tracemalloc

    settings.UNAS_UPLOAD_MAX_BYTES = 1024 * 1024 * 1024
    tracemalloc.start()
    first = upload(web_client, "bomb.npz", bomb)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert first.status_code == 201, first.content
    assert peak < 16 * 1024 * 1024, peak
    body = first.json()
    assert body["size"] == len(bomb) and body["quota_bytes"] > 500_000_000
    assert body["summary"]["num_train"] == 441_000
    listing = web_client.get("/api/datasets/").json()
    assert listing["quota"] == {"used_bytes": body["quota_bytes"],
                                "limit_bytes": settings.UNAS_UPLOAD_QUOTA_BYTES}
    assert listing["uploads"][0]["quota_bytes"] == body["quota_bytes"]
    assert upload(web_client, "bomb2.npz", bomb).status_code == 201
    third = upload(web_client, "bomb3.npz", bomb)
    assert third.status_code == 400 and "quota" in third.json()["file"][0]
    assert UploadedDataset.objects.count() == 2


def test_a_header_declaring_more_than_its_data_is_refused(web_client, settings):
    """A forged .npy header: a huge shape over a few bytes of data. Above the limits it is
    refused from the header; within them, reading finds the data short."""
    def forged(shape):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                header, {"descr": "|u1", "fortran_order": False, "shape": shape})
            zf.writestr("x_train.npy", header.getvalue() + bytes(100))
            for name, array in (("y_train", np.arange(shape[0]) % 2),
                                ("x_test", np.zeros((4, *shape[1:]), np.uint8)),
                                ("y_test", np.arange(4) % 2)):
                out = io.BytesIO()
                np.lib.format.write_array(out, array)
                zf.writestr(f"{name}.npy", out.getvalue())
        return buffer.getvalue()

    huge = upload(web_client, "a.npz", forged((400_000, 32, 32)))  # 413 MB over 100 bytes
    assert huge.status_code == 400 and "per-file limit" in huge.json()["file"][0]
    assert "the arrays declare 412804128 bytes" in huge.json()["file"][0]
    short = upload(web_client, "b.npz", forged((1000, 8, 8)))
    assert short.status_code == 400 and "the data ends after" in short.json()["file"][0]
    assert UploadedDataset.objects.count() == 0
