"""Fleet-scale run of `make bench`: the simulator's N chargers at real cadence against one
server (2 uvicorn workers), both on this machine.

For each N of BENCH_FLEET_SIZES (default 250, 500, 750, 1000, 1500, 2000), the fleet runs
a warm-up and then BENCH_FLEET_SECONDS (default 120) measured: telemetry latency as the
chargers see it (send to answer), every request that was not answered 200, the CPU
seconds the server processes and the simulator spent, the simulator's own event-loop lag
(how late a 50 ms timer fires: the part of a charger's latency spent queued in the
simulator, not the server) and whether a server worker was restarted. N is "sustained"
when telemetry p99 stays under 100 ms with no errors and no restart; the run stops at the
first N that is not. Chargers keep the real
cadence (heartbeat 30 s, telemetry 5 s active and 60 s idle, one long poll per
connector); vehicles arrive about once a minute per connector, so most connectors are
charging during the measured part.
"""

import asyncio
import os
import resource
import subprocess
import time
from pathlib import Path

from bench.run import VAR, log
from fleet.simulator.charger import Behaviour
from fleet.simulator.fleet import FleetOptions, run_fleet

SIZES = [
    int(n) for n in os.environ.get("BENCH_FLEET_SIZES", "250,500,750,1000,1500,2000").split(",")
]
LAG_TICK = 0.05
MEASURED = float(os.environ.get("BENCH_FLEET_SECONDS", "120"))
WARM_UP = float(os.environ.get("BENCH_FLEET_WARM_UP", "30"))
P99_TARGET_MS = 100.0


def tree_cpu_seconds(pid: int) -> float:
    pids = [pid] + [
        int(p)
        for p in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
        ).stdout.split()
    ]
    total = 0.0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def workers(pid: int) -> set[str]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return set(found.stdout.split())


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_size(base_url: str, chargers: int, server_pid: int, state: Path) -> dict:
    latencies: list[float] = []
    stopping = asyncio.Event()
    options = FleetOptions(
        base_url=base_url,
        chargers=chargers,
        seed=2026,
        state_file=state,
    )
    measured: dict = {}
    lags: list[float] = []

    async def lag() -> None:
        while not stopping.is_set():
            start = time.monotonic()
            await asyncio.sleep(LAG_TICK)
            lags.append(time.monotonic() - start - LAG_TICK)

    async def measure() -> None:
        await asyncio.sleep(WARM_UP)
        latencies.clear()
        lags.clear()
        before = (tree_cpu_seconds(server_pid), own_cpu_seconds(), time.monotonic())
        await asyncio.sleep(MEASURED)
        after = (tree_cpu_seconds(server_pid), own_cpu_seconds(), time.monotonic())
        measured["server_cpu"] = after[0] - before[0]
        measured["simulator_cpu"] = after[1] - before[1]
        measured["seconds"] = after[2] - before[2]
        measured["telemetry"] = sorted(latencies)
        stopping.set()

    serving = workers(server_pid)
    timer = asyncio.create_task(measure())
    ticker = asyncio.create_task(lag())
    summary = await run_fleet(
        options, stopping, behaviour=Behaviour(arrival_mean_seconds=60.0), latencies=latencies
    )
    await timer
    await ticker
    restarted = len(serving - workers(server_pid))
    lags.sort()
    # Over the whole run, warm-up included: a sustained fleet never saw one.
    kinds = ("connection_errors", "server_errors", "rate_limited", "refused")
    measured["errors"] = {kind: summary.get(kind, 0) for kind in kinds}
    samples = measured["telemetry"]
    p50 = samples[len(samples) // 2] * 1000 if samples else None
    p99 = samples[int(len(samples) * 0.99)] * 1000 if samples else None
    errors = sum(measured["errors"].values())
    return {
        "simulator_lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else None,
        "worker_restarts": restarted,
        "chargers": chargers,
        "telemetry_per_s": len(samples) / measured["seconds"],
        "p50_ms": p50,
        "p99_ms": p99,
        "errors": errors,
        "error_kinds": measured["errors"],
        "server_cpu_share": measured["server_cpu"] / measured["seconds"],
        "simulator_cpu_share": measured["simulator_cpu"] / measured["seconds"],
        "sustained": errors == 0 and not restarted and p99 is not None and p99 < P99_TARGET_MS,
        "requests": summary.get("ok", 0),
    }


def fleet_bench(base_url: str, server_pid: int) -> list[dict]:
    state = VAR / "fleet-scale.json"
    state.unlink(missing_ok=True)
    results = []
    for chargers in SIZES:
        log(f"fleet: {chargers} chargers, {WARM_UP:.0f} s warm-up, {MEASURED:.0f} s measured")
        result = asyncio.run(one_size(base_url, chargers, server_pid, state))
        log(
            f"fleet {chargers}: {result['telemetry_per_s']:.0f} telemetry/s, p99 "
            f"{result['p99_ms']:.1f} ms, errors {result['errors']}, CPU server "
            f"{result['server_cpu_share']:.2f} / simulator {result['simulator_cpu_share']:.2f} cores, "
            f"simulator lag p99 {result['simulator_lag_p99_ms']:.1f} ms, "
            f"worker restarts {result['worker_restarts']}"
        )
        results.append(result)
        if not result["sustained"]:
            break
    return results
