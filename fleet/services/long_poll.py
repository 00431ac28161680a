"""The charger's long poll for its next command."""

import asyncio

from django.conf import settings

from fleet.live.publish import command_waiter
from fleet.services.commands import Delivery, claim_commands


async def next_command(
    device_id: str,
    connector_id: int,
    wait_seconds: float,
    disconnected: asyncio.Event | None = None,
) -> Delivery | None:
    """The oldest deliverable command for the connector (or the whole device), waiting up
    to `wait_seconds` for one to be queued. Nothing is claimed for a charger that has
    gone away while waiting. Without Redis, the database is polled instead."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    async with command_waiter(device_id) as waiter:
        while True:
            if disconnected is not None and disconnected.is_set():
                return None
            claimed = await claim_commands(device_id, connector_id, limit=1, via="long_poll")
            if claimed:
                return claimed[0]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if await waiter.reachable():
                if not await _wait(waiter, remaining, disconnected):
                    return None
            else:
                # Without Redis a command queued by another process wakes nobody here:
                # look in the database at a modest interval until the poll ends.
                interval = settings.TELLUS_LONG_POLL_FALLBACK_SECONDS
                await _wait(waiter, min(remaining, interval), disconnected)


async def _wait(waiter, timeout: float, disconnected: asyncio.Event | None) -> bool:
    """True when woken by a queued command; False on timeout or disconnect."""
    if disconnected is None:
        return await waiter.wait(timeout)
    woken = asyncio.ensure_future(waiter.wait(timeout))
    gone = asyncio.ensure_future(disconnected.wait())
    done, pending = await asyncio.wait({woken, gone}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return woken in done and woken.result()
