"""Bearer tokens never reach the server's logs: the stream's `?token=` is redacted from
uvicorn's access log and handshake lines, on a real server, whatever the token looks like."""

import asyncio
import string
from collections.abc import Iterator

import httpx
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st

from console.log_redaction import REDACTED, redact
from tests.live_server import LiveServer, serving

# What a query-string value can hold: URL-safe characters and percent escapes.
TOKEN_CHARS = st.text(alphabet=string.ascii_letters + string.digits + "-._~%+/=", min_size=1)


@given(token=TOKEN_CHARS, prefix=st.sampled_from(["/v1/operator/stream?", "/x?a=1&", "GET /?"]))
def test_no_token_value_survives_redaction(token, prefix):
    for name in ("token", "access_token", "TOKEN"):
        line = f"{prefix}{name}={token}&devices=dvc_1"
        redacted = redact(line)
        assert redacted == f"{prefix}{name}={REDACTED}&devices=dvc_1"


def test_other_parameters_are_left_alone():
    assert redact("/v1/operator/devices?status=online&page=2") == (
        "/v1/operator/devices?status=online&page=2"
    )
    assert redact("/x?mytoken=abc") == "/x?mytoken=abc"


@pytest.fixture
def server(transactional_db, tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log", access_log=True) as live:
        yield live


def test_the_stream_token_is_not_written_to_the_access_log(server):
    secret_looking = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLXZhbHVl.sig"
    url = f"{server.url}/v1/operator/stream?token={secret_looking}&devices=dvc_1"
    httpx.get(url)  # a plain GET: an access-log line with the query string

    async def handshake() -> None:
        ws_url = url.replace("http://", "ws://")
        try:
            async with websockets.connect(ws_url, open_timeout=5) as socket:
                await asyncio.wait_for(socket.recv(), 5)
        except (websockets.ConnectionClosed, websockets.InvalidStatus, TimeoutError):
            pass

    asyncio.run(handshake())
    server.stop()  # flush
    log = server.log_path.read_text()
    assert "/v1/operator/stream?token=[redacted]&devices=dvc_1" in log
    assert "WebSocket /v1/operator/stream?token=[redacted]" in log
    assert secret_looking not in log
