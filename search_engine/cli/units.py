"""Parsing the sizes and counts users type: ``4KB``, ``1.5 MiB``, ``500K`` MACs.

Byte units: ``B``; decimal ``KB``/``MB`` (1000, 1000**2) and binary ``KiB``/``MiB`` (1024,
1024**2). Vendors often write "KB" for 1024 bytes; the decimal reading is never larger than the
binary one, so a model that fits the decimal figure also fits the device. Counts (MACs) take
``K``, ``M`` or ``G`` (powers of 1000). Plain numbers are bytes / counts. Anything else, and
zero, negative, fractional byte counts or non-finite values, is a clear error.
"""

from __future__ import annotations

import math
import re

BYTE_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2}
COUNT_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
_NUMBER = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


def _parse(text: str, units: dict[str, int], what: str, examples: str) -> int:
    match = _NUMBER.match(text)
    if not match:
        raise ValueError(f"{what}: expected a positive number with an optional unit "
                         f"({examples}), got {text!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit not in units:
        raise ValueError(f"{what}: unknown unit {match.group(2)!r} in {text!r} "
                         f"(use {examples})")
    value = number * units[unit]
    if not math.isfinite(value) or value < 1:
        raise ValueError(f"{what}: must be at least 1 (got {text.strip()!r})")
    if abs(value - round(value)) > 1e-6:
        raise ValueError(f"{what}: {text!r} is not a whole number")
    return int(round(value))


def parse_bytes(text: str, what: str = "size") -> int:
    """``"4KB"`` -> 4000, ``"4KiB"`` -> 4096, ``"512"`` -> 512."""
    return _parse(text, BYTE_UNITS, what, "B, KB, KiB, MB, MiB, e.g. 64KB")


def parse_count(text: str, what: str = "count") -> int:
    """``"500K"`` -> 500000, ``"2.5M"`` -> 2500000."""
    return _parse(text, COUNT_UNITS, what, "K, M, G, e.g. 500K")


def format_bytes(value: float) -> str:
    """Short human form, binary units: 1536 -> '1.5 KiB'."""
    if value < 1024:
        return f"{int(value)} B"
    if value < 1024**2:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024**2:.2f} MiB"
