"""What a charger put in a payload, made fit to show a person: any JSON value as indented
JSON, cut to a bound, with the characters that would hide or reorder text on the page
written as escapes. Charger input is hostile: templates escape the HTML; this keeps its
size and its invisible characters in check, and never fails, whatever the value."""

import json
import unicodedata
from typing import Any

# Unicode categories shown as \\u escapes (four hex digits): controls, format characters
# (bidirectional overrides, zero-width joiners), private use, unpaired surrogates, line and
# paragraph separators. Inside a JSON string the escape is the same text, so the JSON stays valid.
HIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}


def _escape(char: str) -> str:
    point = ord(char)
    if point > 0xFFFF:  # a UTF-16 pair, as JSON writes it
        point -= 0x10000
        return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"
    return f"\\u{point:04x}"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every hidden character (see HIDDEN_CATEGORIES) written as its escape."""
    return "".join(
        _escape(char)
        if unicodedata.category(char) in HIDDEN_CATEGORIES and not (keep_newlines and char == "\n")
        else char
        for char in text
    )


def cut(text: str, limit: int, rest: str) -> tuple[str, bool]:
    """`text` cut to `limit` characters, with a note saying how much is left out and where
    it is (`rest`); whether it was cut."""
    if len(text) <= limit:
        return text, False
    left_out = len(text) - limit
    return f"{text[:limit]}\n… {left_out:,} more characters ({rest})", True


def json_text(value: Any, limit: int, rest: str) -> str:
    """Any JSON value as indented JSON for a person, at most `limit` characters of it."""
    try:
        text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    except (RecursionError, TypeError, ValueError):
        return "(not shown: it does not read as JSON)"
    return cut(visible(text, keep_newlines=True), limit, rest)[0]


def message_text(value: Any, limit: int, rest: str) -> str:
    """A message field as words: text as it is (one line), anything else as compact JSON,
    cut to `limit`; empty when there is none."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (RecursionError, TypeError, ValueError):
            return "(not shown: it does not read as JSON)"
    return cut(visible(value), limit, rest)[0]
