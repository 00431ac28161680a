"""Many simulated chargers in one event loop, and the state file that lets a rerun reuse
them (their serial numbers, credentials, meters and unsent records)."""

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fleet.private_files import write_private
from fleet.simulator.charger import Behaviour, SimulatedCharger
from fleet.simulator.client import ChargerClient
from fleet.simulator.physics import MODELS
from fleet.simulator.scenarios import Scenario, assign, behaviour_for

logger = logging.getLogger("tellus.simulator")

# A plausible fleet: mostly DC fast chargers, some AC; firmware as found in the field.
FLEET_MIX = [
    ("TP-DC180", ["3.1.0", "3.0.1", "2.9.4"], 2),
    ("TP-DC360", ["4.1.0", "4.0.0"], 2),
    ("TP-DC60", ["2.4.0", "2.3.1"], 1),
    ("TP-AC22", ["1.8.2", "1.7.0"], 2),
]


# Long polls (one per connector), the heartbeat, telemetry and a command's reports.
CHARGER_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8)


def planned_rated_kw(chargers: int, sites: int) -> list[float]:
    """The rated power of the chargers each of `sites` sites will hold, placed round robin
    as the demo places them (fleet.services.demo.place_chargers), by the fleet mix (the
    few chargers a scenario gives another model are not counted apart)."""
    rated = [0.0] * sites
    for index in range(chargers):
        model = FLEET_MIX[index % len(FLEET_MIX)][0]
        rated[index % sites] += MODELS[model][1]
    return rated


@dataclass
class FleetOptions:
    base_url: str
    chargers: int = 10
    scenarios: list[str] = field(default_factory=list)
    seed: int = 1
    speed: float = 1.0
    state_file: Path | None = None
    duration: float | None = None  # real seconds; None runs until stopped


def load_state(path: Path | None, base_url: str) -> dict[str, Any]:
    if path is None or not path.exists():
        return {"base_url": base_url, "chargers": []}
    state = json.loads(path.read_text())
    if state.get("base_url") != base_url:
        # Credentials belong to the server that issued them.
        previous = state.get("base_url")
        logger.warning("state file %s was for %s: starting a new fleet", path, previous)
        return {"base_url": base_url, "chargers": []}
    return state


def save_state(path: Path | None, state: dict[str, Any]) -> None:
    if path is None:
        return
    # It holds the chargers' secrets: 0600 from the first byte, replaced atomically (a
    # crash mid-write leaves the previous state whole).
    write_private(path, json.dumps(state, indent=1))


def new_identity(index: int, rng: random.Random, scenarios: list[Scenario]) -> dict[str, Any]:
    model, firmwares, connectors = FLEET_MIX[index % len(FLEET_MIX)]
    identity = {
        "sn": f"SIM-{rng.getrandbits(40):010X}",
        "model": model,
        "firmware_version": rng.choice(firmwares),
    }
    for scenario in scenarios:
        identity.update(scenario.identity)
    identity["connectors"] = connectors if identity["model"] == model else 2
    identity["scenarios"] = [scenario.name for scenario in scenarios]
    return identity


def plan_fleet(options: FleetOptions, state: dict[str, Any]) -> list[tuple[dict, list[Scenario]]]:
    """Each charger's saved entry and its scenarios; new chargers are added to the state."""
    roles = assign(options.scenarios, options.chargers)
    saved = state["chargers"]
    plan = []
    for index in range(options.chargers):
        scenarios = roles.get(index, [])
        if index >= len(saved):
            # Seeded by position, not drawn in turn from one generator: a fleet grown on a
            # later run would otherwise repeat the first chargers' serial numbers (409).
            rng = random.Random(f"{options.seed}:identity:{index}")
            saved.append(new_identity(index, rng, scenarios))
        plan.append((saved[index], scenarios))
    return plan


async def run_fleet(
    options: FleetOptions,
    stopping: asyncio.Event | None = None,
    on_registered: Callable[[list[dict]], Awaitable[None]] | None = None,
    behaviour: Behaviour | None = None,
    latencies: list[float] | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    report_every: float = 60.0,
) -> dict[str, Any]:
    """Run the fleet until `stopping` is set or `duration` has passed; returns a summary
    (per-charger request counts added up) and leaves the state file current.
    `behaviour` is that of chargers in no scenario; `latencies` collects telemetry
    answer times (the fleet-scale bench); `report` is given `fleet_status` every
    `report_every` real seconds."""
    stopping = stopping or asyncio.Event()
    state = load_state(options.state_file, options.base_url)
    plan = plan_fleet(options, state)
    save_state(options.state_file, state)
    async with contextlib.AsyncExitStack() as pools:
        chargers = []
        for index, (saved, scenarios) in enumerate(plan):
            rng = random.Random(f"{options.seed}:{index}")
            # A connection pool per charger, as a real one has its own: one pool shared
            # by thousands of held long polls costs its client time per request for every
            # connection it holds (httpcore's pool), and the simulator becomes the limit.
            http = await pools.enter_async_context(
                httpx.AsyncClient(base_url=options.base_url, limits=CHARGER_LIMITS)
            )
            client = ChargerClient(http, rng, stopping, latencies)
            acting = behaviour_for(scenarios) if scenarios else (behaviour or Behaviour())
            chargers.append(SimulatedCharger(saved, client, rng, options.speed, acting))
        tasks = [asyncio.create_task(charger.run()) for charger in chargers]
        helpers = [asyncio.create_task(_keep_state(options, state, stopping))]
        if report is not None:
            helpers.append(asyncio.create_task(_report(chargers, report, report_every, stopping)))
        if on_registered is not None:
            helpers.append(
                asyncio.create_task(_after_registration(chargers, on_registered, stopping))
            )
        try:
            if options.duration is not None:
                try:
                    await asyncio.wait_for(stopping.wait(), options.duration)
                except TimeoutError:
                    pass
            else:
                await stopping.wait()
        finally:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for helper in helpers:
                helper.cancel()
            save_state(options.state_file, state)
    summary: dict[str, Any] = {"chargers": len(chargers)}
    for charger in chargers:
        for name, value in charger.client.stats.items():
            summary[name] = summary.get(name, 0) + value
    summary["records_pending"] = sum(len(c.saved.get("outbox", [])) for c in chargers)
    return summary


def fleet_status(chargers: list[SimulatedCharger]) -> dict[str, Any]:
    """What the fleet is doing now: chargers registered, connectors by state, and the
    requests made since the start, added up."""
    states = Counter(c.state for charger in chargers for c in charger.connectors.values())
    requests: Counter[str] = Counter()
    for charger in chargers:
        requests.update(charger.client.stats)
    return {
        "chargers": len(chargers),
        "registered": sum(1 for charger in chargers if charger.device_id),
        "connectors": dict(states),
        "requests": dict(requests),
    }


async def _report(chargers, report, every: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every)
        if not stopping.is_set():
            report(fleet_status(chargers))


async def _keep_state(options: FleetOptions, state: dict, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        await asyncio.sleep(5)
        save_state(options.state_file, state)


async def _after_registration(chargers, callback, stopping: asyncio.Event) -> None:
    """Hand the registered chargers to `callback` once (provisioning beside our server)."""
    while not stopping.is_set() and not all(c.device_id for c in chargers):
        await asyncio.sleep(0.2)
    if not stopping.is_set():
        try:
            await callback([c.saved for c in chargers])
        except Exception:  # the fleet runs on; the operator sees why it is not placed
            logger.exception("provisioning the registered chargers failed")
