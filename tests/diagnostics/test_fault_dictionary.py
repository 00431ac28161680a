"""Loading the fault dictionary, reading fault events through it, and its API."""

import importlib
import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.core.management import call_command

from diagnostics.models import FaultCode
from diagnostics.services.faults import firmware_assessment, get_fault, undocumented_codes
from diagnostics.services.loader import DiagnosticsDataError, digest, load_faults
from fleet.models import DeviceEvent

pytestmark = pytest.mark.django_db
ALL_CODES = [
    "F-0101", "F-0203", "F-0204", "F-0301", "F-0302", "F-0411",
    "F-0421", "F-0512", "F-0601", "F-0701", "F-0702", "F-0805",
]  # fmt: skip


@pytest.fixture
def dictionary():
    return load_faults()


def test_the_shipped_dictionary_has_all_twelve_codes(dictionary):
    assert sorted(dictionary.created) == ALL_CODES
    f0421 = FaultCode.objects.get(code="F-0421")
    assert f0421.severity == "error"
    assert f0421.diagnostic_steps and all("text" in s for s in f0421.diagnostic_steps)
    (issue,) = f0421.known_firmware_issues
    assert (issue["affected_from"], issue["affected_to"], issue["fixed_in"]) == (
        "3.0.0",
        "3.0.2",
        "3.0.3",
    )
    assert FaultCode.objects.get(code="F-0301").source == "platform"
    assert FaultCode.objects.get(code="F-0302").source == "platform"


def test_reloading_is_idempotent_and_keeps_admin_edits(dictionary):
    edited = FaultCode.objects.get(code="F-0601")
    edited.description = "Site note: fans on this fleet are replaced every winter."
    edited.save()
    again = load_faults()
    assert again.created == [] and again.updated == []
    assert FaultCode.objects.count() == 12
    assert FaultCode.objects.get(code="F-0601").description.startswith("Site note")


def test_a_changed_file_updates_untouched_entries_only(dictionary, tmp_path):
    entries = yaml.safe_load(Path("diagnostics/data/faults.yaml").read_text())
    for entry in entries:
        entry["title"] = entry["title"] + " (rev 2)"
    changed = tmp_path / "faults.yaml"
    changed.write_text(yaml.safe_dump(entries))
    edited = FaultCode.objects.get(code="F-0101")
    edited.title = "Welded contactor (local wording)"
    edited.save()
    FaultCode.objects.create(
        code="F-9999", title="Local code", severity="warning", category="hardware", description="x"
    )
    report = load_faults(changed)
    assert report.kept_edits == ["F-0101"]
    assert len(report.updated) == 11
    assert FaultCode.objects.get(code="F-0101").title == "Welded contactor (local wording)"
    assert FaultCode.objects.get(code="F-0203").title.endswith("(rev 2)")
    assert FaultCode.objects.filter(code="F-9999").exists()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"title": "x", "severity": "error", "category": "c", "description": "d"},
            "without a code",
        ),
        (
            {"code": "F-1", "title": "x", "severity": "fatal", "category": "c", "description": "d"},
            "severity",
        ),
        ({"code": "F-1", "severity": "error", "category": "c", "description": "d"}, "title"),
    ],
)
def test_invalid_files_are_refused_whole(tmp_path, entry, message):
    bad = tmp_path / "faults.yaml"
    bad.write_text(yaml.safe_dump([entry]))
    with pytest.raises(DiagnosticsDataError, match=message):
        load_faults(bad)
    assert not FaultCode.objects.exists()


def test_f0101_says_no_issue_from_260420_0107_onwards_and_nothing_about_older_builds(
    dictionary,
):
    f0101 = FaultCode.objects.get(code="F-0101")
    assert f0101.known_firmware_issues == []
    assert "from version 260420.0107 onwards" in f0101.firmware_statement
    assert "Nothing is documented about older builds" in f0101.firmware_statement


def test_entries_the_documentation_plainly_calls_free_of_firmware_issues_carry_no_statement(
    dictionary,
):
    stated = FaultCode.objects.exclude(firmware_statement="")
    assert list(stated.values_list("code", flat=True)) == ["F-0101"]


def shipped_with(tmp_path, code: str, **fields) -> Path:
    entries = yaml.safe_load(Path("diagnostics/data/faults.yaml").read_text())
    for entry in entries:
        if entry["code"] == code:
            entry.update(fields)
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (12, "must be text"),
        (["none from 1.0"], "must be text"),
        ("none from\x07 1.0", "control characters"),
        ("x" * 501, "longer than 500"),
    ],
)
def test_the_loader_refuses_a_firmware_statement_that_is_not_a_short_text(
    tmp_path, statement, message
):
    with pytest.raises(DiagnosticsDataError, match=message):
        load_faults(shipped_with(tmp_path, "F-0203", firmware_statement=statement))
    assert not FaultCode.objects.exists()


def test_a_firmware_statement_is_kept_as_one_line_of_words(tmp_path, db):
    load_faults(shipped_with(tmp_path, "F-0203", firmware_statement="  None from\n 9.9 on.  "))
    assert FaultCode.objects.get(code="F-0203").firmware_statement == "None from 9.9 on."


def test_entries_loaded_before_the_statement_existed_take_it_on_the_next_load(dictionary):
    """The migration re-digests rows still holding the last load, so the next load
    updates F-0101 from the file, leaves the others as they are and takes none of them
    for an admin edit; an entry an admin edited stays the edit."""
    migration = importlib.import_module("diagnostics.migrations.0008_fault_firmware_statement")
    for fault in FaultCode.objects.all():  # as the previous release loaded them
        old = {name: getattr(fault, name) for name in migration.OLD_FAULT_FIELDS}
        fault.firmware_statement, fault.loaded_digest = "", digest(old)
        fault.save()
    FaultCode.objects.filter(code="F-0601").update(description="Site note: edited")
    migration.carry_fault_digests(apps, None)
    report = load_faults()
    assert report.updated == ["F-0101"] and report.kept_edits == ["F-0601"]
    assert len(report.unchanged) == 10
    assert "260420.0107" in FaultCode.objects.get(code="F-0101").firmware_statement


def test_load_diagnostics_command(db):
    out = StringIO()
    call_command("load_diagnostics", stdout=out)
    assert sorted(json.loads(out.getvalue())["faults"]["created"]) == ALL_CODES
    out = StringIO()
    call_command("load_diagnostics", stdout=out)
    assert sorted(json.loads(out.getvalue())["faults"]["unchanged"]) == ALL_CODES


@pytest.fixture
def device(acme, assigned_device):
    """A charger on firmware 3.0.1, inside F-0421's known firmware issue."""
    return assigned_device(acme.client, firmware_version="3.0.1")


def test_firmware_awareness(dictionary, device):
    (verdict,) = firmware_assessment(get_fault("F-0421"), device)
    assert (verdict["affected"], verdict["fixed_in"]) == (True, "3.0.3")
    device.firmware_version = "3.1.0"
    assert firmware_assessment(get_fault("F-0421"), device)[0]["affected"] is False
    device.firmware_version = "260420.0107"
    assert firmware_assessment(get_fault("F-0421"), device)[0]["affected"] is None
    assert firmware_assessment(get_fault("F-0203"), device) == []


def fault(device, code: str, minutes_ago: int = 0):
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code=code,
        timestamp=datetime.now(UTC) - timedelta(minutes=minutes_ago), data={"fault_code": code},
    )  # fmt: skip


def test_undocumented_codes(dictionary, device, make_client, assigned_device):
    other = assigned_device(make_client("Acme Charging")[0])
    fault(device, "1001", 30)
    fault(device, "1001", 10)
    fault(other, "1001", 5)
    fault(device, "F-0421")
    fault(assigned_device(make_client("Rival")[0]), "4242")
    (row,) = undocumented_codes(device.site.operator_id)
    assert (row["fault_code"], row["count"]) == ("1001", 3)
    assert row["devices"] == sorted([device.device_id, other.device_id])
    assert row["first_seen"] < row["last_seen"]


def test_fault_api(api, dictionary, device, operator_token, make_client):
    client, secret = make_client("Acme Charging")
    token = operator_token(client, secret)
    listed = api.get("/v1/operator/faults", token, size=100).json()["data"]
    assert listed["total"] == 12
    assert [f["code"] for f in listed["items"]] == ALL_CODES
    errors = api.get("/v1/operator/faults", token, severity="error").json()["data"]["items"]
    assert all(f["severity"] == "error" for f in errors)
    detail = api.get("/v1/operator/faults/F-0421", token, device_id=device.device_id).json()["data"]
    assert detail["firmware"][0]["affected"] is True
    assert api.get("/v1/operator/faults/F-9999", token).json()["code"] == 3001
    fault(device, "77")
    undocumented = api.get("/v1/operator/faults/undocumented", token).json()["data"]
    assert [u["fault_code"] for u in undocumented] == ["77"]
