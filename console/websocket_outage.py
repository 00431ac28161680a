"""WebSockets while Redis is down: a clean "try again later" instead of a 500.

Channels subscribes every consumer to the channel layer before any consumer code runs, so
with Redis unreachable the handshake would fail inside Channels with a traceback. This
outermost WebSocket wrapper answers such a handshake with close code 1013 (try again
later), which clients are expected to retry with backoff.
"""

import logging

from fleet.outage import LIVE_UPDATES_DOWN, REDIS_ERRORS

logger = logging.getLogger("tellus.outage")


class RedisOutageGuard:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        state = {"received": False, "accepted": False, "closed": False}

        async def tracked_receive():
            message = await receive()
            state["received"] = True
            return message

        async def tracked_send(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            await self.app(scope, tracked_receive, tracked_send)
        except REDIS_ERRORS as error:
            if state["closed"]:
                return
            logger.warning("WebSocket %s refused, Redis unavailable: %s", scope["path"], error)
            if not state["accepted"]:
                if not state["received"]:
                    await receive()  # the websocket.connect message comes first
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1013, "reason": LIVE_UPDATES_DOWN})
