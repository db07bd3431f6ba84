"""WAV reading with the standard library `wave` module: integer PCM (8/16/24/32-bit), first
channel, as float32 in [-1, 1]."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from .base import DatasetError

MAX_WAV_FRAMES = 16000 * 60 * 20  # 20 minutes at 16 kHz: far above any noise recording


def read_wav(path: str | Path, max_frames: int = MAX_WAV_FRAMES) -> tuple[np.ndarray, int]:
    """(samples float32 in [-1, 1] of the first channel, sample rate)."""
    try:
        with wave.open(str(path), "rb") as wf:
            channels, width, rate, frames = (
                wf.getnchannels(),
                wf.getsampwidth(),
                wf.getframerate(),
                wf.getnframes(),
            )
            if frames > max_frames:
                raise DatasetError(f"{path}: {frames} frames, more than the limit {max_frames}")
            raw = wf.readframes(frames)
    except DatasetError:
        raise
    except (wave.Error, EOFError, OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    if width not in (1, 2, 3, 4) or channels < 1:
        raise DatasetError(f"{path}: unsupported sample width {width} bytes")
    n = len(raw) // (width * channels)
    raw = raw[: n * width * channels]
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        x = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    return x.reshape(n, channels)[:, 0].copy(), rate


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = 16000) -> None:
    """Write mono 16-bit PCM (samples in [-1, 1]); used by tests and demos."""
    pcm = np.clip(np.round(np.asarray(samples, np.float64) * 32768.0), -32768, 32767)
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sample_rate)
        wf.writeframes(pcm.astype("<i2").tobytes())
