"""The fleet's read queries: one paginator, and per listing an operator's rows only (a
foreign id is 3001), each filter narrowing, and a fixed order."""

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta

import pytest

from fleet.errors import InvalidParameter, NotFound
from fleet.models import (
    AuditEntry,
    ChargingRecord,
    Command,
    Connector,
    DeviceEvent,
    Site,
    TelemetrySample,
)
from fleet.queries.audit import audit_entries
from fleet.queries.commands import command_for_operator
from fleet.queries.devices import device_events, device_telemetry, devices
from fleet.queries.filters import narrow
from fleet.queries.paging import paginate
from fleet.queries.records import charging_records
from fleet.queries.sites import sites, summarise_sites

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 15, 10, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def foreign_device(rival, assigned_device):
    return assigned_device(rival.client)


def event(device, at: int, event_type: str = "fault", fault_code: str = "") -> DeviceEvent:
    return DeviceEvent.objects.create(
        device=device, connector_id=1, event_type=event_type, fault_code=fault_code,
        timestamp=minutes(at),
    )  # fmt: skip


def sample(device, at: int, connector_id: int = 1) -> TelemetrySample:
    return TelemetrySample.objects.create(
        device=device, connector_id=connector_id, timestamp=minutes(at), state="charging",
        voltage=230.0, current=16.0, power=3.7, energy_delivered=1.0,
    )  # fmt: skip


def record(device, record_id: str, at: int, connector_id: int = 1) -> ChargingRecord:
    return ChargingRecord.objects.create(
        device=device, record_id=record_id, connector_id=connector_id, start_time=minutes(at),
        end_time=minutes(at + 30), energy=5.0, max_power=7.2, avg_power=6.8,
        meter_start=0.0, meter_end=5.0, upload_digest=record_id,
    )  # fmt: skip


# --- The paginator ----------------------------------------------------------------------------


def test_a_page_counts_every_match_and_holds_one_slice(acme, site_for):
    made = [site_for(acme.client, f"Depot {n}") for n in range(5)]
    page = paginate(Site.objects.filter(operator_id=acme.operator_id), 2, 2)
    assert (page.items, page.total, page.page, page.size) == (made[2:4], 5, 2, 2)


def test_the_last_page_may_be_partial_and_a_page_past_it_empty(acme, site_for):
    made = [site_for(acme.client, f"Depot {n}") for n in range(5)]
    queryset = Site.objects.filter(operator_id=acme.operator_id)
    assert paginate(queryset, 3, 2).items == made[4:]
    beyond = paginate(queryset, 4, 2)
    assert (beyond.items, beyond.total) == ([], 5)


def test_a_page_is_a_value(acme):
    page = paginate(Site.objects.none(), 1, 20)
    with pytest.raises(FrozenInstanceError):
        page.total = 1


# --- Sites ------------------------------------------------------------------------------------


def test_sites_are_the_operators_own_oldest_first(acme, rival, site_for):
    first, second = site_for(acme.client, "North"), site_for(acme.client, "South")
    site_for(rival.client, "Elsewhere")
    Site.objects.filter(pk=first.pk).update(created_at=minutes(10))
    Site.objects.filter(pk=second.pk).update(created_at=minutes(0))
    assert list(sites(acme.operator_id)) == [second, first]


def test_sites_filter_on_status(acme, site_for):
    active, inactive = site_for(acme.client, "Open"), site_for(acme.client, "Closed")
    Site.objects.filter(pk=inactive.pk).update(status=Site.Status.INACTIVE)
    assert list(sites(acme.operator_id, status="active")) == [active]
    assert list(sites(acme.operator_id, status="inactive")) == [inactive]


def test_a_site_summary_counts_its_connectors_by_state(device):
    Connector.objects.create(device=device, connector_id=1, state="charging")
    Connector.objects.create(device=device, connector_id=2, state="fault")
    (summary,) = summarise_sites([device.site])
    assert summary.total_connectors == 2
    assert summary.status_summary()["charging"] == 1
    assert summary.status_summary()["fault"] == 1


# --- Devices ----------------------------------------------------------------------------------


def test_devices_are_the_operators_own_oldest_registration_first(
    acme, device, foreign_device, assigned_device
):
    newer = assigned_device(acme.client)
    assert list(devices(acme.operator_id)) == [device, newer]


def test_devices_refuse_a_foreign_site(acme, foreign_device):
    with pytest.raises(NotFound):
        devices(acme.operator_id, site_id=foreign_device.site_id)


def test_each_device_filter_narrows(acme, device, site_for, assigned_device):
    other = assigned_device(
        acme.client, site_for(acme.client, "Yard"), model="TP-AC22", firmware_version="4.0"
    )
    other.status = "online"
    other.save(update_fields=["status"])
    for filters in (
        {"site_id": other.site_id},
        {"status": "online"},
        {"model": "TP-AC22"},
        {"firmware_version": "4.0"},
    ):
        assert list(devices(acme.operator_id, **filters)) == [other], filters


# --- Device events ----------------------------------------------------------------------------


def test_events_of_a_foreign_device_are_not_found(acme, foreign_device):
    with pytest.raises(NotFound):
        device_events(acme.operator_id, foreign_device.device_id)


def test_events_are_newest_first_and_each_filter_narrows(acme, device):
    old = event(device, 0, fault_code="F-0421")
    middle = event(device, 10, event_type="status_change")
    new = event(device, 20)
    assert list(device_events(acme.operator_id, device.device_id)) == [new, middle, old]
    for filters, expected in (
        ({"event_type": "status_change"}, [middle]),
        ({"fault_code": "F-0421"}, [old]),
        ({"since": minutes(10)}, [new, middle]),
        ({"until": minutes(10)}, [old]),
    ):
        assert list(device_events(acme.operator_id, device.device_id, **filters)) == expected


def test_an_inverted_window_is_refused(acme, device):
    with pytest.raises(InvalidParameter):
        device_events(acme.operator_id, device.device_id, since=minutes(10), until=minutes(0))


# --- Telemetry --------------------------------------------------------------------------------


def test_telemetry_of_a_foreign_device_is_not_found(acme, foreign_device):
    with pytest.raises(NotFound):
        device_telemetry(acme.operator_id, foreign_device.device_id)


def test_telemetry_is_newest_first_and_each_filter_narrows(acme, device):
    old, second_connector, new = sample(device, 0), sample(device, 10, 2), sample(device, 20)
    assert list(device_telemetry(acme.operator_id, device.device_id)) == [
        new,
        second_connector,
        old,
    ]
    for filters, expected in (
        ({"connector_id": 2}, [second_connector]),
        ({"since": minutes(10)}, [new, second_connector]),
        ({"until": minutes(10)}, [old]),
    ):
        assert list(device_telemetry(acme.operator_id, device.device_id, **filters)) == expected


def test_connector_zero_is_a_filter_value_and_empty_text_is_no_filter(acme, device):
    whole_device, first = sample(device, 0, 0), sample(device, 10, 1)
    queryset = TelemetrySample.objects.order_by("timestamp")
    assert list(narrow(queryset, connector_id=0)) == [whole_device]
    assert list(narrow(queryset, connector_id=None, state="")) == [whole_device, first]


# --- Charging records -------------------------------------------------------------------------


def test_records_are_the_operators_own_newest_first(acme, device, foreign_device):
    old, new = record(device, "R-1", 0), record(device, "R-2", 60)
    record(foreign_device, "R-X", 30)
    assert list(charging_records(acme.operator_id)) == [new, old]


def test_records_refuse_a_foreign_device(acme, foreign_device):
    with pytest.raises(NotFound):
        charging_records(acme.operator_id, device_id=foreign_device.device_id)


def test_each_record_filter_narrows(acme, device, assigned_device):
    other = assigned_device(acme.client)
    old, second_connector = record(device, "R-1", 0), record(device, "R-2", 60, connector_id=2)
    elsewhere = record(other, "R-3", 120)
    for filters, expected in (
        ({"device_id": other.device_id}, [elsewhere]),
        ({"connector_id": 2}, [second_connector]),
        ({"start_time": minutes(60)}, [elsewhere, second_connector]),
        ({"end_time": minutes(60)}, [old]),
    ):
        assert list(charging_records(acme.operator_id, **filters)) == expected, filters


def test_an_inverted_record_window_names_end_time(acme):
    with pytest.raises(InvalidParameter) as refused:
        charging_records(acme.operator_id, start_time=minutes(10), end_time=minutes(10))
    assert refused.value.details["field"] == "end_time"


# --- Commands ---------------------------------------------------------------------------------


def test_a_command_is_found_only_by_its_operator(acme, rival, device):
    command = Command.objects.create(
        device=device, command="start_charging", operator_id=acme.operator_id, expires_at=T0
    )
    assert command_for_operator(acme.operator_id, command.command_id) == command
    with pytest.raises(NotFound):
        command_for_operator(rival.operator_id, command.command_id)


# --- Audit log --------------------------------------------------------------------------------


def entry(operator_id, at: int, **fields) -> AuditEntry:
    values = {"actor": "platform", "action": "update", "resource_type": "query", "resource_id": "q"}
    made = AuditEntry.objects.create(operator_id=operator_id, **{**values, **fields})
    AuditEntry.objects.filter(pk=made.pk).update(at=minutes(at))
    return AuditEntry.objects.get(pk=made.pk)


def test_audit_entries_are_the_operators_own_newest_first(acme, rival):
    AuditEntry.objects.all().delete()  # provisioning's own entries are not the subject
    old, new = entry(acme.operator_id, 0), entry(acme.operator_id, 10)
    entry(rival.operator_id, 5)
    assert list(audit_entries(acme.operator_id)) == [new, old]


def test_each_audit_filter_narrows(acme):
    AuditEntry.objects.all().delete()
    entry(acme.operator_id, 0)
    for field, value in (
        ("actor", "client:cli_1"),
        ("resource_type", "device"),
        ("resource_id", "dvc_1"),
        ("action", "delete"),
    ):
        special = entry(acme.operator_id, 1, **{field: value})
        assert list(audit_entries(acme.operator_id, **{field: value})) == [special]
        special.delete()
    later = entry(acme.operator_id, 20)
    assert list(audit_entries(acme.operator_id, since=minutes(20))) == [later]
