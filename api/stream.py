"""The operator telemetry stream: `wss://…/v1/operator/stream?devices=dvc_1,dvc_2`.

Auth by `Authorization: Bearer …` on the handshake or `?token=` (decision: stream-auth), `read`
scope. Frames (TelemetryFrame, not enveloped) go out for each subscribed device once per cadence
(idle devices too, decision: stream-rules) and promptly after fresh telemetry, at most one per
device per minimum interval. Refusals accept the socket and then close it with a code and a reason,
so clients can tell why:

- 4400 no or too many device ids
- 4401 missing, invalid or expired token; also when the token expires or is revoked
  (secret rotated, scopes or activation changed, client deleted) during the stream
- 4403 the token lacks the `read` scope
- 4404 a device that is unknown or not the caller's; also when one leaves the caller's
  fleet during the stream
- 4409 replaced by a newer connection of the same client for the same set of devices
  (decision: stream-rules: the newest wins, the older is closed)
- 4429 the client's operator_query rate class is exhausted (the handshake is one read),
  or the client already has TELLUS_STREAM_MAX_PER_CLIENT streams open (any process;
  api/stream_leases.py)
"""

import asyncio
import hashlib
import logging
import time
from contextlib import suppress
from datetime import UTC, datetime
from typing import Literal, TypedDict
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from api import stream_leases
from api.auth import authenticate_operator_call, parse_bearer, scope_target
from api.input_guard import check_query_string
from fleet import tokens
from fleet.errors import (
    InvalidParameter,
    NotAuthenticated,
    PermissionDenied,
    TellusError,
    TokenExpired,
    TooManyRequests,
)
from fleet.live.messages import (
    CommandStatusMessage,
    DeviceEventMessage,
    DeviceReassignedMessage,
    DeviceStatusMessage,
    TelemetrySampleMessage,
)
from fleet.live.publish import device_group
from fleet.models import Connector
from fleet.outage import LIVE_UPDATES_DOWN, REDIS_ERRORS
from fleet.services import credential_versions
from fleet.services.auth import OperatorPrincipal
from fleet.services.tenancy import devices_of
from fleet.telemetry_fields import FRAME

logger = logging.getLogger(__name__)


class StreamReplacedMessage(TypedDict):
    """Sent on the stream's own replacement group, not a device group: the newest
    connection of a client for a set of devices closes the older ones."""

    type: Literal["stream.replaced"]
    by: str  # the channel name of the newest connection


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@sync_to_async
def _authenticate(token: str, path: str, headers: dict[bytes, bytes]) -> OperatorPrincipal:
    """The handshake is a GET of the stream URL, let in like any operator read."""
    return authenticate_operator_call(
        token,
        "read",
        "operator_query",
        method="GET",
        path=path,
        signature=_text(headers.get(b"x-signature")),
        timestamp=_text(headers.get(b"x-timestamp")),
    )


def _text(raw: bytes | None) -> str | None:
    return raw.decode("latin-1") if raw is not None else None


@sync_to_async
def _snapshots(operator_id: str, device_ids: list[str]) -> dict[str, dict[int, dict]] | None:
    """Live connector state of the devices, or None if any is not the operator's."""
    owned = set(
        devices_of(operator_id).filter(device_id__in=device_ids).values_list("device_id", flat=True)
    )
    if owned != set(device_ids):
        return None
    state: dict[str, dict[int, dict]] = {device_id: {} for device_id in device_ids}
    for row in Connector.objects.filter(device_id__in=device_ids).values(
        "device_id", "connector_id", *FRAME
    ):
        state[row["device_id"]][row["connector_id"]] = {
            "connector_id": row["connector_id"],
            **{field: row[field] for field in FRAME},
        }
    return state


class TelemetryStreamConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        self.tasks: list[asyncio.Task] = []
        self.device_ids: list[str] = []
        self.replacement_group = ""
        self.lease: tuple[str, str] | None = None
        query_string = self.scope.get("query_string", b"").decode("latin-1")
        try:
            check_query_string(query_string)
        except InvalidParameter:
            return await self.close(4400, "the query string contains a NUL character")
        query = parse_qs(query_string)
        headers = dict(self.scope.get("headers", []))
        path = scope_target(self.scope) or self.scope.get("path", "") + (
            f"?{query_string}" if query_string else ""
        )
        try:
            principal = await _authenticate(self._token(query), path, headers)
        except TooManyRequests as exc:
            retry = exc.details["retry_after_seconds"]
            return await self.close(4429, f"rate limit exceeded; retry after {retry} s")
        except TokenExpired:
            return await self.close(4401, "token expired")
        except NotAuthenticated:
            return await self.close(4401, "missing or invalid token")
        except PermissionDenied:
            return await self.close(4403, "the token lacks the read scope")
        except TellusError:
            return await self.close(4401, "missing or invalid token")

        device_ids = sorted(
            {d.strip() for d in ",".join(query.get("devices", [])).split(",") if d.strip()}
        )
        if not device_ids:
            return await self.close(4400, "devices is required: ?devices=dvc_1,dvc_2")
        if len(device_ids) > settings.TELLUS_STREAM_MAX_DEVICES:
            return await self.close(
                4400, f"at most {settings.TELLUS_STREAM_MAX_DEVICES} devices per stream"
            )
        snapshots = await _snapshots(principal.operator_id, device_ids)
        if snapshots is None:
            return await self.close(4404, "unknown device in devices")

        self.operator_id, self.token_version = principal.operator_id, principal.version
        loop = asyncio.get_running_loop()
        self.stop_watching = credential_versions.watch(
            tokens.OPERATOR,
            principal.client_id,
            lambda version: loop.call_soon_threadsafe(self._credentials_changed, version),
        )
        self.device_ids, self.state = device_ids, snapshots
        self.last_sent: dict[str, float] = {}
        self.pending: dict[str, asyncio.Task] = {}
        # One connection per client and subscription set: the newest replaces the older.
        digest = hashlib.sha256(",".join(device_ids).encode()).hexdigest()[:24]
        self.replacement_group = f"stream.{principal.client_id}.{digest}"
        replaced: StreamReplacedMessage = {"type": "stream.replaced", "by": self.channel_name}
        for attempt in (1, 2):
            try:
                # The set's lease first: a client at its cap is refused before it replaces
                # anything (a new connection for a set it already streams takes that
                # set's lease over, so it is never refused).
                if not await stream_leases.acquire(principal.client_id, digest, self.channel_name):
                    cap = settings.TELLUS_STREAM_MAX_PER_CLIENT
                    return await self.close(
                        4429, f"at most {cap} concurrent streams per client; close one first"
                    )
                self.lease = (principal.client_id, digest)
                await self.channel_layer.group_send(self.replacement_group, replaced)
                await self.channel_layer.group_add(self.replacement_group, self.channel_name)
                for device_id in device_ids:
                    await self.channel_layer.group_add(device_group(device_id), self.channel_name)
                break
            except REDIS_ERRORS as error:
                if attempt == 1:
                    # Just after Redis restarted, the layer's first use of its old
                    # connection fails once and reconnects on the next.
                    await asyncio.sleep(0.1)
                    continue
                # Live frames travel through Redis: without it there is nothing to stream.
                logger.warning("Stream refused, Redis unavailable: %s", error)
                return await self.close(1013, LIVE_UPDATES_DOWN)
        self.tasks.append(loop.create_task(self._cadence()))
        self.tasks.append(loop.create_task(self._expire_at(principal.expires_at)))
        self.tasks.append(loop.create_task(self._keep_lease()))
        for device_id in device_ids:
            await self._send_frame(device_id)

    def _token(self, query: dict[str, list[str]]) -> str:
        for name, value in self.scope.get("headers", []):
            if name == b"authorization":
                return parse_bearer(value.decode("latin-1"))
        tokens = query.get("token")
        if not tokens:
            raise NotAuthenticated()
        return tokens[0]

    async def disconnect(self, code: int) -> None:
        if getattr(self, "stop_watching", None):
            self.stop_watching()
        for task in getattr(self, "tasks", []):
            task.cancel()
        for pending in getattr(self, "pending", {}).values():
            pending.cancel()
        if getattr(self, "lease", None):
            with suppress(*REDIS_ERRORS):  # or it runs out by itself
                await stream_leases.release(*self.lease, self.channel_name)
        with suppress(*REDIS_ERRORS):  # Redis forgets a dead subscriber by itself
            for device_id in getattr(self, "device_ids", []):
                await self.channel_layer.group_discard(device_group(device_id), self.channel_name)
            if getattr(self, "replacement_group", ""):
                await self.channel_layer.group_discard(self.replacement_group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """The client sends nothing; anything it does send is ignored, undecoded: text
        that is not JSON (or nested too deep to decode) and binary frames included."""

    # --- frames ------------------------------------------------------------------------

    async def _send_frame(self, device_id: str) -> None:
        self.last_sent[device_id] = time.monotonic()
        connectors = [
            {key: value for key, value in connector.items() if value is not None}
            for _, connector in sorted(self.state[device_id].items())
        ]
        await self.send_json(
            {"device_id": device_id, "timestamp": _now(), "connectors": connectors}
        )

    async def _cadence(self) -> None:
        cadence = settings.TELLUS_STREAM_CADENCE_SECONDS
        while True:
            await asyncio.sleep(cadence)
            now = time.monotonic()
            for device_id in self.device_ids:
                # A device that just had a prompt frame is not sent again right away.
                if now - self.last_sent.get(device_id, 0) >= cadence / 2:
                    await self._send_frame(device_id)

    def _credentials_changed(self, version: int) -> None:
        """The client's secret, scopes or activation changed (or it was deleted), in any
        process: a stream on a token of the old version closes at once."""
        if version != self.token_version:
            self.tasks.append(asyncio.ensure_future(self.close(4401, "token revoked")))

    async def _keep_lease(self) -> None:
        """Refresh the stream's lease while it lives, so it keeps counting towards the
        client's cap; a process that dies stops refreshing and its leases run out."""
        while True:
            await asyncio.sleep(stream_leases.refresh_interval())
            try:
                held = await stream_leases.refresh(*self.lease, self.channel_name)
            except REDIS_ERRORS:
                continue  # open streams outlive a Redis outage; the lease returns with it
            if not held:  # a newer connection for the same devices took the lease over
                await self.close(4409, "replaced by a newer connection for the same devices")
                return

    async def _expire_at(self, expires_at: int) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.close(4401, "token expired")

    async def _frame_soon(self, device_id: str) -> None:
        """Send promptly, but at most one frame per device per minimum interval."""
        if device_id in self.pending:
            return
        wait = (
            self.last_sent.get(device_id, 0)
            + settings.TELLUS_STREAM_MIN_INTERVAL_SECONDS
            - time.monotonic()
        )
        if wait <= 0:
            await self._send_frame(device_id)
            return
        loop = asyncio.get_running_loop()
        self.pending[device_id] = loop.create_task(self._delayed_frame(device_id, wait))

    async def _delayed_frame(self, device_id: str, wait: float) -> None:
        await asyncio.sleep(wait)
        self.pending.pop(device_id, None)
        await self._send_frame(device_id)

    # --- channel-layer messages ----------------------------------------------------------
    # Channels calls the method named after a message's type (`telemetry.sample` →
    # telemetry_sample); every type of fleet.live.messages has one here.

    async def telemetry_sample(self, message: TelemetrySampleMessage) -> None:
        device_id = message["device_id"]
        if device_id not in self.state:
            return
        connector = message["connector"]
        self.state[device_id][connector["connector_id"]] = {
            "connector_id": connector["connector_id"],
            **{field: connector.get(field) for field in FRAME},
        }
        await self._frame_soon(device_id)

    async def device_event(self, message: DeviceEventMessage) -> None:
        """Events change connector states through telemetry; nothing to send here."""

    async def device_status(self, message: DeviceStatusMessage) -> None:
        """Online/offline is not part of a TelemetryFrame."""

    async def command_status(self, message: CommandStatusMessage) -> None:
        """Command progress is not part of a TelemetryFrame."""

    async def device_reassigned(self, message: DeviceReassignedMessage) -> None:
        """A device that left the caller's fleet ends the stream, as it would refuse it."""
        device_id = message["device_id"]
        if device_id in self.state and message["operator_id"] != self.operator_id:
            await self.close(4404, f"device {device_id} left your fleet")

    async def stream_replaced(self, message: StreamReplacedMessage) -> None:
        if message.get("by") != self.channel_name:
            await self.close(4409, "replaced by a newer connection for the same devices")
