"""Every auto-verify check: pass, fail and unknown on small fixtures."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from diagnostics.checks import CHECKS, FAIL, PASS, UNKNOWN, run_check
from fleet.actors import Actor
from fleet.models import DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 15, 11, 0, tzinfo=UTC)


def sample(device, seconds=0, connector_id=1, **fields):
    values = {
        "state": "charging",
        "voltage": 400.0,
        "current": 30.0,
        "power": 12.0,
        "energy_delivered": 1.0,
    }
    values.update(fields)
    return TelemetrySample.objects.create(
        device=device,
        connector_id=connector_id,
        timestamp=T0 + timedelta(seconds=seconds),
        **values,
    )


def event(device, event_type="fault", code="", seconds=0, connector_id=1):
    return DeviceEvent.objects.create(
        device=device, connector_id=connector_id, event_type=event_type, fault_code=code,
        timestamp=T0 + timedelta(seconds=seconds), data={"fault_code": code} if code else {},
    )  # fmt: skip


def outcome(name, device, **params):
    return run_check(name, device, **params).outcome


def test_all_checks_are_registered():
    assert set(CHECKS) == {
        "voltage_in_envelope", "heartbeat_fresh", "fault_pattern", "firmware_current",
        "firmware_at_least", "auth_before_preparing", "command_status", "fleet_cluster",
        "code_present", "soc_above_floor", "back_online_after_reboot", "remote_start_worked",
        "inverter_synced_before_discharge", "fault_gone_after_upgrade",
    }  # fmt: skip


def test_voltage_in_envelope(device):
    assert outcome("voltage_in_envelope", device, envelope=(360, 440)) == UNKNOWN  # no telemetry
    sample(device, voltage=400.0)
    assert outcome("voltage_in_envelope", device) == UNKNOWN  # no envelope for the model
    result = run_check("voltage_in_envelope", device, envelope=(360, 440))
    assert result.outcome == PASS and result.evidence["voltage"] == 400.0
    sample(device, seconds=5, voltage=300.0)
    assert outcome("voltage_in_envelope", device, envelope=(360, 440)) == FAIL


def test_voltage_phase_balance(device):
    balanced = {p: {"voltage": 230.0, "current": 16.0} for p in ("phase_a", "phase_b", "phase_c")}
    sample(device, voltage=230.0, phase_details=balanced)
    assert outcome("voltage_in_envelope", device, envelope=(207, 253)) == PASS
    skewed = {**balanced, "phase_c": {"voltage": 210.0, "current": 16.0}}
    sample(device, seconds=5, voltage=230.0, phase_details=skewed)
    result = run_check("voltage_in_envelope", device, envelope=(207, 253))
    assert result.outcome == FAIL and result.evidence["imbalance_pct"] > 5
    missing = {"phase_a": balanced["phase_a"], "phase_b": balanced["phase_b"]}
    sample(device, seconds=10, voltage=230.0, phase_details=missing)
    assert outcome("voltage_in_envelope", device, envelope=(207, 253)) == FAIL


def test_heartbeat_fresh(device):
    assert outcome("heartbeat_fresh", device) == FAIL  # never seen
    now = timezone.now()
    device.status, device.last_heartbeat = "online", now - timedelta(seconds=20)
    assert outcome("heartbeat_fresh", device, now=now) == PASS
    device.last_heartbeat = now - timedelta(seconds=61)
    assert outcome("heartbeat_fresh", device, now=now) == FAIL
    device.status, device.last_heartbeat = "offline", now
    assert outcome("heartbeat_fresh", device, now=now) == FAIL


@pytest.mark.parametrize(
    ("codes", "pattern"),
    [
        ([], "none"),
        (["F-0411"], "f0411_single"),
        (["F-0411", "F-0411"], "none"),
        (["F-0421", "F-0421"], "f0421_cluster"),
        (["F-0421"], "none"),
        (["F-0702", "F-0421", "F-0421"], "v2g"),
        (["F-0701", "F-0204", "F-0411"], "f0204"),
    ],
)
def test_fault_pattern(device, codes, pattern):
    for index, code in enumerate(codes):
        event(device, code=code, seconds=index)
    result = run_check("fault_pattern", device)
    assert result.evidence["pattern"] == pattern
    assert result.outcome == (PASS if pattern == "none" else FAIL)


def test_fault_pattern_looks_at_the_newest_ten(device):
    for index in range(2):
        event(device, code="F-0421", seconds=index)
    for index in range(10):
        event(device, code="F-0805", seconds=100 + index)
    assert run_check("fault_pattern", device).evidence["pattern"] == "none"


@pytest.mark.parametrize(
    ("model", "firmware", "expected"),
    [
        ("TP-DC180", "3.1.0", PASS),
        ("TP-DC180", "3.0.2", PASS),  # one minor behind
        ("TP-DC360", "4.0.0", PASS),
        ("TP-DC180", "2.9.0", FAIL),  # lower major
        ("TP-DC360", "3.9.9", FAIL),
        ("TP-DC180", "260420.0107", UNKNOWN),  # other numbering scheme
        ("TP-AC22", "1.0.0", UNKNOWN),  # no latest stable known
    ],
)
def test_firmware_current(device, model, firmware, expected):
    device.model, device.firmware_version = model, firmware
    assert outcome("firmware_current", device) == expected


def test_firmware_current_counts_minor_versions(device):
    device.firmware_version = "3.0.0"  # the catalogue's TP-DC180 latest is 3.1.0
    assert run_check("firmware_current", device).evidence["minor_versions_behind"] == 1


@pytest.mark.parametrize(
    ("firmware", "minimum", "expected"),
    [("260420.0107", "260420.0107", PASS), ("260301.0001", "260420.0107", FAIL),
     ("4.1.0", "4.1.0", PASS), ("4.0.0", "4.1.0", FAIL), ("4.1.0", "260420.0107", UNKNOWN)],
)  # fmt: skip
def test_firmware_at_least(device, firmware, minimum, expected):
    device.firmware_version = firmware
    assert outcome("firmware_at_least", device, minimum=minimum) == expected


def test_auth_before_preparing(device):
    assert outcome("auth_before_preparing", device, connector_id=1) == UNKNOWN
    event(device, "plug_in", seconds=0)
    sample(device, seconds=10, state="preparing")
    assert outcome("auth_before_preparing", device, connector_id=1) == FAIL
    event(device, "auth_ok", seconds=5)
    result = run_check("auth_before_preparing", device, connector_id=1)
    assert result.outcome == PASS
    assert result.evidence["auth_ok"].startswith("2025-03-15T11:00:05")


def test_auth_from_an_earlier_session_does_not_count(device):
    event(device, "auth_ok", seconds=-600)
    event(device, "plug_in", seconds=0)
    sample(device, seconds=10, state="preparing")
    assert outcome("auth_before_preparing", device, connector_id=1) == FAIL


def test_command_status(device):
    assert outcome("command_status", device, command_id="cmd_none") == UNKNOWN
    command = queue_command(Actor.platform(), device, "discharge", {}, connector_id=1)
    assert outcome("command_status", device, command_id=command.command_id) == FAIL  # queued
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    result = run_check("command_status", device, command_id=command.command_id)
    assert result.outcome == PASS and result.evidence["status"] == "accepted"


def test_fleet_cluster_passes_when_the_fault_is_firmware_related(
    device, make_client, assigned_device, site_for
):
    """The step passes when its condition is true: "firmware-related if any version has
    >= 2 distinct devices spanning >= 2 distinct sites"."""
    client = device.site.operator.clients.first()
    now = T0 + timedelta(days=1)
    assert outcome("fleet_cluster", device, now=now) == FAIL
    other_site = site_for(client, "Far away")
    peer = assigned_device(client, other_site, firmware_version="3.1.0")
    event(device, code="F-0421")
    assert outcome("fleet_cluster", device, now=now) == FAIL  # one device
    event(peer, code="F-0421")
    result = run_check("fleet_cluster", device, now=now)
    assert result.outcome == PASS and result.evidence["cluster_firmware"] == "3.1.0"
    assert outcome("fleet_cluster", device, now=now + timedelta(days=8)) == FAIL  # too old
    assert outcome("fleet_cluster", device, now=now, min_sites=3) == FAIL


def test_fleet_cluster_needs_one_firmware_version(device, assigned_device, site_for):
    client = device.site.operator.clients.first()
    peer = assigned_device(client, site_for(client, "B"), firmware_version="3.0.1")
    event(device, code="F-0421")
    event(peer, code="F-0421")
    assert outcome("fleet_cluster", device, now=T0 + timedelta(hours=1)) == FAIL


def test_code_present(device):
    assert outcome("code_present", device, fault_codes=("F-0702",)) == PASS
    event(device, code="F-0702", seconds=0)
    assert outcome("code_present", device, fault_codes=("F-0702",)) == FAIL
    assert (
        outcome("code_present", device, fault_codes=("F-0702",), since=T0 + timedelta(seconds=1))
        == PASS
    )
    assert outcome("code_present", device, fault_codes=("F-0702",), connector_id=2) == PASS


def test_soc_above_floor(device):
    assert outcome("soc_above_floor", device, connector_id=1) == UNKNOWN
    sample(device, soc=45)
    assert outcome("soc_above_floor", device, connector_id=1) == PASS
    sample(device, seconds=5, soc=20)
    assert outcome("soc_above_floor", device, connector_id=1) == FAIL


@pytest.mark.parametrize(
    ("firmware", "said"),
    [
        ("3.1.0", "3.1.0 is the latest stable build or newer"),
        ("3.2.0", "3.2.0 is the latest stable build or newer"),
        ("3.0.5", "3.0.5 is 1 minor version behind 3.1.0, within the 2 allowed"),
    ],
)
def test_firmware_current_says_how_current_the_build_is(device, firmware, said):
    device.model, device.firmware_version = "TP-DC180", firmware
    assert run_check("firmware_current", device).summary == said
