"""Firmware upgrades carried out by the simulator against a live server at 100x: the
charger downloads, installs, reboots (silent, so the platform sees it go offline) and
comes back on the new build, which decides its field case from then on: the F-0421
cluster stops faulting on 3.1.0, and a bad build starts raising F-0411.

The reboot is lengthened to 150 simulated seconds (1.5 s) and the offline threshold set
to 1 s (100 simulated seconds, beyond the 30 s heartbeat), so the liveness sweep run
here, as the Celery beat would run it, sees the charger go dark."""

import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Command, ConnectivityChange, Device, DeviceEvent, FirmwareUpdate
from fleet.services import demo, liveness
from fleet.services.commands import queue_command
from fleet.simulator import charger
from fleet.simulator.charger import SimulatedCharger
from fleet.simulator.fleet import FleetOptions
from tests.fleet.test_simulator import RunningFleet
from tests.live_server import LiveServer, eventually, serving

pytestmark = pytest.mark.django_db(transaction=True)

FIXED_BUILD = {"firmware_version": "3.1.0", "package_url": "https://fw.example/dc180/3.1.0.bin"}
FINISHED = {"completed", "failed", "rejected"}


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


@pytest.fixture
def reports(monkeypatch) -> list[tuple[str, str, int | None]]:
    """Every firmware status report the simulated chargers had answered, in order:
    (device id, status, progress)."""
    sent: list[tuple[str, str, int | None]] = []
    report = SimulatedCharger.firmware_status

    async def recorded(self, version, status, progress, message=""):
        await report(self, version, status, progress, message)
        sent.append((self.device_id, status, progress))

    monkeypatch.setattr(SimulatedCharger, "firmware_status", recorded)
    return sent


@pytest.fixture
def slow_boot(settings, monkeypatch) -> None:
    monkeypatch.setattr(charger, "BOOT_SECONDS", (150.0, 150.0))
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 1


def fleet_options(server: LiveServer, tmp_path, chargers: int, scenario: str) -> FleetOptions:
    return FleetOptions(
        base_url=server.url,
        chargers=chargers,
        scenarios=[scenario],
        seed=28,
        speed=100,
        state_file=tmp_path / "fleet.json",
    )


def placed_operator(count: int) -> Actor:
    """The chargers, once registered, on two sites of an operator; that operator's API
    client as the actor queuing commands."""
    eventually(lambda: Device.objects.count() == count, 60, f"{count} chargers registered")
    client, _ = demo.ensure_operator_client("Firmware Works")
    sites = demo.ensure_sites(client, 2)
    chargers = [{"device_id": d.device_id, "model": d.model} for d in Device.objects.all()]
    demo.place_chargers(chargers, sites)
    return Actor.for_client(client)


def events(device: Device, kind: str, code: str = "", after: datetime | None = None):
    found = DeviceEvent.objects.filter(device=device, event_type=kind)
    if code:
        found = found.filter(fault_code=code)
    if after is not None:
        found = found.filter(timestamp__gt=after)
    return found


def answered(command: Command) -> bool:
    command.refresh_from_db()
    return command.device_status in FINISHED


def state_of(tmp_path, device: Device) -> dict:
    state = json.loads((tmp_path / "fleet.json").read_text())
    return next(c for c in state["chargers"] if c["device_id"] == device.device_id)


def test_an_upgrade_reboots_the_charger_into_the_build_that_ends_f0421(
    server, tmp_path, reports, slow_boot
):
    options = fleet_options(server, tmp_path, 3, "f0421-cluster")
    with RunningFleet(options):
        operator = placed_operator(3)
        upgraded, untouched, _ = Device.objects.order_by("device_id")
        eventually(
            lambda: events(upgraded, "fault", "F-0421").count() >= 2,
            60,
            "F-0421 twice on the charger to upgrade",
        )
        # Packages a charger cannot download are refused before anything starts.
        bad_urls = [
            queue_command(operator, untouched, "firmware_upgrade", {**FIXED_BUILD, **url})
            for url in ({"package_url": "ftp://fw.example/3.1.0.bin"}, {"package_url": ""})
        ]
        upgrade = queue_command(operator, upgraded, "firmware_upgrade", FIXED_BUILD)

        seen: list[str] = []  # the upgrade's states as the server held them, polled

        def upgrade_answered() -> bool:
            liveness.mark_offline(timezone.now())
            row = FirmwareUpdate.objects.filter(device=upgraded).first()
            if row is not None and (not seen or seen[-1] != row.status):
                seen.append(row.status)
            return answered(upgrade) and all(answered(c) for c in bad_urls)

        eventually(upgrade_answered, 90, "the upgrade and the refusals answered")
        update = FirmwareUpdate.objects.get(device=upgraded)
        succeeded_at = update.updated_at
        eventually(
            lambda: (
                events(upgraded, "start", after=succeeded_at).count() >= 2
                and events(untouched, "fault", "F-0421", after=succeeded_at).count() >= 2
            ),
            90,
            "two sessions charging on the upgraded charger, two F-0421 on one left as it was",
        )

    # The command went its whole way, with the new version in its result.
    assert upgrade.device_status == "completed"
    assert upgrade.result == {"firmware_version": "3.1.0"}
    assert list(upgrade.history.order_by("at").values_list("status", flat=True)) == [
        "queued",
        "accepted",
        "completed",
    ]
    accepted_at = upgrade.history.get(status="accepted").at
    # Every progress report, in order, all on one upgrade the server tracked to its end.
    assert [(status, progress) for device, status, progress in reports] == [
        ("downloading", 0),
        ("downloading", 25),
        ("downloading", 50),
        ("downloading", 75),
        ("downloading", 100),
        ("upgrading", None),
        ("success", 100),
    ]
    assert {device for device, _, _ in reports} == {upgraded.device_id}
    order = ["downloading", "upgrading", "success"]
    assert seen == sorted(seen, key=order.index) and seen[-1] == "success", seen
    assert (update.previous_version, update.firmware_version) == ("3.0.1", "3.1.0")
    assert (update.status, update.progress) == ("success", 100)
    upgraded.refresh_from_db()
    assert upgraded.firmware_version == "3.1.0"
    # Dark while it rebooted, back with a heartbeat before it told the success.
    changes = list(
        ConnectivityChange.objects.filter(device=upgraded, at__gt=accepted_at)
        .order_by("at")
        .values_list("status", "at")
    )
    offline = [at for status, at in changes if status == "offline" and at < succeeded_at]
    assert offline, changes
    back = [at for status, at in changes if status == "online" and at > offline[0]]
    assert back and back[0] <= succeeded_at, changes
    assert upgraded.status == "online"
    # The fix: no F-0421 once 3.1.0 runs; the charger left on 3.0.1 goes on faulting.
    assert not events(upgraded, "fault", "F-0421", after=succeeded_at).exists()
    untouched.refresh_from_db()
    assert untouched.firmware_version == "3.0.1"
    for refused in bad_urls:
        refused.refresh_from_db()
        assert refused.device_status == "rejected"
        assert "package URL" in refused.result["reason"]
    assert not FirmwareUpdate.objects.filter(device=untouched).exists()
    saved = state_of(tmp_path, upgraded)
    assert (saved["firmware_version"], saved["upgraded_from"]) == ("3.1.0", "3.0.1")
    assert "pending_upgrade" not in saved

    # A rerun from the state file starts on the new build: the charger charges again.
    restarted = timezone.now()
    with RunningFleet(options):
        eventually(
            lambda: events(upgraded, "start", after=restarted).exists(),
            90,
            "the upgraded charger charging after the restart",
        )
    assert Device.objects.count() == 3
    assert not events(upgraded, "fault", "F-0421", after=succeeded_at).exists()
    assert state_of(tmp_path, upgraded)["firmware_version"] == "3.1.0"
    upgraded.refresh_from_db()
    assert upgraded.firmware_version == "3.1.0"
    assert FirmwareUpdate.objects.filter(device=upgraded).count() == 1


def test_a_bad_build_raises_f0411_after_its_upgrade_and_not_before(server, tmp_path, reports):
    options = fleet_options(server, tmp_path, 2, "bad-build")
    with RunningFleet(options):
        operator = placed_operator(2)
        upgraded, left = Device.objects.order_by("device_id")
        assert {upgraded.firmware_version, left.firmware_version} == {"2.3.1"}
        eventually(
            lambda: events(upgraded, "start").exists() and events(left, "start").exists(),
            60,
            "both chargers charging on their first build",
        )
        # The older form of the command: a version and no package URL.
        upgrade = queue_command(operator, upgraded, "firmware_upgrade", {"version": "2.4.0"})
        eventually(lambda: answered(upgrade), 90, "the upgrade answered")
        eventually(
            lambda: events(upgraded, "fault", "F-0411").count() >= 2,
            90,
            "F-0411 at two session starts on the new build",
        )

    assert upgrade.device_status == "completed"
    accepted_at = upgrade.history.get(status="accepted").at
    regressions = events(upgraded, "fault", "F-0411")
    assert not regressions.filter(timestamp__lte=accepted_at).exists()
    assert not events(left, "fault").exists()  # the one not upgraded stays healthy
    upgraded.refresh_from_db()
    assert upgraded.firmware_version == "2.4.0"
    assert [status for _, status, _ in reports][-1] == "success"
