"""Async PostgreSQL access for the charger hot path (telemetry, heartbeat, long poll).

Django's ORM runs on a thread; on PostgreSQL the hot path instead talks to the database
through a psycopg async pool on the event loop, one round trip per request. The ORM
implementations in fleet.services stay the reference and serve the SQLite default.

A database restart (or a failover, or `pg_terminate_backend`) kills every connection the
pool holds while they sit idle. The pool hands out only live ones (HotPathPool; the ORM's
pool is LiveConnectionPool, by the same rule), so once the database is back no request
pays for a dead connection. The check comes
before a statement is sent: nothing is sent again after a failure it may have outlived
(a telemetry batch or a command claim that reached the database is not repeated).
"""

import logging
import select
from functools import cache
from time import monotonic

import psycopg
from django.db import connections
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from fleet.pools import POSTGRES_POOL_MAX_SIZE, POSTGRES_POOL_MIN_SIZE, PerLoop

logger = logging.getLogger("tellus.db")


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


def _input_waiting(conn: psycopg.BaseConnection) -> bool:
    """Whether the server has sent something to a connection nobody asked anything of.

    An idle connection that listens to nothing hears from the server only when its
    session ends (the termination notice and the socket's end, on a restart, a failover
    or pg_terminate_backend) or, rarely, a parameter change. A poll(2) with no timeout:
    no round trip to the database."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _needs_round_trip(conn: psycopg.BaseConnection) -> bool | None:
    """False: live as far as can be told without asking; True: ask the server; None:
    dead already."""
    if conn.broken or conn.closed:
        return None
    try:
        return _input_waiting(conn)
    except (psycopg.Error, OSError, ValueError):
        return None


_DEAD = (psycopg.Error, OSError, ValueError)


async def connection_is_live(conn: psycopg.AsyncConnection) -> bool:
    """True unless the connection is dead; one round trip only when its socket says the
    server has spoken since it was last used."""
    ask = _needs_round_trip(conn)
    if ask:
        try:
            # Reads what was sent: raises if the session has ended.
            await AsyncConnectionPool.check_connection(conn)
        except _DEAD:
            return False
    return ask is not None


def connection_is_live_sync(conn: psycopg.Connection) -> bool:
    """connection_is_live for a thread's connection (the ORM's pool)."""
    ask = _needs_round_trip(conn)
    if ask:
        try:
            ConnectionPool.check_connection(conn)
        except _DEAD:
            return False
    return ask is not None


# Why these pools rather than psycopg_pool's own `check=` (which Django's CONN_HEALTH_CHECKS
# passes): that makes a round trip on every checkout, and after each connection that fails
# it sleeps with a growing backoff (1 s, 2 s, 4 s…) before trying the next: with a pool
# full of connections a restart killed, the first requests after it wait for seconds or
# time out (PoolTimeout after 30 s). Here a checkout costs no round trip unless the server
# has spoken, and a dead connection is replaced at once: the request goes on to the next
# idle connection, or waits for the one opened in its place. Every idle connection may be
# dead, never more: max_size + 1 draws find a live one (a new connection is live).


class HotPathPool(AsyncConnectionPool):
    """The hot path's pool: hands out only live connections."""

    async def getconn(self, timeout: float | None = None) -> psycopg.AsyncConnection:
        deadline = monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(self.max_size + 1):
            conn = await super().getconn(timeout=deadline - monotonic())
            if await connection_is_live(conn):
                return conn
            logger.info("Discarding a dead database connection from %s", self.name)
            await conn.close()
            await self.putconn(conn)  # closed: the pool opens a new one in its place
        raise PoolTimeout(f"no live connection in {self.name!r}")


class LiveConnectionPool(ConnectionPool):
    """The ORM's pool (console.postgresql): hands out only live connections."""

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        deadline = monotonic() + (self.timeout if timeout is None else timeout)
        for _ in range(self.max_size + 1):
            conn = super().getconn(timeout=deadline - monotonic())
            if connection_is_live_sync(conn):
                return conn
            logger.info("Discarding a dead database connection from %s", self.name)
            conn.close()
            self.putconn(conn)
        raise PoolTimeout(f"no live connection in {self.name!r}")


def _hot_path_pool() -> HotPathPool:
    return HotPathPool(
        kwargs={**_conninfo(), "autocommit": True},
        min_size=POSTGRES_POOL_MIN_SIZE,
        max_size=POSTGRES_POOL_MAX_SIZE,
        open=False,
        name="tellus-hot-path",
    )


_pools = PerLoop(_hot_path_pool)


async def pg_pool() -> AsyncConnectionPool:
    """The pool of the running event loop, opened on first use."""
    pool = _pools.get()
    if pool.closed:
        await pool.open()
    return pool


async def close_pools() -> None:
    pool = _pools.pop()
    if pool is not None:
        await pool.close()
