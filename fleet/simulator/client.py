"""One charger's HTTP side: the envelope, its token, and the spec's retry rules.

A good client: on 429 it waits `retry_after_seconds`; on 5001/9001 and on connection
failures (a server restarting) it backs off exponentially, `min(1 s * 2^attempt, 30 s)`
plus up to 30 % jitter, and keeps trying while the fleet runs; a 401 on an expired or
revoked token gets a new token once. Any other refusal is the caller's to handle.
"""

import asyncio
import logging
import random
import time
from typing import Any

import httpx

logger = logging.getLogger("tellus.simulator")


class Refused(Exception):
    """The server answered with an error envelope that retrying will not change."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message


class Stopped(Exception):
    """The fleet is shutting down."""


def backoff_delay(attempt: int, rng: random.Random) -> float:
    base = min(1.0 * 2**attempt, 30.0)
    return base * (1.0 + 0.3 * rng.random())


class ChargerClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        rng: random.Random,
        stopping: asyncio.Event,
        latencies: list[float] | None = None,
    ):
        self.http = http
        # Where to record how long each answered telemetry upload took (make bench).
        self.latencies = latencies
        self.rng = rng
        self.stopping = stopping
        self.device_id = ""
        self.device_secret = ""
        self.token = ""
        self.token_expires_at = 0.0
        self.stats: dict[str, int] = {}

    def count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    async def pause(self, seconds: float) -> None:
        """Sleep, or stop at once when the fleet stops."""
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopped()

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict | None = None,
        auth: bool = True,
        timeout: float = 15.0,
        held: bool = False,
    ) -> Any:
        """The envelope's `data`, retrying what the spec says to retry. A `held` request
        (a long poll) is abandoned as soon as the fleet stops, not when the server answers."""
        attempt = 0
        renewed = False
        while True:
            if self.stopping.is_set():
                raise Stopped()
            if auth and time.time() > self.token_expires_at - 60:
                await self.renew_token()
            headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
            sent = time.perf_counter()
            request = self.http.request(
                method, path, json=body, params=params, headers=headers, timeout=timeout
            )
            try:
                response = await (self._unless_stopped(request) if held else request)
            except httpx.HTTPError as error:
                self.count("connection_errors")
                logger.debug("%s %s: %r", method, path, error)
                await self.pause(backoff_delay(attempt, self.rng))
                attempt += 1
                continue
            try:
                envelope = response.json()
            except ValueError:
                envelope = {}
            code = envelope.get("code", 9001 if response.status_code >= 500 else -1)
            if response.status_code == 200 and code == 0:
                self.count("ok")
                if self.latencies is not None and path == "/v1/device/telemetry":
                    self.latencies.append(time.perf_counter() - sent)
                return envelope.get("data")
            if response.status_code == 429 or code == 5001:
                self.count("rate_limited")
                details = envelope.get("details") or {}
                retry = details.get("retry_after_seconds")
                wait = float(retry) if isinstance(retry, int | float) and retry > 0 else None
                await self.pause(wait or backoff_delay(attempt, self.rng))
                attempt += 1
                continue
            if response.status_code >= 500 or code == 9001:
                self.count("server_errors")
                await self.pause(backoff_delay(attempt, self.rng))
                attempt += 1
                continue
            if response.status_code == 401 and auth and not renewed:
                self.count("token_renewals_on_401")
                renewed = True
                await self.renew_token()
                continue
            self.count("refused")
            raise Refused(response.status_code, code, str(envelope.get("message", "")))

    async def _unless_stopped(self, request) -> httpx.Response:
        answer = asyncio.ensure_future(request)
        stopped = asyncio.ensure_future(self.stopping.wait())
        try:
            await asyncio.wait({answer, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not answer.done():
            answer.cancel()
            raise Stopped()
        return answer.result()

    async def renew_token(self) -> None:
        data = await self.call(
            "POST",
            "/v1/device/token",
            {
                "device_id": self.device_id,
                "device_secret": self.device_secret,
                "grant_type": "client_credentials",
            },
            auth=False,
        )
        self.token = data["access_token"]
        self.token_expires_at = time.time() + float(data.get("expires_in", 3600))
