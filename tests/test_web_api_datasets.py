"""Data sets over the API: the server's list, uploads (validated, per user, size limits),
searches on an upload, deleting one in use; MCU presets."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

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
    assert over.status_code == 413 and "uncompressed" in over.json()["file"][0]
    assert UploadedDataset.objects.count() == 0
    settings.UNAS_UPLOAD_QUOTA_BYTES = 100 * 1024 * 1024
    assert upload(web_client, "big.npz", content).status_code == 201
    assert UploadedDataset.objects.get().quota_bytes == summary.uncompressed_bytes
    second = upload(web_client, "big2.npz", content)  # 2 x 61 MB > 100 MB
    assert second.status_code == 413 and "quota" in second.json()["file"][0]


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
