"""One simulated charger: its sessions, its heartbeat, and the commands it is sent.

Each connector lives its own loop — idle, a vehicle plugs in (`plug_in`, `preparing`), is
authorised (`auth_ok`, or a remote start), charges (`start`, telemetry every 5 s along the
curve), stops (`stop`), uploads its charging record and unplugs (`plug_out`) — while one
long poll per connector and the heartbeat every 30 s fetch commands. Records wait in an
outbox until the server has them, so none is lost to a failed upload or a restart.
Waits are simulated seconds divided by the fleet's speed; timestamps are always the wall
clock, so the server's clock checks hold at any speed.
"""

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fleet.simulator.client import ChargerClient, Refused, Stopped
from fleet.simulator.physics import MODELS, ConnectorPhysics, Vehicle, random_vehicle
from fleet.simulator.versions import within

logger = logging.getLogger("tellus.simulator")

HEARTBEAT_SECONDS = 30
ACTIVE_TELEMETRY_SECONDS = 5
IDLE_TELEMETRY_SECONDS = 60
LONG_POLL_SECONDS = 30
# How long a flapping charger stays away, in real seconds (the server's clocks are real):
# longer than the platform's reconnect gap (60 s), so each return is a reconnect.
FLAP_OFFLINE_SECONDS = 70.0
# Simulated seconds a charger takes to boot again after a firmware upgrade installed.
BOOT_SECONDS = (20.0, 40.0)
REBOOT_SECONDS = 20.0  # a `reboot` command
SOFT_RESET_SECONDS = 5.0
CABINET_CRITICAL_C = 85.0
NOMINAL_FAN_RPM = 1800

DIAGNOSTIC_RESULTS = {
    "fetch_logs": {"log_url": "https://logs.example/{device_id}/latest.tar.gz"},
    "run_self_test": {"result": "pass", "checks": 14},
    "calibrate_sensor": {"result": "calibrated"},
    "reset_contactor_counter": {"contactor_cycles": 0},
    "reset_fan_counter": {"fan_hours": 0},
    "trigger_message": {"sent": True},
    "clear_cache": {"cleared": True},
    "unlock_connector": {"unlocked": True},
    "reset_connector": {"reset": True},
    "reset_power_module": {"reset": True},
    "force_reconnect": {"reconnected": True},
}


def downloadable(url: object) -> bool:
    """Whether a firmware package URL is one a charger can fetch: http(s) with a host."""
    if not isinstance(url, str) or not url.strip():
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. a malformed IPv6 host
        return False
    return parts.scheme in {"http", "https"} and bool(parts.hostname)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Behaviour:
    """What scenarios change about a charger (fleet.simulator.scenarios)."""

    arrival_mean_seconds: float = 900.0
    contactor_fault: str = ""  # a fault code raised instead of starting to charge
    # The builds, lowest and highest, with the contactor fault; None: every build has it.
    contactor_fault_firmware: tuple[str, str] | None = None
    # A fault code raised instead of starting to charge once any upgrade has succeeded
    # (a regression in the new build).
    fault_after_upgrade: str = ""
    extra_heating: float = 0.0  # °C the connector runs hotter at load
    refuses_discharge_with: str = ""  # a fault code raised on a discharge command
    skips_authorisation: bool = False  # vehicles wait in `preparing` for ever
    silent_after_seconds: float | None = None  # stops heartbeating (heartbeat loss)
    silent_for_seconds: float | None = None  # and is heard again after this long (None: never)
    flapping: bool = False  # drops off and comes back again and again (reconnect storm)
    occasional_fault: str = ""  # raised now and then (an undocumented code)
    fails_firmware_upgrade: bool = False
    loses_record_answers: bool = False  # the answer to a record upload never arrives


@dataclass
class Connector:
    connector_id: int
    physics: ConnectorPhysics
    meter_kwh: float = 0.0
    state: str = "idle"
    vehicle: Vehicle | None = None
    session_kwh: float = 0.0
    authorised: asyncio.Event = field(default_factory=asyncio.Event)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    discharge_kw: float = 0.0
    discharge_until: float = 0.0


class SimulatedCharger:
    def __init__(
        self,
        saved: dict[str, Any],
        client: ChargerClient,
        rng: random.Random,
        speed: float,
        behaviour: Behaviour,
    ):
        self.saved = saved  # the charger's entry in the state file, kept up to date
        self.client = client
        self.rng = rng
        self.speed = speed
        self.behaviour = behaviour
        kind, rated_kw, _ = MODELS[saved["model"]]
        meters = saved.setdefault("meters", {})
        self.connectors = {
            # A new charger's meter as one in service for a year or two; kept in the state
            # file from the start, where the demo's back-filled past ends (history.py).
            n: Connector(
                n,
                ConnectorPhysics(kind, rated_kw, extra_heating=behaviour.extra_heating),
                meter_kwh=meters.setdefault(str(n), round(rng.uniform(5000, 50000), 3)),
            )
            for n in range(1, saved.get("connectors", 2) + 1)
        }
        self.power_limit_until = 0.0
        self.offline = asyncio.Event()  # set while rebooting or flapping
        self.upgrading = False
        self.boots = 0  # reboots so far: a session that sees it change lost its power
        self.polls: set[asyncio.Future] = set()  # long polls held open now
        self.loop_time = asyncio.get_running_loop().time
        self.executing: set[asyncio.Task] = set()  # commands being carried out
        self.started = self.sim_now()

    # --- time -------------------------------------------------------------------------

    async def wait(self, simulated_seconds: float) -> None:
        await self.client.pause(simulated_seconds / self.speed)

    def sim_now(self) -> float:
        return self.loop_time() * self.speed

    # --- life -------------------------------------------------------------------------

    @property
    def device_id(self) -> str:
        return self.saved.get("device_id", "")

    async def run(self) -> None:
        try:
            await self.register()
        except Stopped:
            return
        except Refused as refused:
            # Typically 409: this serial number was registered before, by a run whose
            # state file (and so its secret) is not the one in use.
            logger.error("charger %s cannot start: %s", self.saved["sn"], refused)
            self.client.count("chargers_not_started")
            return
        # Real chargers booted at different times: started in step, a fleet would
        # heartbeat and renew its long polls in bursts, every 30 s.
        try:
            await self.wait(self.rng.uniform(0, HEARTBEAT_SECONDS))
            await self.report_pending_upgrade()
        except Stopped:
            return
        loops = [self.heartbeat_loop(), self.outbox_loop()]
        for connector in self.connectors.values():
            loops += [self.connector_loop(connector), self.poll_loop(connector)]
        if self.behaviour.flapping:
            loops.append(self.flap_loop())
        outcomes = await asyncio.gather(*loops, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, Stopped):
                logger.error("charger %s: a loop failed", self.device_id, exc_info=outcome)

    async def register(self) -> None:
        if not self.saved.get("device_id"):
            data = await self.client.call(
                "POST",
                "/v1/device/register",
                {
                    "sn": self.saved["sn"],
                    "model": self.saved["model"],
                    "manufacturer": "Tellus Power",
                    "firmware_version": self.saved["firmware_version"],
                },
                auth=False,
            )
            self.saved["device_id"] = data["device_id"]
            self.saved["device_secret"] = data["device_secret"]
            logger.info("registered %s as %s", self.saved["sn"], data["device_id"])
        self.client.device_id = self.saved["device_id"]
        self.client.device_secret = self.saved["device_secret"]
        await self.client.renew_token()

    async def heartbeat_loop(self) -> None:
        while True:
            if not (self.offline.is_set() or self.is_silent()):
                await self.beat()
            await self.wait(HEARTBEAT_SECONDS)

    async def beat(self) -> None:
        faulted = any(c.state == "fault" for c in self.connectors.values())
        body = {"timestamp": now_iso(), "status": "fault" if faulted else "online", "fault_code": 0}
        data = await self.client.call("POST", "/v1/device/heartbeat", body)
        for command in (data or {}).get("commands", []):
            self.start(command)

    async def flap_loop(self) -> None:
        """Drop off the network for a while, come back and say so at once, again: more
        than five returns in ten minutes, the platform's reconnect storm."""
        while True:
            await self.wait(self.rng.uniform(10, 25))
            self.offline.set()
            await self.client.pause(FLAP_OFFLINE_SECONDS)
            self.offline.clear()
            await self.beat()

    async def poll_loop(self, connector: Connector) -> None:
        while True:
            if self.offline.is_set() or self.is_silent():
                await self.wait(HEARTBEAT_SECONDS)
                continue
            poll = asyncio.ensure_future(
                self.client.call(
                    "GET",
                    "/v1/device/commands",
                    params={"connector_id": connector.connector_id, "wait": LONG_POLL_SECONDS},
                    timeout=LONG_POLL_SECONDS + 15,
                    held=True,
                )
            )
            self.polls.add(poll)
            await asyncio.wait({poll})  # a cancelled poll (a reboot) is not our failure
            self.polls.discard(poll)
            if poll.cancelled():
                continue
            command = poll.result()
            if command:
                self.start(command)

    def is_silent(self) -> bool:
        """Heartbeat loss: after `silent_after_seconds` the charger reports nothing, for
        `silent_for_seconds` (the site's network back) or for ever."""
        after, lasting = self.behaviour.silent_after_seconds, self.behaviour.silent_for_seconds
        if after is None:
            return False
        elapsed = self.sim_now() - self.started
        return elapsed > after and (lasting is None or elapsed <= after + lasting)

    # --- sessions ---------------------------------------------------------------------

    async def connector_loop(self, connector: Connector) -> None:
        while True:
            await self.idle_until_arrival(connector)
            await self.session(connector)

    async def idle_until_arrival(self, connector: Connector) -> None:
        arrival = self.sim_now() + self.rng.expovariate(1 / self.behaviour.arrival_mean_seconds)
        while self.sim_now() < arrival:
            connector.physics.rest(IDLE_TELEMETRY_SECONDS)
            await self.telemetry(connector)
            await self.wait(min(IDLE_TELEMETRY_SECONDS, max(1.0, arrival - self.sim_now())))
            code = self.behaviour.occasional_fault
            if code and self.rng.random() < 0.1:  # about one every ten idle minutes
                await self.event(connector, "fault", {"fault_code": code})

    async def session(self, connector: Connector) -> None:
        connector.vehicle = random_vehicle(self.rng)
        connector.session_kwh = 0.0
        connector.authorised.clear()
        connector.stop_requested.clear()
        await self.event(connector, "plug_in", {})
        connector.state = "preparing"
        await self.telemetry(connector)
        if not self.behaviour.skips_authorisation:
            await self.wait(self.rng.uniform(2, 8))
            connector.authorised.set()
            await self.event(connector, "auth_ok", {"method": "rfid"})
        else:
            await self.wait_for_remote_start(connector, patience=7200)  # drivers wait long
        if not connector.authorised.is_set():
            await self.unplug(connector)
            return
        code, message = self.session_start_fault()
        if code:
            await self.fault(connector, code, message)
            await self.wait(self.rng.uniform(20, 60))
            await self.unplug(connector)
            return
        await self.charge(connector)

    @property
    def firmware_version(self) -> str:
        return str(self.saved.get("firmware_version", ""))

    def session_start_fault(self) -> tuple[str, str]:
        """The fault code (and its message) this charger raises instead of charging, as
        its scenario and the build it runs now decide; ("", "") when it charges."""
        behaviour = self.behaviour
        affected = behaviour.contactor_fault_firmware
        if behaviour.contactor_fault and (
            affected is None or within(self.firmware_version, *affected)
        ):
            return behaviour.contactor_fault, "contactor did not close"
        if behaviour.fault_after_upgrade and self.saved.get("upgraded_from"):
            return behaviour.fault_after_upgrade, "power module did not answer"
        return "", ""

    async def wait_for_remote_start(self, connector: Connector, patience: float) -> None:
        deadline = self.sim_now() + patience
        while not connector.authorised.is_set() and self.sim_now() < deadline:
            await self.telemetry(connector)
            await self.wait(ACTIVE_TELEMETRY_SECONDS * 6)

    async def charge(self, connector: Connector) -> None:
        vehicle = connector.vehicle
        started_at, start_meter = now_iso(), connector.meter_kwh
        soc_start, peak, powers = round(vehicle.soc), 0.0, []
        departure = self.sim_now() + self.rng.uniform(1800, 7200)
        await self.event(connector, "start", {"soc": soc_start})
        if self.behaviour.extra_heating:  # a warning: the session goes on
            slow = {"fault_code": "F-0601", "rpm": NOMINAL_FAN_RPM // 3}
            await self.event(connector, "warning", slow)
        connector.state = "charging"
        stop_reason = "ev_full"
        boots = self.boots
        while True:
            step = ACTIVE_TELEMETRY_SECONDS
            if connector.discharge_kw and self.sim_now() < connector.discharge_until:
                connector.state = "discharging"
                kwh = connector.physics.discharge(vehicle, step, connector.discharge_kw)
                connector.session_kwh += kwh
            else:
                connector.discharge_kw = 0.0
                connector.state = "charging"
                connector.physics.limit_fraction = (
                    self.saved.get("power_limit_fraction", 1.0)
                    if self.sim_now() < self.power_limit_until
                    else 1.0
                )
                kwh = connector.physics.charge(vehicle, step, None)
                connector.session_kwh += kwh
                connector.meter_kwh += kwh
            peak = max(peak, abs(connector.physics.power))
            powers.append(connector.physics.power)
            await self.telemetry(connector)
            if connector.physics.temperature > CABINET_CRITICAL_C:
                # Past its critical limit the cabinet cuts output to protect itself.
                await self.fault(connector, "F-0204", "cabinet over-temperature, output cut")
                stop_reason = "fault"
                break
            if connector.stop_requested.is_set():
                stop_reason = "remote_stop"
                break
            if self.boots != boots:  # a reboot cut the power: the session is over
                stop_reason = "reboot"
                break
            if vehicle.soc >= vehicle.target_soc and connector.state == "charging":
                break
            if self.sim_now() > departure:
                stop_reason = "ev_disconnected"
                break
            await self.wait(step)
        await self.event(connector, "stop", {"reason": stop_reason, "soc": round(vehicle.soc)})
        connector.state = "idle"
        connector.physics.power = 0.0
        connector.physics.rest(1)
        self.queue_record(connector, started_at, start_meter, soc_start, peak, powers, stop_reason)
        await self.wait(self.rng.uniform(30, 300))
        await self.unplug(connector)

    async def unplug(self, connector: Connector) -> None:
        await self.event(connector, "plug_out", {})
        connector.state, connector.vehicle = "idle", None
        connector.authorised.clear()
        await self.telemetry(connector)

    def queue_record(
        self,
        connector: Connector,
        started_at: str,
        start_meter: float,
        soc_start: int,
        peak: float,
        powers: list[float],
        stop_reason: str,
    ) -> None:
        self.saved["record_seq"] = self.saved.get("record_seq", 0) + 1
        self.saved["meters"][str(connector.connector_id)] = round(connector.meter_kwh, 3)
        average = sum(powers) / len(powers) if powers else 0.0
        record = {
            "record_id": f"{self.saved['sn']}-{connector.connector_id}-{self.saved['record_seq']}",
            "connector_id": connector.connector_id,
            "start_time": started_at,
            "end_time": now_iso(),
            "energy": round(connector.session_kwh, 3),
            "max_power": round(peak, 2),
            "avg_power": round(average, 2),
            "meter_start": round(start_meter, 3),
            "meter_end": round(max(connector.meter_kwh, start_meter), 3),
            "vehicle_info": {
                "vin": connector.vehicle.vin,
                "soc_start": soc_start,
                "soc_end": round(connector.vehicle.soc),
            },
            "stop_reason": stop_reason,
        }
        self.saved.setdefault("outbox", []).append(record)

    async def outbox_loop(self) -> None:
        """Upload finished sessions' records, oldest first, until the server has each."""
        while True:
            outbox = self.saved.setdefault("outbox", [])
            if outbox and not (self.offline.is_set() or self.is_silent()):
                record = outbox[0]
                try:
                    await self.client.call("POST", "/v1/device/charging-records", record)
                    if self.behaviour.loses_record_answers and self.rng.random() < 0.5:
                        # The answer was lost on the way back: the charger cannot know the
                        # server has it, so it sends the same record again.
                        self.client.count("record_answers_lost")
                        await self.client.call("POST", "/v1/device/charging-records", record)
                except Refused as refused:
                    logger.warning("record %s refused: %s", record["record_id"], refused)
                    self.client.count("records_refused")
                outbox.pop(0)
                self.client.count("records_uploaded")
                continue
            await self.wait(10)

    # --- reports ----------------------------------------------------------------------

    async def telemetry(self, connector: Connector) -> None:
        if self.offline.is_set() or self.is_silent():
            return
        physics = connector.physics
        body: dict[str, Any] = {
            "timestamp": now_iso(),
            "connector_id": connector.connector_id,
            "state": connector.state,
            "voltage": physics.voltage,
            "current": physics.current,
            "power": physics.power,
            "energy_delivered": round(connector.session_kwh, 3),
            "temperature": physics.temperature,
            "component_health": {
                "internal_temps": {"power_module": round(physics.temperature + 6.0, 1)},
                # A failing fan (the overheat case) turns at a third of its nominal speed.
                "cooling_fan_rpm": NOMINAL_FAN_RPM // 3
                if self.behaviour.extra_heating
                else NOMINAL_FAN_RPM,
                "cooling_fan_status": "warning" if self.behaviour.extra_heating else "ok",
            },
        }
        if connector.vehicle is not None:
            body["soc"] = round(connector.vehicle.soc)
        await self.client.call("POST", "/v1/device/telemetry", body)
        self.client.count("telemetry")

    async def event(self, connector: Connector | None, kind: str, data: dict) -> None:
        if self.offline.is_set() or self.is_silent():
            return
        body = {
            "timestamp": now_iso(),
            "event_type": kind,
            "connector_id": connector.connector_id if connector else 0,
            "data": data,
        }
        await self.client.call("POST", "/v1/device/events", body)

    async def fault(self, connector: Connector, code: str, message: str) -> None:
        connector.state = "fault"
        await self.event(connector, "fault", {"fault_code": code, "message": message})
        await self.telemetry(connector)

    async def status(self, command: dict, status: str, message: str = "", **details) -> None:
        body: dict[str, Any] = {
            "command_id": command["command_id"],
            "status": status,
            "timestamp": now_iso(),
        }
        if message:
            body["message"] = message
        if details:
            body["details"] = details
        try:
            await self.client.call("POST", "/v1/device/command-status", body)
        except Refused as refused:  # e.g. the command expired meanwhile
            logger.info("status %s of %s refused: %s", status, command["command_id"], refused)

    # --- commands ---------------------------------------------------------------------

    def start(self, command: dict) -> None:
        task = asyncio.get_running_loop().create_task(self.execute(command))
        self.executing.add(task)
        task.add_done_callback(self.executing.discard)

    async def execute(self, command: dict) -> None:
        """Answer a command as a charger would: accepted, then completed or failed (or
        rejected at once when it cannot apply)."""
        try:
            await self._execute(command)
            self.client.count(f"command_{command['command']}")
        except Stopped:
            return
        except Exception:
            logger.exception("command %s failed in the simulator", command.get("command"))

    async def _execute(self, command: dict) -> None:
        name, params = command["command"], command.get("params") or {}
        connector = self.connectors.get(params.get("connector_id") or command.get("connector_id"))
        await self.wait(self.rng.uniform(0.2, 1.5))
        if name == "start_charging":
            target = connector or self._first(lambda c: c.state == "preparing")
            if target is None or target.state != "preparing":
                return await self.status(command, "rejected", "no vehicle waiting to charge")
            await self.status(command, "accepted")
            target.authorised.set()
            await self.event(target, "auth_ok", {"method": "remote"})
            await self.wait(3)
            return await self.status(command, "completed")
        if name == "stop_charging":
            target = connector or self._first(lambda c: c.state in {"charging", "discharging"})
            if target is None or target.state not in {"charging", "discharging"}:
                return await self.status(command, "rejected", "no session to stop")
            await self.status(command, "accepted")
            target.stop_requested.set()
            await self.wait(ACTIVE_TELEMETRY_SECONDS + 1)
            return await self.status(command, "completed")
        if name == "discharge":
            return await self.discharge(command, connector, params)
        if name == "set_power_limit":
            await self.status(command, "accepted")
            fraction = float(params.get("power_limit_percent", 100)) / 100.0
            self.saved["power_limit_fraction"] = fraction
            self.power_limit_until = self.sim_now() + float(params.get("duration", 3600))
            return await self.status(command, "completed", power_limit_percent=fraction * 100)
        if name == "set_schedule":
            await self.status(command, "accepted")
            self.saved.setdefault("schedules", {})[str(params.get("schedule_id", ""))] = params
            return await self.status(command, "completed")
        if name == "firmware_upgrade":
            return await self.upgrade(command, params)
        if name in {"reboot", "soft_reset"}:
            await self.status(command, "accepted")
            await self.reboot(REBOOT_SECONDS if name == "reboot" else SOFT_RESET_SECONDS)
            return await self.status(command, "completed")
        if name in DIAGNOSTIC_RESULTS:
            await self.status(command, "accepted")
            await self.wait(self.rng.uniform(2, 10))
            result = {
                key: value.format(device_id=self.device_id) if isinstance(value, str) else value
                for key, value in DIAGNOSTIC_RESULTS[name].items()
            }
            return await self.status(command, "completed", **result)
        await self.status(command, "rejected", f"unsupported command {name}")

    def _first(self, condition) -> Connector | None:
        return next((c for c in self.connectors.values() if condition(c)), None)

    async def discharge(self, command: dict, connector: Connector | None, params: dict) -> None:
        _, _, v2g = MODELS[self.saved["model"]]
        target = connector or self._first(lambda c: c.vehicle is not None)
        if not v2g:
            return await self.status(command, "rejected", "this model cannot discharge")
        if target is None or target.vehicle is None:
            return await self.status(command, "rejected", "no vehicle connected")
        await self.status(command, "accepted")
        if self.behaviour.refuses_discharge_with:
            await self.fault(target, self.behaviour.refuses_discharge_with, "inverter refused")
            code = self.behaviour.refuses_discharge_with
            return await self.status(command, "failed", "inverter refused", fault_code=code)
        target.discharge_kw = float(params.get("discharge_power", 10))
        target.discharge_until = self.sim_now() + float(params.get("duration", 1800))
        await self.wait(ACTIVE_TELEMETRY_SECONDS + 1)
        await self.status(command, "completed")

    async def reboot(self, boot_seconds: float, into_version: str = "") -> None:
        """Go dark as a restarting charger does (no heartbeat, telemetry, events or
        uploads; held long polls dropped; a session in progress ends), then come back
        with a heartbeat at once. `into_version`: the build installed, run from the boot
        on (decision: sim-reboot)."""
        self.boots += 1
        self.offline.set()
        for poll in list(self.polls):
            poll.cancel()
        if into_version:
            previous = self.firmware_version
            self.saved["firmware_version"] = into_version
            if previous != into_version:
                self.saved["upgraded_from"] = previous
        try:
            await self.wait(boot_seconds)
        finally:
            self.offline.clear()
        await self.beat()

    async def upgrade(self, command: dict, params: dict) -> None:
        """Download the package, install it, reboot into it and report the new version
        (or fail, on a charger whose scenario says so, and stay on the old one)."""
        version = params.get("firmware_version") or params.get("version") or ""
        valid = isinstance(version, str) and version.strip() and version.isprintable()
        if not valid or len(version) > 64:
            return await self.status(command, "rejected", "no valid firmware version given")
        # decision: sim-package-url. The older form names only the version, and the
        # charger fetches the build from its vendor; a package URL given must be one it
        # can download.
        if "package_url" in params and not downloadable(params["package_url"]):
            return await self.status(command, "rejected", "the package URL is not http or https")
        if self.upgrading:
            return await self.status(command, "rejected", "an upgrade is already in progress")
        self.upgrading = True
        try:
            await self.status(command, "accepted")
            await self.install(command, version)
        finally:
            self.upgrading = False

    async def install(self, command: dict, version: str) -> None:
        for progress in (0, 25, 50, 75, 100):
            await self.firmware_status(version, "downloading", progress)
            await self.wait(5)
        await self.firmware_status(version, "upgrading", None)
        await self.wait(10)
        if self.behaviour.fails_firmware_upgrade:
            await self.firmware_status(version, "failed", None, "image signature check failed")
            return await self.status(command, "failed", "image signature check failed")
        # The new build is installed: the charger boots into it and runs it from then on
        # (kept in the state file, so a rerun starts on it too). Should the simulator stop
        # before the success is told, the next run tells it first (report_pending_upgrade).
        self.saved["pending_upgrade"] = {
            "command_id": command["command_id"],
            "firmware_version": version,
        }
        await self.reboot(self.rng.uniform(*BOOT_SECONDS), into_version=version)
        await self.report_pending_upgrade()

    async def report_pending_upgrade(self) -> None:
        """Tell the server the build installed before the last reboot runs: the firmware
        status `success` and the command completed."""
        pending = self.saved.get("pending_upgrade")
        if not pending:
            return
        version = pending["firmware_version"]
        try:
            await self.firmware_status(version, "success", 100)
        except Refused as refused:  # told once; the version still runs
            logger.warning("charger %s: upgrade report refused: %s", self.device_id, refused)
        await self.status(pending, "completed", firmware_version=version)
        self.saved.pop("pending_upgrade", None)

    async def firmware_status(
        self, version: str, status: str, progress: int | None, message: str = ""
    ) -> None:
        body: dict[str, Any] = {"firmware_version": version, "status": status}
        if progress is not None:
            body["progress"] = progress
        if message:
            body["message"] = message
        await self.client.call("POST", "/v1/device/firmware/status", body)
