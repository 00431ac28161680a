"""Room in the WebSocket handshake for a stream of TELLUS_STREAM_MAX_DEVICES devices.

The stream's device ids travel in its URL (`?devices=dvc_…,dvc_…`, as the spec has it):
500 of them are about 8.5 KB, more with the commas percent-encoded and a `?token=`. The
`websockets` library, which parses uvicorn's WebSocket handshakes, refuses a request line
longer than 8 KB with 414, so the documented cap could not be reached. The library reads
its limit (`WEBSOCKETS_MAX_LINE_LENGTH`) once, when the server imports it before loading
this application; the parser looks the module's value up on every handshake, so the
application raises it here, to what the device cap needs, whichever way the server was
started. A larger limit set in the environment is kept.
"""

import sys

import websockets.http11
from django.conf import settings

# Per device id: ours are 16 characters, 19 with a percent-encoded comma, 22 with an
# encoded space after it; then the path, a `?token=` and room for other parameters.
BYTES_PER_DEVICE = 32
BYTES_BESIDES_DEVICES = 4096


def stream_request_line_bytes() -> int:
    return settings.TELLUS_STREAM_MAX_DEVICES * BYTES_PER_DEVICE + BYTES_BESIDES_DEVICES


def allow_stream_urls() -> None:
    """Raise the handshake parsers' request-line limit of every `websockets` module the
    server has loaded (the sans-I/O one by default, the legacy one with `--ws websockets`)."""
    needed = stream_request_line_bytes()
    websockets.http11.MAX_LINE_LENGTH = max(websockets.http11.MAX_LINE_LENGTH, needed)
    legacy = sys.modules.get("websockets.legacy.http")  # imported only if the server uses it
    if legacy is not None:
        legacy.MAX_LINE_LENGTH = max(legacy.MAX_LINE_LENGTH, needed)
