"""A small fleet with real credentials, committed to the test database, for the fuzzers.

Created partly in this process (operators, clients, sites, assignments: the platform
team's provisioning services, exactly what the management commands call) and partly
through the live server's own API (registration, tokens, telemetry, events, records,
commands), so every operation has real ids and real credentials to reach its handler.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.core.management import call_command

from diagnostics.models import Alert, FaultCode, Runbook
from diagnostics.services.detectors import run_detectors
from diagnostics.services.runbooks.engine import start as start_run
from fleet.actors import Actor
from fleet.models import Device
from fleet.services import provisioning
from fleet.services.commands import queue_command

DEVICE_PREFIXES = ("/v1/device/",)
UNAUTHENTICATED = {"/v1/device/register", "/v1/device/token", "/v1/operator/oauth/token"}
POLL_PATH = "/v1/device/commands"
# Long-poll commands queued for the polling charger, so a valid poll answers at once
# instead of waiting for its `wait` seconds.
POLL_POOL = 400


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ago(seconds: float) -> str:
    return iso(datetime.now(UTC) - timedelta(seconds=seconds))


@dataclass
class Charger:
    device_id: str
    secret: str
    token: str = ""


@dataclass
class World:
    base_url: str
    server: Any = None  # the LiveServer, for its log
    client_id: str = ""
    client_secret: str = ""
    operator_id: str = ""
    operator_token: str = ""
    site_ids: list[str] = field(default_factory=list)
    foreign_site_id: str = ""
    chargers: dict[str, Charger] = field(default_factory=dict)
    command_ids: list[str] = field(default_factory=list)
    control_ids: list[str] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)
    fault_codes: list[str] = field(default_factory=list)
    runbook_slugs: list[str] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    # Runbook runs: [0] open at its first step, [1] open, [2] paused, [3] open, [4] open;
    # foreign_run_id is on the rival's charger.
    run_ids: list[str] = field(default_factory=list)
    foreign_run_id: str = ""
    # Firmware campaigns: [0] running, [1] paused, [2] running (cancelled by a template).
    campaign_ids: list[str] = field(default_factory=list)

    # --- who calls what ------------------------------------------------------------------

    def device_ids(self) -> list[str]:
        return [charger.device_id for charger in self.chargers.values()]

    def headers_for(self, path: str) -> dict[str, str]:
        """The credentials an honest caller of `path` would send (with or without the
        /v1 prefix: the official document's paths are relative to its /v1 server)."""
        full = path if path.startswith("/v1/") else "/v1" + path
        if full in UNAUTHENTICATED:
            return {}
        if full == POLL_PATH:
            return {"Authorization": f"Bearer {self.chargers['poll'].token}"}
        if full.startswith(DEVICE_PREFIXES):
            return {"Authorization": f"Bearer {self.chargers['main'].token}"}
        return {"Authorization": f"Bearer {self.operator_token}"}


class Provisioner:
    """Builds the World against a running server; DB access must be unblocked."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.world = World(base_url=base_url)

    def _ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, (response.request.url, response.text)
        return response.json()

    def post(self, path: str, body: Any, token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self._ok(self.http.post(path, json=body, headers=headers))

    def register(self, key: str, sn: str, model: str) -> Charger:
        data = self.post(
            "/v1/device/register",
            {"sn": sn, "model": model, "manufacturer": "Tellus Power", "firmware_version": "3.0.2"},
        )["data"]
        charger = Charger(data["device_id"], data["device_secret"])
        token = self.post(
            "/v1/device/token",
            {
                "device_id": charger.device_id,
                "device_secret": charger.secret,
                "grant_type": "client_credentials",
            },
        )
        charger.token = token["access_token"]
        self.world.chargers[key] = charger
        return charger

    def build(self) -> World:
        world = self.world
        call_command("load_diagnostics", stdout=_Discard())
        platform = Actor.platform()
        client, secret = provisioning.create_operator_client(
            platform, "Fuzz Charging", ["read", "write"]
        )
        world.client_id, world.client_secret = client.client_id, secret
        world.operator_id = client.operator_id
        depot = provisioning.create_site(
            platform, client.client_id, "Harbour Depot", "1 Quay St", 51.5, -0.12, 350
        )
        poll_site = provisioning.create_site(platform, client.client_id, "Poll Yard")
        world.site_ids = [depot.site_id, poll_site.site_id]
        rival, _ = provisioning.create_operator_client(
            platform, "Rival Charging", ["read", "write"]
        )
        world.foreign_site_id = provisioning.create_site(
            platform, rival.client_id, "Rival Yard"
        ).site_id

        main = self.register("main", "SN-FUZZ-MAIN", "TP-DC180")
        v2g = self.register("v2g", "SN-FUZZ-V2G", "TP-DC360")
        poll = self.register("poll", "SN-FUZZ-POLL", "TP-AC22")
        self.register("unassigned", "SN-FUZZ-LOOSE", "TP-DC180")
        foreign = self.register("foreign", "SN-FUZZ-RIVAL", "TP-DC180")
        provisioning.assign_device(platform, main.device_id, depot.site_id)
        provisioning.assign_device(platform, v2g.device_id, depot.site_id, v2g_capable=True)
        provisioning.assign_device(platform, poll.device_id, poll_site.site_id)
        provisioning.assign_device(platform, foreign.device_id, world.foreign_site_id)

        token = self.post(
            "/v1/operator/oauth/token",
            {
                "client_id": client.client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
        )
        world.operator_token = token["access_token"]

        for charger in (main, v2g, poll, foreign):
            self.post(
                "/v1/device/heartbeat",
                {"timestamp": ago(1), "status": "online", "fault_code": 0},
                charger.token,
            )
        for charger, connector, state, power in (
            (main, 1, "charging", 50.0),
            (main, 2, "idle", 0.0),
            (v2g, 1, "discharging", -20.0),
            (v2g, 2, "idle", 0.0),
            (poll, 1, "idle", 0.0),
            (foreign, 1, "idle", 0.0),
        ):
            self.post(
                "/v1/device/telemetry",
                {
                    "timestamp": ago(30),
                    "connector_id": connector,
                    "state": state,
                    "voltage": 400.0,
                    "current": power * 2.5,
                    "power": power,
                    "energy_delivered": 12.5,
                    "soc": 55,
                    "temperature": 80.0 if connector == 1 else 30.0,
                },
                charger.token,
            )
        for seconds, code in ((300, "F-0421"), (200, "F-0421"), (100, "F-0421"), (50, 9999)):
            self.post(
                "/v1/device/events",
                {
                    "timestamp": ago(seconds),
                    "event_type": "fault",
                    "connector_id": 1,
                    "data": {"fault_code": code, "message": "fuzz fixture"},
                },
                main.token,
            )
        self.post(
            "/v1/device/events",
            {"timestamp": ago(40), "event_type": "plug_in", "connector_id": 2, "data": {}},
            main.token,
        )
        world.record_ids = ["REC-FUZZ-1"]
        self.post(
            "/v1/device/charging-records",
            {
                "record_id": "REC-FUZZ-1",
                "connector_id": 1,
                "start_time": ago(7200),
                "end_time": ago(3600),
                "energy": 30.5,
                "max_power": 60.0,
                "avg_power": 30.5,
                "cost": 12.2,
                "meter_start": 1000.0,
                "meter_end": 1030.5,
                "vehicle_info": {"vin": "WVWZZZ1JZXW000001", "soc_start": 20, "soc_end": 80},
            },
            main.token,
        )

        operator = world.operator_token
        started = self.post(
            f"/v1/operator/devices/{main.device_id}/connectors/1/start",
            {"charge_power": 50.0, "duration": 3600},
            operator,
        )
        world.command_ids.append(started["data"]["command_id"])
        stopped = self.post(
            f"/v1/operator/devices/{v2g.device_id}/connectors/1/stop", {"reason": "fuzz"}, operator
        )
        world.command_ids.append(stopped["data"]["command_id"])
        scheduled = self.post(
            f"/v1/operator/devices/{main.device_id}/connectors/2/schedule",
            {
                "schedule_id": "SCH-FUZZ-1",
                "enabled": True,
                "type": "weekly",
                "time_slots": [
                    {"day_of_week": ["mon"], "start": "22:00", "end": "06:00", "action": "charge"}
                ],
                "timezone": "Europe/London",
            },
            operator,
        )
        world.command_ids.append(scheduled["data"]["command_id"])
        control = self.post(
            "/v1/operator/control/flexibility",
            {
                "target_type": "site",
                "target_ids": [depot.site_id],
                "command": "set_power_limit",
                "params": {"power_limit_percent": 50, "duration": 600},
            },
            operator,
        )
        world.control_ids.append(control["data"]["control_id"])

        run_detectors(datetime.now(UTC))
        world.alert_ids = list(Alert.objects.values_list("alert_id", flat=True)[:5])
        world.fault_codes = list(FaultCode.objects.values_list("code", flat=True)[:6])
        world.runbook_slugs = list(Runbook.objects.values_list("slug", flat=True))
        for charger, slug in (
            (main, "charger-faulting-on-power-up"),
            (main, "connector-stuck-preparing"),
            (v2g, "charger-faulting-on-power-up"),
            (v2g, "connector-stuck-preparing"),
            (poll, "charger-faulting-on-power-up"),
        ):
            run = self.post(
                f"/v1/operator/devices/{charger.device_id}/runbook-runs",
                {"runbook": slug, "connector_id": 1},
                operator,
            )
            world.run_ids.append(run["data"]["run_id"])
        self.post(
            f"/v1/operator/runbook-runs/{world.run_ids[2]}/steps/supply-power",
            {"action": "choose", "choice": "supply-bad", "note": "fuzz fixture: paused"},
            operator,
        )
        world.foreign_run_id = start_run(
            platform,
            Device.objects.get(device_id=foreign.device_id),
            "charger-faulting-on-power-up",
        ).run_id

        for charger in (main, v2g, poll):
            campaign = self.post(
                "/v1/operator/firmware-campaigns",
                {
                    "name": f"Fuzz rollout {charger.device_id}",
                    "target_version": "9.9.9",
                    "package_url": "https://firmware.example.com/9.9.9.bin",
                    "device_ids": [charger.device_id],
                },
                operator,
            )
            world.campaign_ids.append(campaign["data"]["campaign_id"])
        self.post(f"/v1/operator/firmware-campaigns/{world.campaign_ids[1]}/pause", None, operator)

        polled = Device.objects.get(device_id=poll.device_id)
        for _ in range(POLL_POOL):
            queue_command(
                Actor.platform(),
                polled,
                "trigger_message",
                {"message": "StatusNotification"},
                expires_in=3600,
            )
        self.http.close()
        return world


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def row_counts() -> dict[str, int]:
    """Rows of everything a request could store; DB access must be unblocked."""
    from diagnostics.models import AlertTransition, RunbookExecution, StepResult
    from fleet.models import (
        ChargingRecord,
        Command,
        CommandStatusChange,
        Control,
        Device,
        DeviceEvent,
        FirmwareUpdate,
        LegacyOrder,
        Schedule,
        Site,
        TelemetrySample,
    )

    models = (
        TelemetrySample, DeviceEvent, ChargingRecord, Command, CommandStatusChange, Control,
        Schedule, Device, Site, FirmwareUpdate, LegacyOrder, AlertTransition, RunbookExecution,
        StepResult,
    )  # fmt: skip
    from django.db import connection

    # One round trip: the fuzzers read these before and after every request.
    counts = ", ".join(f'(SELECT count(*) FROM "{model._meta.db_table}")' for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        row = cursor.fetchone()
    return {model.__name__: count for model, count in zip(models, row, strict=True)}
