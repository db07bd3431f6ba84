"""Argument types shared by the CLI commands (argparse turns their errors into exit status 2)."""

from __future__ import annotations

import argparse


def input_shape(text: str) -> tuple[int, int, int]:
    """``H,W,C`` with three positive integers, e.g. ``28,28,1``."""
    parts = text.split(",")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"expected H,W,C as three positive integers, e.g. 28,28,1 (got {text!r})"
        )
    return values


def _int_at_least(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {what} (got {text!r})")
    return value


def num_classes(text: str) -> int:
    """An integer >= 2."""
    return _int_at_least(text, 2, "an integer >= 2")


def seed(text: str) -> int:
    """A non-negative integer."""
    return _int_at_least(text, 0, "a non-negative integer")


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _int_at_least(text, 1, "a positive integer")
