"""Data sets as the web app sees them: the server's own, and users' uploads.

An upload (``.npz`` arrays or a zip of class folders) is validated completely with
``search_engine.train.datasets`` (``validate_npz`` / ``validate_image_zip``) before anything is
stored; the stored name is random (``models.upload_path``), never what the user sent. Files go
through Django's storage API (``MEDIA_ROOT`` by default): data sets are too big for database
rows. A worker on another machine needs shared storage (e.g. S3 via django-storages, see
docs/web.md); ``local_upload_path`` then copies the file into a local cache once.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Sum
from django.db.models.functions import Greatest

from .engine import builtin_datasets
from .models import DatasetKind, UploadedDataset

log = logging.getLogger(__name__)


class UploadError(ValueError):
    """An upload that is refused; ``field`` names the request field, ``status`` the answer."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


def _kind_for(filename: str, kind: str | None) -> str:
    if kind:
        return kind
    lower = filename.lower()
    if lower.endswith(".npz"):
        return DatasetKind.NPZ
    if lower.endswith(".zip"):
        return DatasetKind.IMAGE_FOLDER
    raise UploadError("kind", "cannot tell the kind from the file name: name it .npz or .zip, "
                              "or give kind (npz or image-folder)")


def _validate(handle: IO[bytes], kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the file; returns shape, classes and a summary (raises ``UploadError``)."""
    from search_engine.train.datasets import DatasetError, validate_image_zip, validate_npz

    try:
        if kind == DatasetKind.NPZ:
            summary = validate_npz(handle)
            return {"uncompressed_bytes": summary.uncompressed_bytes,
                    "input_shape": list(summary.input_shape),
                    "num_classes": summary.num_classes,
                    "class_names": list(summary.class_names),
                    "summary": {"num_train": summary.num_train, "num_val": summary.num_val,
                                "num_test": summary.num_test,
                                "source_dtype": summary.source_dtype,
                                "has_validation": summary.has_validation}}
        found = validate_image_zip(handle)
        if settings.UNAS_DECODE_UPLOADED_IMAGES:
            _check_decodes(handle)
        height, width = options["image_size"]
        channels = 3 if options["color_mode"] == "rgb" else 1
        return {"uncompressed_bytes": found.uncompressed_bytes,
                "input_shape": [height, width, channels],
                "num_classes": len(found.class_names), "class_names": list(found.class_names),
                "summary": {"num_images": found.num_images, "counts": list(found.counts),
                            "num_skipped": found.num_skipped, "root": found.root}}
    except DatasetError as exc:
        raise UploadError("file", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file triggers is a 400
        log.warning("upload validation crashed", exc_info=True)
        raise UploadError("file", f"the file could not be read ({type(exc).__name__})") from None


def _check_decodes(handle: IO[bytes]) -> None:
    """Every image decodes (in a child process: no TensorFlow here); ``DatasetError`` names
    the first that does not."""
    import tempfile

    from search_engine.train.datasets.decode_check import check_decodes

    path = getattr(handle, "temporary_file_path", None)
    if path is not None:
        check_decodes(path(), timeout=settings.UNAS_IMAGE_DECODE_TIMEOUT)
        return
    handle.seek(0)
    with tempfile.NamedTemporaryFile(suffix=".zip") as copy:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            copy.write(chunk)
        copy.flush()
        check_decodes(copy.name, timeout=settings.UNAS_IMAGE_DECODE_TIMEOUT)
    handle.seek(0)


def _declared_bytes(handle: IO[bytes], kind: str) -> int:
    """What the upload's data takes uncompressed, from its headers alone (the ``.npy`` headers
    of an ``.npz``, the directory of a zip): nothing is decompressed (raises ``UploadError``)."""
    from search_engine.train.datasets import (
        DatasetError,
        image_zip_declared_bytes,
        npz_declared_bytes,
    )

    handle.seek(0)
    try:
        if kind == DatasetKind.NPZ:  # uncapped here: the caller names its own limit
            return npz_declared_bytes(handle, max_bytes=sys.maxsize)
        return image_zip_declared_bytes(handle)
    except DatasetError as exc:
        raise UploadError("file", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever a hostile file triggers is a 400
        log.warning("upload header check crashed", exc_info=True)
        raise UploadError("file", f"the file could not be read ({type(exc).__name__})") from None
    finally:
        handle.seek(0)


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MiB"


def _sha256(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _quota_used(owner: Any) -> int:
    rows = UploadedDataset.objects.filter(owner=owner)
    return int(rows.aggregate(total=Sum(Greatest("size", "quota_bytes")))["total"] or 0)


def _over_quota(total: int) -> UploadError:
    return UploadError("file", f"your uploads would take {total} bytes, more than your "
                               f"quota of {settings.UNAS_UPLOAD_QUOTA_BYTES}", status=413)


def quota_status(owner: Any) -> dict[str, int]:
    """The owner's upload quota: bytes counted so far (each upload's ``quota_bytes``) and the
    limit."""
    return {"used_bytes": _quota_used(owner), "limit_bytes": settings.UNAS_UPLOAD_QUOTA_BYTES}


def store_upload(owner: Any, name: str, upload: UploadedFile, kind: str | None = None,
                 image_size: tuple[int, int] = (32, 32),
                 color_mode: str = "grayscale") -> UploadedDataset:
    """Validate and store a user's data set file.

    Limits: the file's own bytes against ``UNAS_UPLOAD_MAX_BYTES`` and the quota (413), then
    what its data takes uncompressed, as its headers declare it, against both (400, naming the
    declared size) before any data is decompressed; then the whole validation (streamed, one
    array chunk or one image at a time). ``quota_bytes`` = the larger of the file and its
    uncompressed data: what counts against the quota."""
    size = int(upload.size or 0)
    if size <= 0:
        raise UploadError("file", "the file is empty")
    if size > settings.UNAS_UPLOAD_MAX_BYTES:
        raise UploadError("file", f"the file has {size} bytes, more than the limit "
                                  f"{settings.UNAS_UPLOAD_MAX_BYTES}", status=413)
    used = _quota_used(owner)
    if used + size > settings.UNAS_UPLOAD_QUOTA_BYTES:
        raise _over_quota(used + size)
    kind = _kind_for(upload.name or "", kind)
    options: dict[str, Any] = {}
    if kind == DatasetKind.IMAGE_FOLDER:
        options = {"image_size": [int(image_size[0]), int(image_size[1])],
                   "color_mode": color_mode}
    # the limits count what the data takes once unpacked, not the compressed file: a 0.5 MB
    # .npz can declare 500 MB of arrays (refused here from its headers, before it is read)
    declared = _declared_bytes(upload, kind)
    what = "arrays" if kind == DatasetKind.NPZ else "zip's files"
    limit = settings.UNAS_UPLOAD_MAX_BYTES
    if declared > limit:
        raise UploadError("file", f"the {what} declare {declared} bytes ({_mib(declared)}) "
                                  f"uncompressed, more than the per-file limit of {limit} "
                                  f"bytes ({_mib(limit)})")
    quota_limit = settings.UNAS_UPLOAD_QUOTA_BYTES
    if used + max(size, declared) > quota_limit:
        raise UploadError("file", f"the {what} declare {declared} bytes ({_mib(declared)}) "
                                  f"uncompressed; with your other uploads ({used} bytes) that "
                                  f"is more than your quota of {quota_limit} bytes "
                                  f"({_mib(quota_limit)})")
    upload.seek(0)
    found = _validate(upload, kind, options)
    # validation read the data and found it no longer than declared
    quota = max(size, declared, int(found.pop("uncompressed_bytes") or 0))
    if used + quota > quota_limit:  # pragma: no cover - the declared sizes were checked
        raise _over_quota(used + quota)
    sha = _sha256(upload)
    row = UploadedDataset(owner=owner, name=name, kind=kind, size=size, quota_bytes=quota,
                          sha256=sha, options=options, **found)
    row.file.save("upload", upload, save=False)
    row.save()
    return row


def delete_upload(row: UploadedDataset) -> None:
    storage, name = row.file.storage, row.file.name
    row.delete()
    try:
        storage.delete(name)
    except OSError:  # pragma: no cover - the row is gone; a stray file is harmless
        log.warning("could not delete %s", name, exc_info=True)


def local_upload_path(row: UploadedDataset) -> Path:
    """A local path to the upload: the file itself, or a cached copy from remote storage."""
    try:
        return Path(row.file.path)
    except NotImplementedError:  # remote storage (S3, ...)
        pass
    suffix = ".npz" if row.kind == DatasetKind.NPZ else ".zip"
    cache = settings.UNAS_WORK_DIR.parent / "dataset-cache"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{row.sha256}{suffix}"
    if not target.exists():
        partial = target.with_suffix(".part")
        with row.file.open("rb") as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out)
        partial.replace(target)
    return target


def dataset_listing() -> list[dict[str, Any]]:
    """The server's data sets, as the API lists them."""
    return [{"name": info.name, "description": info.description, "kind": info.kind,
             "available": info.available,
             "input_shape": list(info.input_shape) if info.input_shape else None,
             "num_classes": info.num_classes, "class_names": list(info.class_names)[:100],
             "install": info.install_hint}
            for info in builtin_datasets()]
