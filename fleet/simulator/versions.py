"""Dotted firmware versions compared as numbers ("3.0.10" is after "3.0.9"), for the
scenarios whose behaviour depends on the build a charger runs. The simulator speaks only
the charger API, so it keeps its own comparison rather than the platform's."""

import re

_NUMBER = re.compile(r"\d+")


def version_key(version: str) -> tuple[int, ...] | None:
    """The numeric parts of a dotted version, trailing zeros dropped ("3.1" and "3.1.0"
    are one build); a suffix after a part's digits ("3.1.0-rc1") is ignored. None when a
    part does not start with a digit: such a version is inside no range.
    decision: sim-version-compare"""
    parts = []
    for part in version.strip().split("."):
        digits = _NUMBER.match(part)
        if digits is None:
            return None
        parts.append(int(digits.group()))
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def within(version: str, lowest: str, highest: str) -> bool:
    """Whether `version` is in the closed range from `lowest` to `highest`."""
    key, low, high = version_key(version), version_key(lowest), version_key(highest)
    if key is None or low is None or high is None:
        return False
    return low <= key <= high
