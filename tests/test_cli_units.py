"""Sizes and counts typed by users."""

import pytest

from search_engine.cli.units import format_bytes, parse_bytes, parse_count


@pytest.mark.parametrize("text, expected", [
    ("4KB", 4000), ("4 KB", 4000), ("4kb", 4000), ("4KiB", 4096), ("1.5KiB", 1536),
    ("2MB", 2_000_000), ("1MiB", 1_048_576), ("512", 512), ("512B", 512), ("1e3", 1000),
])
def test_byte_sizes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text, message", [
    ("-4KB", "at least 1"), ("-5", "at least 1"), ("0", "at least 1"), ("0KB", "at least 1"),
    ("4XB", "unknown unit 'XB'"), ("4 K B", "expected a positive number"), ("", "expected"),
    ("KB", "expected a positive number"), ("1.5B", "not a whole number"), ("nan", "expected"),
    ("inf", "expected"), ("4GB", "unknown unit"),
])
def test_bad_byte_sizes(text, message):
    with pytest.raises(ValueError, match=message):
        parse_bytes(text, "sram")


def test_counts():
    assert parse_count("500K") == 500_000
    assert parse_count("2.5M") == 2_500_000
    assert parse_count("1G") == 10**9
    with pytest.raises(ValueError, match="unknown unit"):
        parse_count("5KB")


def test_format_bytes():
    assert format_bytes(100) == "100 B"
    assert format_bytes(1536) == "1.5 KiB"
