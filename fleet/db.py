"""Async PostgreSQL access for the charger hot path (telemetry, heartbeat, long poll).

Django's ORM runs on a thread; on PostgreSQL the hot path instead talks to the database
through a psycopg async pool on the event loop, one round trip per request. The ORM
implementations in fleet.services stay the reference and serve the SQLite default.
"""

import asyncio
import weakref
from functools import cache

from django.db import connections
from psycopg_pool import AsyncConnectionPool

_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool]" = (
    weakref.WeakKeyDictionary()
)
POOL_MAX_SIZE = 20


@cache
def uses_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


def _conninfo() -> dict:
    # Read at pool creation, so a test database swapped in by the test runner is used.
    settings = connections["default"].settings_dict
    info = {
        "dbname": settings["NAME"],
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        **{k: v for k, v in settings.get("OPTIONS", {}).items() if k != "pool"},
    }
    return {key: value for key, value in info.items() if value is not None}


async def pg_pool() -> AsyncConnectionPool:
    """The pool of the running event loop, opened on first use."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = AsyncConnectionPool(
            kwargs={**_conninfo(), "autocommit": True},
            min_size=2,
            max_size=POOL_MAX_SIZE,
            open=False,
            name="tellus-hot-path",
        )
        _pools[loop] = pool
    if pool.closed:
        await pool.open()
    return pool


async def close_pools() -> None:
    loop = asyncio.get_running_loop()
    pool = _pools.pop(loop, None)
    if pool is not None:
        await pool.close()
