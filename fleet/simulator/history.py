"""A few days of a simulated charger's past, made up at the demo's first start so the
energy report, the records and the charts have something to show from the first minute.

Sessions follow the same physics as the live chargers (`physics`): a vehicle arrives —
more often by day than by night, less often at an AC charger, where cars stay for hours —
charges along its curve until it reaches its target or leaves, and the connector rests
until the next one. A charger's rated power is shared by its connectors, so it never
draws more than its rating. Each session gives a charging record as the charger uploads
it (energy = the sum of its power over its minutes, meters rising without a gap up to the
live charger's meter) and telemetry samples at a bounded resolution (see
CHARGING_SAMPLE_SECONDS).

Everything ends before `end` (the charger's registration), where the live charger takes
over, so no session overlaps another on a connector. Deterministic for a given seed.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.simulator.physics import MODELS, ConnectorPhysics, random_vehicle

HISTORY_DAYS = 5
STEP_SECONDS = 60  # the physics advance a minute at a time: energy sums these steps
# Telemetry kept: a sample every 5 minutes while charging, each minute in the last hour
# (the charger page's chart shows the last quarter of an hour), one every 30 minutes at
# rest: about 200 samples a charger a day (50,000 for the demo's 50 chargers, 5 days).
CHARGING_SAMPLE_SECONDS = 300
RECENT_SAMPLES = timedelta(hours=1)
IDLE_SAMPLE_SECONDS = 1800
# Mean minutes between one vehicle leaving and the next arriving, by day (07 to 21 h UTC)
# and by night, for a DC and an AC connector.
ARRIVAL_MINUTES = {("DC", True): 75, ("DC", False): 300, ("AC", True): 150, ("AC", False): 600}
# How long a driver means to stay (minutes): a coffee at a DC charger, a working day at AC.
STAY_MINUTES = {"DC": (25, 70), "AC": (120, 480)}
NOMINAL_FAN_RPM = 1800


@dataclass
class History:
    """One charger's made-up past: its records as uploaded and its telemetry readings
    (the telemetry fields by name)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


def is_day(moment: datetime) -> bool:
    return 7 <= moment.hour < 21


def charger_history(
    saved: dict[str, Any], end: datetime, days: float, seed: str, meters: dict[int, float]
) -> History:
    """`days` of history for the charger of the state file entry `saved`, ending before
    `end`, where each connector's meter reads `meters[connector_id]` (0 if not given)."""
    kind, rated_kw, _ = MODELS[saved["model"]]
    connectors = int(saved.get("connectors", 2))
    history = History()
    start = (end - timedelta(days=days)).replace(microsecond=0)
    for connector_id in range(1, connectors + 1):
        rng = random.Random(f"{seed}:history:{saved['sn']}:{connector_id}")
        sessions, samples = _connector_history(
            rng, kind, rated_kw / connectors, connector_id, start, end
        )
        for session in sessions:
            session["energy"] = round(session["energy"], 3)
        meter_now = float(meters.get(connector_id, 0.0))
        meter = round(max(0.0, meter_now - sum(s["energy"] for s in sessions)), 3)
        for sequence, session in enumerate(sessions, start=1):
            energy = session.pop("energy")
            history.records.append(
                {
                    "record_id": f"{saved['sn']}-{connector_id}-h{sequence}",
                    "connector_id": connector_id,
                    "energy": energy,
                    "meter_start": meter,
                    "meter_end": round(meter + energy, 3),
                    **session,
                }
            )
            meter = round(meter + energy, 3)
        history.samples += samples
    return history


def _connector_history(
    rng: random.Random,
    kind: str,
    rated_kw: float,
    connector_id: int,
    start: datetime,
    end: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    physics = ConnectorPhysics(kind, rated_kw)
    sessions: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    now = start

    def sample(state: str, energy: float, soc: float | None) -> dict[str, Any]:
        return {
            "timestamp": now,
            "connector_id": connector_id,
            "state": state,
            "voltage": physics.voltage,
            "current": physics.current,
            "power": physics.power,
            "energy_delivered": round(energy, 3),
            "soc": None if soc is None else round(soc),
            "temperature": physics.temperature,
            "phase_details": None,
            "component_health": {
                "internal_temps": {"power_module": round(physics.temperature + 6.0, 1)},
                "cooling_fan_rpm": NOMINAL_FAN_RPM,
                "cooling_fan_status": "ok",
            },
            "extra": None,
        }

    def rest_until(moment: datetime) -> None:
        nonlocal now
        while now + timedelta(seconds=IDLE_SAMPLE_SECONDS) < moment:
            now += timedelta(seconds=IDLE_SAMPLE_SECONDS)
            physics.rest(IDLE_SAMPLE_SECONDS)
            samples.append(sample("idle", 0.0, None))

    while True:
        mean = ARRIVAL_MINUTES[(kind, is_day(now))]
        arrival = now + timedelta(seconds=round(60 * rng.expovariate(1 / mean)))
        stay = timedelta(minutes=round(rng.uniform(*STAY_MINUTES[kind])))
        if arrival + stay + timedelta(minutes=10) >= end:
            rest_until(end)
            return sessions, samples  # the live charger takes over from here
        rest_until(arrival)
        physics.rest((arrival - now).total_seconds())
        now = arrival
        vehicle = random_vehicle(rng)
        samples.append(sample("preparing", 0.0, vehicle.soc))
        now += timedelta(seconds=round(rng.uniform(20, 90)))  # authorised, cable locked
        started, soc_start, energy, peak = now, vehicle.soc, 0.0, 0.0
        last: dict[str, Any] | None = None
        reason = "ev_full"
        while True:
            kwh = physics.charge(vehicle, STEP_SECONDS, None)
            if physics.power <= 0:
                break
            energy += kwh
            peak = max(peak, physics.power)
            now += timedelta(seconds=STEP_SECONDS)  # the minute just charged
            last = sample("charging", energy, vehicle.soc)
            every = STEP_SECONDS if end - now <= RECENT_SAMPLES else CHARGING_SAMPLE_SECONDS
            if (now - started).total_seconds() % every == 0:
                samples.append(last)
            if vehicle.soc >= vehicle.target_soc:
                break
            if now - started >= stay:
                reason = "ev_disconnected"
                break
        if last is None:  # the vehicle was full: it leaves without a session
            continue
        if samples[-1] is not last:  # the session's last minute is always reported
            samples.append(last)
        hours = (now - started).total_seconds() / 3600
        sessions.append(
            {
                "start_time": started,
                "end_time": now,
                "energy": energy,
                "max_power": round(peak, 2),
                "avg_power": round(energy / hours, 2) if hours else 0.0,
                "vehicle_info": {
                    "vin": vehicle.vin,
                    "soc_start": round(soc_start),
                    "soc_end": round(vehicle.soc),
                },
                "stop_reason": reason,
                # Said where the record is read (its CSV, the API): not a real session.
                "details": {"source": "demo back-fill"},
            }
        )
        unplugged = round(rng.uniform(60, 300))  # the driver comes back and leaves
        now += timedelta(seconds=unplugged)
        physics.rest(unplugged)
        samples.append(sample("idle", 0.0, None))
