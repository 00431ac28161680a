"""The baseline for `make bench`: the same telemetry insert behind the barest ASGI app
(no framework, no auth, no validation), with a psycopg async pool. Our server is
measured as a fraction of this."""

import os

import orjson
from psycopg_pool import AsyncConnectionPool

INSERT = """
INSERT INTO fleet_telemetrysample
    (device_id, connector_id, "timestamp", received_at, state, voltage, "current", power,
     energy_delivered, soc, temperature)
VALUES (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s)
"""
OK = orjson.dumps({"code": 0, "message": "success", "data": None})
pool: AsyncConnectionPool | None = None


async def app(scope, receive, send):
    global pool
    if scope["type"] != "http":
        return
    if pool is None:
        pool = AsyncConnectionPool(
            os.environ["BENCH_CONNINFO"], min_size=2, max_size=20, open=False
        )
        await pool.open()
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    sample = orjson.loads(body)
    async with pool.connection() as conn:
        await conn.execute(
            INSERT,
            (
                os.environ["BENCH_DEVICE_ID"],
                sample["connector_id"],
                sample["timestamp"],
                sample["state"],
                sample["voltage"],
                sample["current"],
                sample["power"],
                sample["energy_delivered"],
                sample.get("soc"),
                sample.get("temperature"),
            ),
        )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": OK})
