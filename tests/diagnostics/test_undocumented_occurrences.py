"""The reports of an undocumented code as the fault dictionary's "Unknown codes" section
asks for them: with the charger's `device_id` and its `firmware_version` — the version it
ran when it sent the report, not the one it runs now — read for one operator."""

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.queries.undocumented import code_events, firmware_at, occurrences
from fleet.actors import Actor
from fleet.models import DeviceEvent, FirmwareUpdate
from fleet.services import provisioning
from fleet.services.firmware import report_firmware_status

T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# (time of the success report, version before, version after)
UPGRADES = [(T, "3.0.1", "3.0.3"), (T + 2 * HOUR, "3.0.3", "3.1.0")]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (T - HOUR, "3.0.1"),  # before any upgrade: what the first one replaced
        (T, "3.0.3"),  # an upgrade counts from its success report
        (T + HOUR, "3.0.3"),
        (T + 3 * HOUR, "3.1.0"),
    ],
)
def test_the_firmware_at_a_report_is_read_from_the_upgrades_around_it(moment, expected):
    assert firmware_at("3.1.0", UPGRADES, moment) == expected


def test_a_charger_never_upgraded_ran_the_version_it_runs_now():
    assert firmware_at("260420.0107", [], T) == "260420.0107"


def test_an_upgrade_that_did_not_say_what_it_replaced_leaves_the_version_unknown():
    assert firmware_at("3.1.0", [(T, "", "3.1.0")], T - HOUR) is None


@pytest.mark.django_db
def test_reports_carry_the_firmware_of_their_moment_even_after_the_charger_changed_hands(
    acme, rival, assigned_device, site_for
):
    device = assigned_device(acme.client, firmware_version="3.0.1")
    before = DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code="X-1",
        timestamp=datetime.now(UTC) - timedelta(days=2), data={"fault_code": "X-1"},
    )  # fmt: skip
    # Handed to Rival, which upgrades it: Acme's report still ran 3.0.1.
    provisioning.assign_device(Actor.platform(), device.device_id, site_for(rival.client).site_id)
    report_firmware_status(device.device_id, "3.1.0", FirmwareUpdate.Status.SUCCESS)
    (report,) = occurrences(acme.client.operator_id, code_events(acme.client.operator_id, "X-1"))
    assert report.event_id == before.pk
    assert (report.device_id, report.firmware_version) == (device.device_id, "3.0.1")
    assert not report.in_fleet
    assert occurrences(rival.client.operator_id, code_events(rival.client.operator_id, "X-1")) == []


@pytest.mark.django_db
def test_reading_a_page_of_reports_takes_a_fixed_number_of_queries(
    acme, assigned_device, django_assert_num_queries
):
    for n in range(5):
        device = assigned_device(acme.client)
        DeviceEvent.objects.create(
            device=device, connector_id=n % 2, event_type="fault", fault_code="X-1",
            timestamp=datetime.now(UTC) - timedelta(minutes=n), data={"fault_code": "X-1"},
        )  # fmt: skip
    events = list(code_events(acme.client.operator_id, "X-1"))
    # The chargers, their upgrades, the connectors of whole-charger reports, the readings.
    with django_assert_num_queries(4):
        assert len(occurrences(acme.client.operator_id, events)) == 5
