"""Many chargers long-polling at once, over plain asyncio sockets (no client library, so
the load generator stays small next to the server it measures)."""

import asyncio
import time

import orjson


class Poller:
    """One charger's long poll on its own connection."""

    def __init__(self, host: str, port: int, token: str, wait: int):
        self.host, self.port, self.token, self.wait = host, port, token, wait
        self.status: int | None = None
        self.body: dict | None = None
        self.received_at: float | None = None
        self.error: str | None = None
        self.sent = asyncio.Event()

    async def run(self) -> None:
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            request = (
                f"GET /v1/device/commands?connector_id=1&wait={self.wait} HTTP/1.1\r\n"
                f"Host: {self.host}\r\nAuthorization: Bearer {self.token}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            self.sent.set()
            status_line = await reader.readline()
            self.status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.body = orjson.loads(await reader.readexactly(length))
            self.received_at = time.perf_counter()
            writer.close()
        except Exception as exc:  # counted as an error by the bench
            self.error = f"{type(exc).__name__}: {exc}"
            self.sent.set()
