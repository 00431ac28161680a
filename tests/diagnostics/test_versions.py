"""Firmware version comparison (decision: firmware-schemes)."""

import pytest

from diagnostics.versions import compare, parse_version, within


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("3.0.2", "3.0.10", -1),
        ("3.0.10", "3.0.2", 1),
        ("3.1", "3.1.0", 0),
        ("4.0.0", "4.1.0", -1),
        ("v3.1.0", "3.1.0", 0),
        ("260420.0107", "260420.0106", 1),
        ("260420.0107", "260501.0001", -1),
        ("260420.0107", "260420.107", 0),
    ],
)
def test_ordering(a, b, expected):
    assert compare(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b"), [("3.1.0", "260420.0107"), ("beta", "3.0.0"), (None, "1.0"), ("", "1.0")]
)
def test_incomparable_versions_are_unknown(a, b):
    assert compare(a, b) is None


def test_schemes():
    assert parse_version("260420.0107").scheme == "date"
    assert parse_version("3.0.2").scheme == "dotted"
    assert parse_version("3.0.2-rc1") is None


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.9.9", False),
        ("3.0.0", True),
        ("3.0.1", True),
        ("3.0.2", True),
        ("3.0.3", False),
        ("3.1.0", False),
        ("260420.0107", None),
    ],
)
def test_inclusive_ranges(version, expected):
    assert within(version, "3.0.0", "3.0.2") is expected
