"""The charger hot path's own PostgreSQL pool (fleet.db) after its sessions were killed.

A restart, a failover or pg_terminate_backend ends every session the pool holds while it
sits idle. The pool must hand out only live connections afterwards: before, each dead
connection failed the next statement sent on it (AdminShutdown), one request per
connection, whenever it next came up.
"""

import asyncio

import psycopg
import pytest

from fleet import db

pytestmark = pytest.mark.django_db(transaction=True)


async def terminate(pids: list[int]) -> None:
    """End the sessions, and return once they are gone (as after a restart)."""
    async with await psycopg.AsyncConnection.connect(**db._conninfo(), autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids]
        )
        for _ in range(300):
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
            )
            if (await cursor.fetchone())[0] == 0:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"sessions {pids} still there 30 s after being terminated")


async def fill(pool) -> list[int]:
    """As many idle connections as the pool may hold; their server process ids."""
    held = [await pool.getconn() for _ in range(db.POOL_MAX_SIZE)]
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        await pool.putconn(conn)
    return pids


async def select_one(pool) -> int:
    async with pool.connection() as conn:
        return (await (await conn.execute("SELECT 1")).fetchone())[0]


async def test_after_every_pooled_session_was_killed_each_statement_gets_a_live_connection():
    pool = await db.pg_pool()
    try:
        pids = await fill(pool)
        await terminate(pids)
        # Sequential: each takes the next idle connection, so every dead one comes up.
        answers = [await select_one(pool) for _ in range(2 * db.POOL_MAX_SIZE)]
        assert answers == [1] * (2 * db.POOL_MAX_SIZE)
        # Concurrent, after a second kill: all dead connections are drawn at once.
        await terminate(await fill(pool))
        together = await asyncio.gather(*(select_one(pool) for _ in range(db.POOL_MAX_SIZE)))
        assert together == [1] * db.POOL_MAX_SIZE
    finally:
        await db.close_pools()
