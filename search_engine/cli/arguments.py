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


def num_classes(text: str) -> int:
    """An integer >= 2."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 (got {text!r})")
    return value


def seed(text: str) -> int:
    """A non-negative integer."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer (got {text!r})")
    return value
