"""TFLM's source headers for tests that compile C++ against them: the offline tarball in
``../shared/tflm/`` (or ``UNAS_TFLM_TARBALL``) unpacked, or an unpacked tree in
``UNAS_TFLM_DIR``; the ``tflite-micro`` wheel ships no headers."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP_REASON = ("no TFLM headers: set UNAS_TFLM_DIR (a tflite-micro checkout) or put the offline "
               "tarball in ../shared/tflm/ (the tflite-micro wheel ships no headers)")


def tflm_source_tree(tmp_dir: Path) -> Path | None:
    """A TFLM source tree with its third-party headers: ``UNAS_TFLM_DIR`` (unpacked), else the
    offline tarball ``UNAS_TFLM_TARBALL`` or ``../shared/tflm/tflite-micro-*.tar.gz`` (unpacked
    into ``tmp_dir``); None when neither exists."""
    if os.environ.get("UNAS_TFLM_DIR"):
        tree = Path(os.environ["UNAS_TFLM_DIR"])
        return tree if (tree / "tensorflow/lite/micro").is_dir() else None
    tarballs = ([Path(os.environ["UNAS_TFLM_TARBALL"])] if os.environ.get("UNAS_TFLM_TARBALL")
                else sorted((REPO.parent / "shared/tflm").glob("tflite-micro-*.tar.gz")))
    tarballs = [t for t in tarballs if t.is_file()]
    if not tarballs:
        return None
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(tmp_dir, filter="data")
    return tmp_dir / "tflite-micro"


def compile_flags(tree: Path) -> list[str]:
    """g++ flags for a sketch against ``tree``: C++17, every warning an error, TFLM's static
    memory mode; TFLM and its third-party headers as system headers (their own warnings are
    not the sketch's)."""
    downloads = tree / "tensorflow/lite/micro/tools/make/downloads"
    flags = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-DTF_LITE_STATIC_MEMORY"]
    for d in (tree, downloads / "flatbuffers/include", downloads / "gemmlowp", downloads / "ruy"):
        flags += ["-isystem", str(d)]
    return flags
