"""The baselines for `make bench`: the same telemetry insert behind the barest ASGI app
(no framework, no auth, no validation), with a psycopg async pool. Our server is
measured as a fraction of these.

`app` commits row by row; `grouped_app` commits in groups the way our server does (the
samples that arrive while a group is being written go in the next one, one statement
each group, and every request is answered only after its own row is committed), so the
ratio against it compares like with like."""

import asyncio
import os

import orjson
from psycopg_pool import AsyncConnectionPool

from fleet.pools import POSTGRES_POOL_MAX_SIZE, POSTGRES_POOL_MIN_SIZE

INSERT = """
INSERT INTO fleet_telemetrysample
    (device_id, connector_id, "timestamp", received_at, state, voltage, "current", power,
     energy_delivered, soc, temperature)
VALUES (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, %s)
"""
INSERT_GROUP = """
INSERT INTO fleet_telemetrysample
    (device_id, connector_id, "timestamp", received_at, state, voltage, "current", power,
     energy_delivered, soc, temperature)
SELECT device_id, connector_id, "timestamp", now(), state, voltage, "current", power,
       energy_delivered, soc, temperature
FROM unnest(%s::varchar[], %s::int[], %s::timestamptz[], %s::varchar[], %s::float8[],
            %s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::float8[])
    AS g(device_id, connector_id, "timestamp", state, voltage, "current", power,
         energy_delivered, soc, temperature)
"""
OK = orjson.dumps({"code": 0, "message": "success", "data": None})
MAX_GROUP = 500
pool: AsyncConnectionPool | None = None
pending: list[tuple[tuple, asyncio.Future]] = []
writing: asyncio.Task | None = None


async def _pool() -> AsyncConnectionPool:
    global pool
    if pool is None:
        # Sized as our hot path's pool, so the two compare like with like.
        pool = AsyncConnectionPool(
            os.environ["BENCH_CONNINFO"],
            min_size=POSTGRES_POOL_MIN_SIZE,
            max_size=POSTGRES_POOL_MAX_SIZE,
            open=False,
        )
        await pool.open()
    return pool


async def _sample(receive) -> tuple:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    sample = orjson.loads(body)
    return (
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
    )


async def _answer(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": OK})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    row = await _sample(receive)
    async with (await _pool()).connection() as conn:
        await conn.execute(INSERT, row)
    await _answer(send)


async def _drain() -> None:
    global pending
    while pending:
        group, pending = pending[:MAX_GROUP], pending[MAX_GROUP:]
        columns = [list(column) for column in zip(*(row for row, _ in group), strict=True)]
        try:
            async with (await _pool()).connection() as conn:
                await conn.execute(INSERT_GROUP, columns)
        except Exception as exc:
            for _, done in group:
                done.set_exception(exc)
        else:
            for _, done in group:
                done.set_result(None)


async def grouped_app(scope, receive, send):
    global writing
    if scope["type"] != "http":
        return
    row = await _sample(receive)
    done = asyncio.get_running_loop().create_future()
    pending.append((row, done))
    if writing is None or writing.done():
        writing = asyncio.get_running_loop().create_task(_drain())
    await done
    await _answer(send)
