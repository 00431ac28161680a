"""How many telemetry streams each API client has open, counted across server processes.

A stream holds a lease in Redis while it lives: one member per subscription set of the
client (the stream's own rule keeps one connection per client and set, so sets are
streams; decision: stream-rules), scored with the time its lease runs out. The stream
refreshes its lease every third of `TELLUS_STREAM_LEASE_SECONDS` and releases it when it
closes. A stream whose
process dies without closing (killed, host lost) stops counting when its lease runs out,
so no count leaks. Times come from the Redis server's clock (`TIME` inside the scripts),
so hosts whose clocks differ agree on which leases have run out.

The newest connection for a set takes the set's lease over (the older one is replaced,
4409), so reconnecting for the same devices never needs a free slot; an older
connection that finds its lease taken over has been replaced.

On the embedded default (no Redis) there is one process: the leases live in its memory.
"""

import time

import redis.asyncio as aioredis
from django.conf import settings

from fleet.pools import redis_client_per_loop

# KEYS: the client's leases (sorted set: set digest → expiry, ms), their owners (hash:
# set digest → the channel name of the connection holding it).
# ARGV: set digest, owner, lease ms, cap. 1 = acquired, 0 = the client is at its cap.
_ACQUIRE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local lease = tonumber(ARGV[3])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
    redis.call('HDEL', KEYS[2], member)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1])
        and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
    return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
redis.call('PEXPIRE', KEYS[2], lease)
return 1
"""

# ARGV: set digest, owner, lease ms. 1 = refreshed (or re-created after Redis lost it),
# 0 = a newer connection holds the set's lease.
_REFRESH = """
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if owner and owner ~= ARGV[2] then
    return 0
end
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
redis.call('PEXPIRE', KEYS[2], lease)
return 1
"""

# ARGV: set digest, owner. Only the holder releases: a replaced connection closing late
# must not free the lease its replacement now holds.
_RELEASE = """
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
    redis.call('ZREM', KEYS[1], ARGV[1])
    redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1
"""

_clients = redis_client_per_loop(lambda: settings.REDIS_URL, max_connections=16, timeout=5)
# The embedded default: client id → set digest → (owner, expiry on the monotonic clock).
_memory: dict[str, dict[str, tuple[str, float]]] = {}


def _client() -> aioredis.Redis:
    return _clients.get()


def _keys(client_id: str) -> list[str]:
    return [f"tellus:stream:leases:{client_id}", f"tellus:stream:owners:{client_id}"]


def _lease_ms() -> int:
    return max(1, round(settings.TELLUS_STREAM_LEASE_SECONDS * 1000))


def refresh_interval() -> float:
    """Seconds between refreshes: three chances before the lease runs out."""
    return settings.TELLUS_STREAM_LEASE_SECONDS / 3


def _live_memory_leases(client_id: str) -> dict[str, tuple[str, float]]:
    now = time.monotonic()
    leases = _memory.setdefault(client_id, {})
    for digest in [digest for digest, (_, expiry) in leases.items() if expiry <= now]:
        del leases[digest]
    return leases


async def acquire(client_id: str, digest: str, owner: str) -> bool:
    """Take a lease for the client's subscription set `digest`; False when the client
    already holds `TELLUS_STREAM_MAX_PER_CLIENT` leases for other sets. Raises Redis's
    errors when Redis does not answer."""
    cap = settings.TELLUS_STREAM_MAX_PER_CLIENT
    if not settings.REDIS_URL:
        leases = _live_memory_leases(client_id)
        if digest not in leases and len(leases) >= cap:
            return False
        leases[digest] = (owner, time.monotonic() + settings.TELLUS_STREAM_LEASE_SECONDS)
        return True
    args = [digest, owner, _lease_ms(), cap]
    return bool(await _client().eval(_ACQUIRE, 2, *_keys(client_id), *args))


async def refresh(client_id: str, digest: str, owner: str) -> bool:
    """Extend the lease; False when a newer connection for the same set holds it."""
    if not settings.REDIS_URL:
        leases = _live_memory_leases(client_id)
        holder = leases.get(digest, (owner, 0.0))[0]
        if holder != owner:
            return False
        leases[digest] = (owner, time.monotonic() + settings.TELLUS_STREAM_LEASE_SECONDS)
        return True
    args = [digest, owner, _lease_ms()]
    return bool(await _client().eval(_REFRESH, 2, *_keys(client_id), *args))


async def release(client_id: str, digest: str, owner: str) -> None:
    if not settings.REDIS_URL:
        leases = _memory.get(client_id, {})
        if leases.get(digest, ("", 0.0))[0] == owner:
            del leases[digest]
        if not leases:
            _memory.pop(client_id, None)
        return
    await _client().eval(_RELEASE, 2, *_keys(client_id), digest, owner)
