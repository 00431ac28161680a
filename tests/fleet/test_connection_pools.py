"""Both PostgreSQL pools after every session they held was killed.

A restart, a failover or pg_terminate_backend ends every session a pool holds while it
sits idle. Each pool must hand out only live connections afterwards. Before: the charger
hot path's own pool (fleet.db) failed the next statement sent on each dead connection
(AdminShutdown), one request per connection, whenever it next came up; the ORM's pool
(psycopg_pool's check, as Django configures it) slept 1 s, 2 s, 4 s… after each dead
connection it drew, and a request that drew five gave up (PoolTimeout).
"""

import asyncio

import psycopg
import pytest
from django.db import connection

from fleet import db
from fleet.pools import POSTGRES_POOL_MAX_SIZE

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
    held = [await pool.getconn() for _ in range(POSTGRES_POOL_MAX_SIZE)]
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
        answers = [await select_one(pool) for _ in range(2 * POSTGRES_POOL_MAX_SIZE)]
        assert answers == [1] * (2 * POSTGRES_POOL_MAX_SIZE)
        # Concurrent, after a second kill: all dead connections are drawn at once.
        await terminate(await fill(pool))
        together = await asyncio.gather(*(select_one(pool) for _ in range(POSTGRES_POOL_MAX_SIZE)))
        assert together == [1] * POSTGRES_POOL_MAX_SIZE
    finally:
        await db.close_pools()


def test_after_every_pooled_session_was_killed_the_orm_gets_a_live_connection_at_once():
    # The ORM's pool is this class (console.postgresql); the test fills a pool of its own
    # with the ORM's settings, so connections other tests' threads still hold from the
    # shared pool neither block it nor are killed under them.
    assert isinstance(connection.pool, db.LiveConnectionPool)
    params = {**connection.get_connection_params(), "autocommit": True}
    with db.LiveConnectionPool(kwargs=params, min_size=0, max_size=20, open=True) as pool:
        held = [pool.getconn() for _ in range(pool.max_size)]
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:
            pool.putconn(conn)
        asyncio.run(terminate(pids))
        answers = []
        for _ in range(2 * pool.max_size):
            with pool.connection() as conn:
                answers.append(conn.execute("SELECT 1").fetchone()[0])
    assert answers == [1] * (2 * pool.max_size)
