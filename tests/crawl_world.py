"""A world with something on every console page, made the way `make run` makes one and
then by the product's own APIs and services only (no SQL), so it is the same on both
databases.

    python -m tests.crawl_world prepare            # as `make run`: migrate, load_diagnostics,
                                                   # seed_console_users, seed_demo
    python -m tests.crawl_world build BASE_URL     # chargers, events, alerts, runs, commands

`build` prints one line of JSON: the ids of what it made and the demo logins (read from
TELLUS_VAR_DIR/console-logins.json, where seed_console_users keeps them). It is run with
the environment of the server under test: the embedded default (tests/embedded.py) or the
PostgreSQL test database (tests/live_server.py).

What it makes, for the "Demo Charging" operator of `make run`:
- three chargers on the demo sites, reporting heartbeats and telemetry over the charger
  API; one of them hot (92 °C on a DC connector), one of them V2G-capable;
- fault events over the charger API: F-0421 three times (a documented code, repeated),
  F-0204 once and X-7777 (in no dictionary) twice;
- charging records uploaded over the charger API;
- the detectors' sweep (open alerts: repeat fault, over-temperature, platform faults);
- commands: one completed by the charger, one left queued;
- a depot with an address and a grid capacity, holding the first charger, under a
  power limit for the whole site (a control in progress);
- a run in progress and an escalated one;
- a firmware rollout of one charger, under way;
- another operator, "Rival Energy", with nothing but an engineer who signs in.
"""

import json
import sys
from datetime import timedelta
from pathlib import Path

import django
from django.apps import apps

if not apps.ready:  # run as a program: set up before the models are imported
    django.setup()

import httpx
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from console.web.roles import Role
from console.web.services.people import create_console_user
from diagnostics.models import Alert
from diagnostics.services.detectors import run_detectors
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import ApiClient, Device, Site
from fleet.secrets_box import unseal
from fleet.services import provisioning
from fleet.services.commands import queue_command
from fleet.services.control import flexibility
from fleet.services.firmware_campaigns import create_campaign

OPERATOR = "Demo Charging"
RIVAL = "Rival Energy"
CHARGERS = [
    # serial, model, firmware, temperature, power
    ("SN-CRAWL-1", "TP-DC180", "3.1.0", 31.0, 42.0),
    ("SN-CRAWL-2", "TP-DC360", "4.0.0", 92.0, 0.0),
    ("SN-CRAWL-3", "TP-AC22", "1.2.0", 28.0, 7.4),
]


def prepare() -> None:
    """What `make run` does before it starts the server (Makefile: run)."""
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_diagnostics", verbosity=0)
    call_command("seed_console_users", operator=OPERATOR, stdout=_Quiet())
    call_command("seed_demo", operator=OPERATOR, stdout=_Quiet())


class _Quiet:
    """Swallows a command's printed passwords and secrets (they are in var/ already)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class Charger:
    """One charger of the world, talking the charger API."""

    def __init__(self, base_url: str, sn: str, model: str, firmware: str):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        registration = self.call(
            "/v1/device/register",
            {
                "sn": sn,
                "model": model,
                "manufacturer": "Tellus Power",
                "firmware_version": firmware,
            },
        )
        self.device_id = registration["device_id"]
        token = self.call(
            "/v1/device/token",
            {
                "device_id": self.device_id,
                "device_secret": registration["device_secret"],
                "grant_type": "client_credentials",
            },
        )
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def call(self, path: str, body: dict) -> dict:
        answer = self.http.post(path, json=body)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text}")
        return answer.json()["data"]

    def report(self, temperature: float, power: float) -> None:
        now = timezone.now().isoformat()
        self.call("/v1/device/heartbeat", {"timestamp": now, "status": "online", "fault_code": 0})
        self.call(
            "/v1/device/telemetry",
            {
                "timestamp": now,
                "connector_id": 1,
                "state": "charging" if power else "idle",
                "voltage": 400.0,
                "current": round(power * 1000 / 400, 1),
                "power": power,
                "energy_delivered": 12.5,
                "soc": 48,
                "temperature": temperature,
            },
        )

    def fault(self, code: str, minutes_ago: int) -> None:
        moment = timezone.now() - timedelta(minutes=minutes_ago)
        self.call(
            "/v1/device/events",
            {
                "timestamp": moment.isoformat(),
                "event_type": "fault",
                "connector_id": 1,
                "data": {"fault_code": code, "message": "reported by the crawl's charger"},
            },
        )

    def record(self, number: int, hours_ago: int, energy: float) -> None:
        start = timezone.now().replace(microsecond=0) - timedelta(hours=hours_ago)
        self.call(
            "/v1/device/charging-records",
            {
                "record_id": f"{self.device_id}-{number}",
                "connector_id": 1,
                "start_time": start.isoformat(),
                "end_time": (start + timedelta(hours=1)).isoformat(),
                "energy": energy,
                "max_power": energy * 1.2,
                "avg_power": energy,
                "meter_start": 1000.0 + number * 100,
                "meter_end": 1000.0 + number * 100 + energy,
            },
        )

    def answer_next_command(self, status: str) -> None:
        answer = self.http.get("/v1/device/commands", params={"connector_id": 1, "wait": 1})
        command = answer.json()["data"]
        if command is None:
            raise RuntimeError("the queued command did not reach the charger")
        self.call(
            "/v1/device/command-status",
            {
                "command_id": command["command_id"],
                "status": status,
                "timestamp": timezone.now().isoformat(),
            },
        )


def build(base_url: str) -> dict:
    demo_sites = list(Site.objects.filter(operator__name=OPERATOR).order_by("name"))
    operator_id = demo_sites[0].operator_id
    actor = Actor.platform(operator_id)
    client = ApiClient.objects.filter(operator_id=operator_id).order_by("created_at").first()
    depot = provisioning.create_site(
        Actor.cli(), client.client_id, "Crawl depot", address="1 Harbour Road, Bristol",
        power_capacity=150.0,
    )  # fmt: skip
    sites = [depot, *demo_sites]
    chargers = []
    for index, (sn, model, firmware, temperature, power) in enumerate(CHARGERS):
        charger = Charger(base_url, sn, model, firmware)
        provisioning.assign_device(
            Actor.cli(),
            charger.device_id,
            sites[index % len(sites)].site_id,
            v2g_capable=model == "TP-DC360",
        )
        charger.report(temperature, power)
        for number in range(3):
            charger.record(number, hours_ago=3 + 5 * number, energy=10.0 + index + number)
        chargers.append(charger)
    first, second, third = chargers
    for minutes in (30, 20, 10):
        first.fault("F-0421", minutes)
    second.fault("F-0204", 15)
    for minutes in (25, 5):
        third.fault("X-7777", minutes)
    run_detectors(timezone.now())

    device = Device.objects.get(device_id=first.device_id)
    completed = queue_command(actor, device, "start_charging", {}, connector_id=1)
    first.answer_next_command("completed")
    queue_command(actor, device, "stop_charging", {}, connector_id=1)
    flexibility(
        actor, "site", [depot.site_id], "set_power_limit",
        {"power_limit_percent": 50, "duration": 3600, "reason": "grid peak"},
    )  # fmt: skip
    run = engine.start_run(actor, device, "charger-faulting-on-power-up", 1)
    escalated = engine.start_run(actor, device, "connector-stuck-preparing", 1)
    engine.escalate(actor, escalated, note="handed to the vendor by the crawl")

    campaign = create_campaign(
        actor, name="Crawl rollout", target_version="4.1.0",
        package_url="https://firmware.example.com/tp-dc360/4.1.0.bin",
        device_ids=[second.device_id], health_window_minutes=30,
    )  # fmt: skip

    provisioning.create_operator_client(Actor.cli(), RIVAL, ["read"])
    rival, rival_password = create_console_user(Actor.cli(), "rival-engineer", RIVAL, "engineer")

    saved = json.loads((Path(settings.VAR_DIR) / "console-logins.json").read_text())
    return {
        "operator_id": operator_id,
        "device_ids": [charger.device_id for charger in chargers],
        "device_id": first.device_id,
        "site_id": device.site_id,
        "run_id": run.run_id,
        "escalated_id": escalated.run_id,
        "campaign_id": campaign.campaign_id,
        "undocumented_code": "X-7777",
        "command_id": completed.command_id,
        "alert_id": Alert.objects.filter(operator_id=operator_id).order_by("alert_id")[0].alert_id,
        # The demo operator's API client (seed_demo keeps its secret sealed, and shows it).
        "api_client": [client.client_id, unseal(client.secret_sealed)],
        "logins": {role: [f"demo-{role}", saved[f"demo-{role}"]] for role in Role.values},
        "rival_login": [rival.username, rival_password],
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        prepare()
    else:
        sys.stdout.write(json.dumps(build(sys.argv[2])) + "\n")
