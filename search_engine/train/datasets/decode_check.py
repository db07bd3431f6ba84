"""Decode every image of a class-folder zip, in a child process: refuse an undecodable data set
at upload rather than fail every candidate later.

``validate_image_zip`` checks structure, limits and each image's header without decoding
(no TensorFlow in the web process). :func:`check_decodes` runs this module as a child process
(``python -m search_engine.train.datasets.decode_check ZIP``), which decodes the images one at a
time with TensorFlow's decoder (the one training uses) and reports the first that fails, by
name. The child's memory is one image at a time plus TensorFlow; a hang is cut by ``timeout``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .base import DatasetError


def check_decodes(path: str | Path, timeout: float = 300.0) -> None:
    """Raise ``DatasetError`` naming the first image of the zip at ``path`` that TensorFlow
    cannot decode (or when the check cannot finish within ``timeout`` seconds)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    try:
        done = subprocess.run([sys.executable, "-m", __name__, str(path)], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DatasetError(f"decoding the images took more than {timeout:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise DatasetError("the images could not be decoded (the checker stopped: "
                           f"exit status {done.returncode})") from None
    if result.get("error"):
        raise DatasetError(str(result["error"]))


def _decode_all(path: str) -> int:
    import tensorflow as tf

    from .image_zip import ZipLimits, _open, _read_member, _scan

    limits = ZipLimits()
    count = used = 0
    with _open(path) as zf:
        _, infos, _, _ = _scan(zf, limits, read=False)
        for info in infos:
            data = _read_member(zf, info, limits.max_total_bytes - used, limits)
            used += len(data)
            try:
                tf.io.decode_image(data, channels=0, expand_animations=False)
            except Exception as exc:  # noqa: BLE001 - TF raises several types for bad data
                message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else \
                    type(exc).__name__
                raise DatasetError(f"zip entry {info.filename!r}: cannot decode the image "
                                   f"({message})") from None
            count += 1
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m search_engine.train.datasets.decode_check ZIP", file=sys.stderr)
        return 2
    try:
        count = _decode_all(argv[0])
    except DatasetError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    print(json.dumps({"images": count}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
