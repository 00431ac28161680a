"""Values from the classes of hostile input the platform must refuse cleanly:
NUL and control characters, huge and non-finite numbers, extreme timestamps and offsets,
deep nesting. Each class is a list of (name, value) or raw JSON text, so a failing case
names what it sent."""

import json

# Strings: NUL anywhere, the other C0 controls, DEL, C1, lone surrogate escapes (only
# expressible as raw JSON, below), bidi overrides, very long text.
NUL_STRINGS = ["\x00", "dvc_\x00", "\x00dvc_", "F-0421\x00", "a\x00b"]
CONTROL_STRINGS = [
    "\x01\x02\x03\x04\x05\x06\x07\x08",
    "\t\n\r\x0b\x0c",
    "\x1b[31mred\x1b[0m",
    "\x7f",
    "\x85\x9f",
    "\u202eevil\u202c",
    "\ufeff",
    "\U0010ffff",
    "",
    " ",
    "%00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "x" * 10_000,
]
HOSTILE_STRINGS = NUL_STRINGS + CONTROL_STRINGS

# Numbers JSON can carry: the largest and smallest doubles, integers past 32 and 64 bits.
HUGE_NUMBERS = [
    1e308,
    -1e308,
    1.7976931348623157e308,
    5e-324,
    -0.0,
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    2**64 + 1,
    10**30,
    -(10**30),
]
HUGE_INTEGERS = [n for n in HUGE_NUMBERS if isinstance(n, int)]

# The ends of time, with every offset a parser might accept (up to ±23:59).
EXTREME_TIMESTAMPS = [
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00-23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59+23:59",
    "9999-12-31T23:59:59.999999Z",
    "1999-12-31T23:59:59-00:01",
    "2099-12-31T23:59:59-23:59",
    "2100-01-01T00:00:00Z",
    "1970-01-01T00:00:00+23:59",
    "2024-02-29T12:00:00+24:00",
    "2024-02-30T12:00:00Z",
    "2024-06-01T12:00:00",
    "2024-06-01",
    "+002024-06-01T12:00:00Z",
    "2024-06-01T12:00:00.1234567890123Z",
    # The legacy interface's own format (yyyy-MM-dd HH:mm:ss).
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
]

# Raw JSON text that no JSON encoder produces but a socket can carry.
NON_FINITE_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400, "-" + "9" * 400]
HUGE_NUMBER_TOKENS = ["1e-99999", "18446744073709551617", "-0", "0e0", "1E+308"]
# Lone surrogates, escaped NULs, and raw (unescaped) control bytes inside a string.
RAW_STRING_TOKENS = [
    '"\\ud800"',
    '"\\udfff x"',
    '"\\u0000"',
    '"a\\u0000b"',
    '"a\x00b"',
    '"\x1f"',
    '"\x7f\x00"',
]


def nested(depth: int, leaf: str = "1") -> str:
    """`depth` levels of alternating objects and arrays around `leaf`, as JSON text."""
    text = leaf
    for level in range(depth):
        text = f'{{"n": {text}}}' if level % 2 else f"[{text}]"
    return text


DEEP_NESTING = [nested(33), nested(200), nested(5_000)]


def raw_values() -> list[tuple[str, str]]:
    """Every hostile value as (class, raw JSON text)."""
    values = [("nul string", json.dumps(s)) for s in NUL_STRINGS]
    values += [("control string", json.dumps(s)) for s in CONTROL_STRINGS]
    values += [("huge number", json.dumps(n)) for n in HUGE_NUMBERS]
    values += [("huge number", t) for t in HUGE_NUMBER_TOKENS]
    values += [("extreme timestamp", json.dumps(t)) for t in EXTREME_TIMESTAMPS]
    values += [("non-finite token", t) for t in NON_FINITE_TOKENS]
    values += [("raw string escape", t) for t in RAW_STRING_TOKENS]
    values += [("deep nesting", t) for t in DEEP_NESTING]
    return values


# What must be refused wherever it appears in a body: the input gate does not look at
# which field it is in.
ALWAYS_REFUSED = {"nul string", "non-finite token", "raw string escape", "deep nesting"}


def query_values() -> list[tuple[str, str]]:
    """Hostile values for a query or path parameter, as text."""
    values = [("nul string", s) for s in NUL_STRINGS]
    values += [("control string", s) for s in CONTROL_STRINGS if len(s) < 1000]
    values += [("huge number", repr(n)) for n in HUGE_NUMBERS]
    values += [("extreme timestamp", t) for t in EXTREME_TIMESTAMPS]
    values += [("huge number", t) for t in ("9" * 400, "9" * 5000, "-" + "9" * 5000)]
    values += [("non-finite token", t) for t in ("NaN", "nan", "Infinity", "-inf", "1e999")]
    return values


# Header values, as bytes: what an HTTP client library lets through (no CR, LF, NUL, or
# surrounding whitespace), plus other control bytes that only the server can refuse.
# Non-ASCII digits matter: str.isdigit() says yes, float() says no.
HOSTILE_HEADER_VALUES = [
    ("digits", "\u00b2".encode("latin-1")),  # superscript two
    ("digits", "\u0663".encode()),  # Arabic-Indic three, as UTF-8 bytes
    ("digits", b"1e999"),
    ("digits", b"9" * 400),
    ("digits", b"9" * 5000),
    ("digits", b"-1"),
    ("digits", b"0"),
    ("digits", b"NaN"),
    ("digits", b"99999999999"),
    ("timestamp", b"0001-01-01T00:00:00+05:00"),
    ("timestamp", b"9999-12-31T23:59:59-05:00"),
    ("timestamp", b"9999-12-31T23:59:59+23:59"),
    ("timestamp", b"2024-06-01T12:00:00"),
    ("text", b"\x01\x02\x7f"),
    ("text", b"\xff\xfe"),
    ("text", b"Bearer"),
    ("text", b"Bearer  x"),
    ("text", b"bearer\tx"),
    ("text", b"Bearer \x7f"),
    ("text", b"Bearer a.b.c"),
    ("text", b"Bearer " + b"a" * 8000),
    ("text", b"Basic YWxhZGRpbjpvcGVuc2VzYW1l"),
    ("text", b"text/plain"),
    ("text", b"application/json; charset=utf-16"),
    ("text", b"application/x-www-form-urlencoded"),
    ("text", b"multipart/form-data; boundary=x"),
]
