"""The stream bench: an operator watching 1,000 chargers over a few WebSockets while
chargers upload telemetry; measures upload → frame latency at the operator."""

import asyncio
import random
import time

import httpx
import orjson
import websockets


async def watch(uri: str, token: str, arrivals: dict, ready: asyncio.Event, stop: asyncio.Event):
    async with websockets.connect(
        uri, additional_headers={"Authorization": f"Bearer {token}"}, max_queue=None
    ) as socket:
        ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                continue
            frame = orjson.loads(raw)
            for connector in frame["connectors"]:
                key = (frame["device_id"], connector.get("power"))
                arrivals.setdefault(key, time.perf_counter())


async def run(
    base: str,
    operator_token: str,
    devices: list[str],
    device_tokens: dict[str, str],
    uploads: int,
    per_socket: int = 100,
) -> dict:
    arrivals: dict = {}
    stop = asyncio.Event()
    readies, watchers = [], []
    ws_base = base.replace("http://", "ws://")
    for start in range(0, len(devices), per_socket):
        chunk = ",".join(devices[start : start + per_socket])
        ready = asyncio.Event()
        readies.append(ready)
        watchers.append(
            asyncio.create_task(
                watch(
                    f"{ws_base}/v1/operator/stream?devices={chunk}",
                    operator_token,
                    arrivals,
                    ready,
                    stop,
                )
            )
        )
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(2)  # initial frames

    latencies, errors = [], 0
    targets = random.sample(devices, uploads)
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for index, device_id in enumerate(targets):
            power = round(100 + index / 1000, 3)
            body = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "connector_id": 1, "state": "charging", "voltage": 230.0, "current": 16.0,
                "power": power, "energy_delivered": 1.0, "soc": 50,
            }  # fmt: skip
            started = time.perf_counter()
            response = await http.post(
                "/v1/device/telemetry",
                json=body,
                headers={"Authorization": f"Bearer {device_tokens[device_id]}"},
            )
            if response.status_code != 200:
                errors += 1
                continue
            deadline = started + 5
            while (device_id, power) not in arrivals and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
            if (device_id, power) in arrivals:
                latencies.append((arrivals[(device_id, power)] - started) * 1000)
            else:
                errors += 1
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*watchers, return_exceptions=True)
    latencies.sort()
    return {
        "devices": len(devices),
        "sockets": len(watchers),
        "uploads": uploads,
        "received": len(latencies),
        "errors": errors,
        "p50_ms": latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else None,
        "max_ms": latencies[-1] if latencies else None,
    }
