"""The simulator against a live server, accelerated: what the server recorded.

Four chargers of the usual mix run at 100x speed through the public charger API only,
with half the answers to their record uploads lost on the way back (`flaky-uplink`):
sessions end in charging records stored once each; commands queued for them are carried
out end to end; a rerun with the same state file reuses the same chargers.
"""

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from django.db.models import Count

from diagnostics.services.remote_commands import send_diagnostic_command
from fleet.actors import Actor
from fleet.models import ChargingRecord, Command, Device, DeviceEvent, TelemetrySample
from fleet.services import demo
from fleet.services.commands import queue_command
from fleet.simulator.fleet import FleetOptions, run_fleet
from tests.live_server import LiveServer, eventually, serving

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


class RunningFleet:
    """run_fleet on its own thread and event loop, stopped on request."""

    def __init__(self, options: FleetOptions):
        self.options = options
        self.summary: dict = {}
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.stopping = asyncio.Event()
            self.summary = await run_fleet(self.options, self.stopping)

        self.loop.run_until_complete(main())

    def __enter__(self) -> "RunningFleet":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        while self.stopping is None:
            time.sleep(0.05)
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the fleet did not stop"


def test_an_accelerated_fleet_charges_reports_and_obeys(server, tmp_path):
    options = FleetOptions(
        base_url=server.url,
        chargers=4,
        scenarios=["flaky-uplink"],
        seed=7,
        speed=100,
        state_file=tmp_path / "fleet.json",
    )
    with RunningFleet(options) as fleet:
        eventually(lambda: Device.objects.count() == 4, what="four chargers registered")
        client, _ = demo.ensure_operator_client("Simulated Charging")
        sites = demo.ensure_sites(client, 2)
        chargers = [{"device_id": d.device_id, "model": d.model} for d in Device.objects.all()]
        demo.place_chargers(chargers, sites)

        eventually(lambda: ChargingRecord.objects.count() >= 3, what="three charging records")

        # Commands reach the chargers through heartbeat or long poll and are answered.
        operator = Actor.platform(client.operator_id)
        device = Device.objects.order_by("device_id").first()
        test = send_diagnostic_command(operator, device.device_id, "run_self_test", confirm=True)
        limit = queue_command(
            operator, device, "set_power_limit", {"power_limit_percent": 0, "duration": 600}
        )
        unknown = queue_command(operator, device, "make_coffee", {})
        finished = {"completed", "failed", "rejected"}
        eventually(
            lambda: (
                set(
                    Command.objects.filter(
                        command_id__in=[test.command_id, limit.command_id, unknown.command_id]
                    ).values_list("device_status", flat=True)
                )
                <= finished
            ),
            what="the three commands answered",
        )
    summary = fleet.summary

    statuses = dict(
        Command.objects.filter(
            command_id__in=[test.command_id, limit.command_id, unknown.command_id]
        ).values_list("command_id", "device_status")
    )
    assert statuses == {
        test.command_id: "completed",
        limit.command_id: "completed",
        unknown.command_id: "rejected",
    }
    assert TelemetrySample.objects.count() > 50
    kinds = set(DeviceEvent.objects.values_list("event_type", flat=True))
    assert {"plug_in", "auth_ok", "start", "stop"} <= kinds
    # Every record once, although some were sent twice; none left unsent.
    assert summary["record_answers_lost"] >= 1, summary
    duplicates = (
        ChargingRecord.objects.values("device_id", "record_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert ChargingRecord.objects.count() == summary["records_uploaded"]
    assert summary.get("refused", 0) == 0, summary
    assert all(record.energy > 0 for record in ChargingRecord.objects.all())

    # A rerun with the same state file is the same fleet: no new registration.
    rerun = FleetOptions(**{**options.__dict__, "duration": 3.0})
    again = asyncio.run(run_fleet(rerun))
    assert again["chargers"] == 4
    assert Device.objects.count() == 4
