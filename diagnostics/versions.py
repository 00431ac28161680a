"""Firmware version comparison across the two numbering schemes in use (decision: firmware-schemes):
dotted versions per model (3.0.2 < 3.0.10) and date/build versions (260420.0107). Versions of
different schemes are not comparable: the answer is then None (unknown), never a guess."""

import re
from dataclasses import dataclass

_DOTTED = re.compile(r"^v?(\d+(?:\.\d+)*)$")
_DATE_BUILD = re.compile(r"^(\d{6})\.(\d{1,6})$")


@dataclass(frozen=True, order=True)
class Version:
    scheme: str  # "date" or "dotted"
    parts: tuple[int, ...]

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)


def parse_version(text: str | None) -> Version | None:
    if not text:
        return None
    text = text.strip()
    if match := _DATE_BUILD.match(text):
        return Version("date", (int(match.group(1)), int(match.group(2))))
    if match := _DOTTED.match(text):
        parts = tuple(int(p) for p in match.group(1).split("."))
        # Trailing zeros do not change a dotted version: 3.1 == 3.1.0.
        while len(parts) > 1 and parts[-1] == 0:
            parts = parts[:-1]
        return Version("dotted", parts)
    return None


def compare(a: str | None, b: str | None) -> int | None:
    """-1, 0 or 1; None when either is unparseable or the schemes differ."""
    left, right = parse_version(a), parse_version(b)
    if left is None or right is None or left.scheme != right.scheme:
        return None
    return (left.parts > right.parts) - (left.parts < right.parts)


def within(version: str | None, low: str | None, high: str | None) -> bool | None:
    """Whether low <= version <= high (either bound may be open); None if unknowable."""
    checks = []
    if low:
        checks.append(compare(version, low))
    if high:
        checks.append(compare(high, version))
    if any(c is None for c in checks):
        return None
    return all(c >= 0 for c in checks)
