"""A lean ASGI handler for the charger hot path: heartbeat, telemetry and the long poll.

Django's ASGI handler costs a thread hop and its full request machinery on every
request; thousands of chargers reporting every few seconds, and thousands more holding
long polls, are better served straight on the event loop. This handler does only what
those three endpoints need — auth, rate limit, body checks, validation (the rules of
api.edge, as on the Django routes) — and calls the same endpoint code as the Ninja
routes, so both answer identically. Everything else goes to Django.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
import redis
from pydantic import BaseModel

from api.auth import authenticate_charger
from api.device import endpoints
from api.edge import check_body_size, check_content_type, error_headers, validate_body
from api.envelope import HTTP_STATUS, error_body
from api.errors import DEPENDENCY_DOWN
from api.input_guard import check_query_string, load_json
from api.schemas.reporting import HeartbeatRequest, TelemetryUpload
from fleet.errors import MissingParameter, TellusError

logger = logging.getLogger("tellus.api")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class _Disconnected(Exception):
    """The charger went away before its request was read."""


def _dumps(body: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(body)
    except TypeError:
        # jsonb keeps numbers as numeric and gives 1e308 back as a 309-digit integer,
        # more than orjson's 64 bits: a command's params read from the database may hold
        # one. The standard library writes integers of any size.
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    payload = _dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    for name, value in (extra or {}).items():
        headers.append((name.lower().encode(), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isascii() and declared.isdigit() and (refused := check_body_size(int(declared))):
        raise refused
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if refused := check_body_size(size, declared=False):
            raise refused
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _check_body_type(scope: Scope, body: bytes) -> None:
    """The content-type rule for any request with a body, chunked or not, as the
    middleware applies it on the Django routes."""
    chunked = "chunked" in _header(scope, b"transfer-encoding").lower()
    if not body and not chunked:
        return
    content_type = _header(scope, b"content-type").split(";")[0].strip().lower()
    if refused := check_content_type(content_type, scope["path"]):
        raise refused


def _parse(model: type[BaseModel], scope: Scope, body: bytes) -> BaseModel:
    _check_body_type(scope, body)
    if not body:
        raise MissingParameter("body")
    return validate_body(model, load_json(body))


async def _heartbeat(scope: Scope, receive: Receive, principal) -> dict[str, Any]:
    payload = _parse(HeartbeatRequest, scope, await _read_body(scope, receive))
    return await endpoints.heartbeat(principal, payload)


async def _telemetry(scope: Scope, receive: Receive, principal) -> dict[str, Any]:
    payload = _parse(TelemetryUpload, scope, await _read_body(scope, receive))
    return await endpoints.telemetry(principal, payload)


async def _commands(scope: Scope, receive: Receive, principal) -> dict[str, Any]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    _check_body_type(scope, await _read_body(scope, receive))
    gone = asyncio.Event()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        return await endpoints.commands(
            principal,
            query.get("connector_id", [None])[0],
            query.get("wait", [None])[0],
            disconnected=gone,
        )
    finally:
        watcher.cancel()


ROUTES = {
    ("POST", "/v1/device/heartbeat"): ("device_high_frequency", _heartbeat),
    ("POST", "/v1/device/telemetry"): ("device_high_frequency", _telemetry),
    ("GET", "/v1/device/commands"): ("device_other", _commands),
}


class DeviceFastPath:
    """ASGI middleware: serve the hot charger endpoints, pass everything else on."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            ROUTES.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        rate_class, handler = route
        try:
            # The input gate first, as V1EnvelopeMiddleware does for the Django routes:
            # a NUL anywhere in the query is refused on every route, before auth.
            check_query_string(scope.get("query_string", b"").decode("latin-1"))
            principal = await authenticate_charger(_header(scope, b"authorization"), rate_class)
            body = await handler(scope, receive, principal)
            await _send_json(send, 200, body)
        except TellusError as exc:
            await _send_json(
                send,
                HTTP_STATUS[exc.code],
                error_body(exc.code, exc.message, exc.details),
                error_headers(exc.code, exc.details),
            )
        except _Disconnected:
            return
        except redis.RedisError as exc:
            logger.warning("Redis needed and unavailable on %s: %s", scope["path"], exc)
            await _send_json(send, 500, error_body(9001, DEPENDENCY_DOWN))
        except Exception:
            logger.exception("Unhandled error on %s %s", scope["method"], scope["path"])
            await _send_json(send, 500, error_body(9001, "Internal server error"))
