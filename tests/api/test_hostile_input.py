"""Hostile input on every surface: NUL bytes, unbounded numbers, poisonous timestamps,
deep nesting, and unknown paths. Each answer is a 4xx in the route's own shape, nothing is
stored, and every later read still works."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.input_guard import MAX_JSON_DEPTH
from api.schemas.reporting import TelemetryUpload
from fleet.actors import Actor
from fleet.contracts.common import EARLIEST
from fleet.models import (
    ChargingRecord,
    Command,
    Connector,
    Device,
    DeviceEvent,
    Schedule,
    TelemetrySample,
)
from fleet.services import provisioning

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class World:
    """One operator with a site, a V2G charger with two connectors, and both tokens."""

    def __init__(self, api, make_client, operator_token, site_for, register_device, device_token):
        self.api = api
        self.client, secret = make_client("Acme", scopes=["read", "write"])
        self.operator = operator_token(self.client, secret)
        self.site = site_for(self.client)
        registration = register_device(model="TP-DC360", firmware_version="4.1.0")
        self.device = provisioning.assign_device(
            Actor.platform(), registration["device_id"], self.site.site_id
        )
        Device.objects.filter(pk=self.device.pk).update(status="online")
        for connector_id in (1, 2):
            Connector.objects.create(device=self.device, connector_id=connector_id, state="idle")
        self.charger = device_token(registration)

    def send(self, method: str, path: str, body: Any = None, *, token: str | None = None,
             raw: bytes | None = None, content_type: str = "application/json"):  # fmt: skip
        token = token or (self.charger if path.startswith("/v1/device/") else self.operator)
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.api.client.generic(
            method, path, data, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    def stored(self) -> tuple[int, ...]:
        return (
            TelemetrySample.objects.count(),
            DeviceEvent.objects.count(),
            ChargingRecord.objects.count(),
            Command.objects.count(),
            Schedule.objects.count(),
        )


@pytest.fixture
def world(api, make_client, operator_token, site_for, register_device, device_token) -> World:
    return World(api, make_client, operator_token, site_for, register_device, device_token)


def telemetry(**fields: Any) -> dict[str, Any]:
    return {"timestamp": RECENT, "connector_id": 1, "state": "charging", "voltage": 400.0,
            "current": 100.0, "power": 40.0, "energy_delivered": 3.5, **fields}  # fmt: skip


def record(**fields: Any) -> dict[str, Any]:
    return {"record_id": "rec_1", "connector_id": 1, "start_time": RECENT, "end_time": RECENT,
            "energy": 1.0, "max_power": 7.0, "avg_power": 6.0, "meter_start": 10.0,
            "meter_end": 11.0, **fields}  # fmt: skip


def refusal(response) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == 1001, body
    return body


N = "ab\x00cd"
DEVICE = "/v1/operator/devices/{device_id}"
CONNECTOR = DEVICE + "/connectors/1"

# (method, path, body, the field the refusal names) — a NUL where each surface takes text.
NUL_IN_BODIES = [
    ("POST", "/v1/device/register",
     {"sn": N, "model": "TP-DC180", "manufacturer": "T", "firmware_version": "1"}, "sn"),
    ("POST", "/v1/device/token",
     {"device_id": N, "device_secret": "x", "grant_type": "client_credentials"}, "device_id"),
    ("POST", "/v1/operator/oauth/token",
     {"client_id": N, "client_secret": "x", "grant_type": "client_credentials"}, "client_id"),
    ("POST", "/v1/device/telemetry", telemetry(vendor_note=N), "vendor_note"),
    ("POST", "/v1/device/events",
     {"timestamp": RECENT, "event_type": "fault", "connector_id": 1,
      "data": {"fault_code": "F-0421", "detail": {"text": N}}}, "data.detail.text"),
    ("POST", "/v1/device/events",
     {"timestamp": RECENT, "event_type": "fault", "connector_id": 1, "data": {N: 1}}, "data." + N),
    ("POST", "/v1/device/charging-records", record(record_id=N), "record_id"),
    ("POST", "/v1/device/charging-records", record(stop_reason=N), "stop_reason"),
    ("POST", "/v1/device/charging-records", record(details={"why": [N]}), "details.why[0]"),
    ("POST", "/v1/device/command-status",
     {"command_id": N, "status": "accepted", "timestamp": RECENT}, "command_id"),
    ("POST", "/v1/device/command-status",
     {"command_id": "cmd_1", "status": "failed", "timestamp": RECENT, "message": N}, "message"),
    ("POST", "/v1/device/firmware/status",
     {"firmware_version": N, "status": "downloading"}, "firmware_version"),
    ("POST", "/v1/device/firmware/status",
     {"firmware_version": "4.2.0", "status": "failed", "message": N}, "message"),
    ("POST", CONNECTOR + "/stop", {"reason": N}, "reason"),
    ("POST", CONNECTOR + "/start", {"transaction_id": N}, "transaction_id"),
    ("POST", CONNECTOR + "/schedule",
     {"schedule_id": N, "enabled": True, "type": "daily",
      "time_slots": [{"start": "01:00", "end": "05:00", "action": "charge"}]}, "schedule_id"),
    ("POST", "/v1/operator/control/flexibility",
     {"target_type": "all", "command": "pause_charging",
      "params": {"duration": 60, "reason": N}}, "params.reason"),
    ("POST", DEVICE + "/diagnostic-commands", {"command": N}, "command"),
    ("PATCH", "/v1/operator/alerts/alr_x", {"status": "acknowledged", "note": N}, "note"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_IN_BODIES)
def test_a_nul_in_any_body_text_is_refused_naming_the_field(world, method, path, body, field):
    before = world.stored()
    response = world.send(method, path.format(device_id=world.device.device_id), body)
    assert refusal(response)["details"]["field"] == field
    assert world.stored() == before


def test_a_nul_in_a_form_encoded_token_request_is_refused(world):
    response = world.api.client.post(
        "/v1/operator/oauth/token",
        f"client_id={world.client.client_id}%00&client_secret=x&grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
    )
    assert refusal(response)["details"]["field"] == "client_id"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/operator/devices?site_id=a%00b",
        "/v1/operator/devices?model=%00",
        "/v1/operator/charging-records?device_id=x%00",
        "/v1/operator/alerts?device_id=%00",
        "/v1/operator/audit-logs?actor=%00",
        "/v1/operator/faults?category=%00",
        "/v1/operator/faults/F-0421?device_id=%00",
        "/v1/operator/sites?status=%00",
        "/v1/operator/aggregated/energy?granularity=day&site_ids=%00"
        "&start_time=2025-01-01T00:00:00Z&end_time=2025-01-02T00:00:00Z",
        "/v1/device/commands?connector_id=1%00",
        "/v1/operator/devices?a%00=1",
    ],
)
def test_a_nul_in_any_query_parameter_is_refused(world, path):
    assert refusal(world.send("GET", path))["details"]["field"] != ""


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/operator/devices/dvc%00x"),
        ("GET", "/v1/operator/devices/dvc%00x/events"),
        ("GET", "/v1/operator/commands/cmd%00"),
        ("GET", "/v1/operator/faults/F-%000421"),
        ("GET", "/v1/operator/runbooks/a%00"),
        ("PATCH", "/v1/operator/alerts/alr%00"),
        ("POST", "/v1/operator/devices/dvc%00/connectors/1/stop"),
        ("GET", "/v1/operator/sites/%00"),
    ],
)
def test_a_nul_in_a_path_is_refused(world, method, path):
    assert refusal(world.send(method, path, {}))["details"]["field"] == "path"


@pytest.mark.parametrize(
    ("path", "body", "failure_key"),
    [
        ("/v1/cp/start_charging",
         {"OrderId": N, "ChargePointId": "x", "ConnectorId": 1}, "START_FAILED"),
        ("/v1/cp/start_discharging",
         {"OrderId": "o", "ChargePointId": N, "ConnectorId": 1}, "START_FAILED"),
        ("/v1/cp/stop_charging", {"ChargePointId": N, "ConnectorId": 1}, "Reject"),
    ],
)  # fmt: skip
def test_legacy_routes_refuse_a_nul_in_their_own_shape(world, path, body, failure_key):
    before = world.stored()
    response = world.send("POST", path, body)
    assert response.status_code == 400
    assert response.json()["Status"] == failure_key
    assert response.json()["Code"] == 1001
    assert world.stored() == before


def test_legacy_queries_refuse_a_nul_in_the_envelope(world):
    response = world.send("PUT", "/v1/cp/query_station_status", [N])
    assert refusal(response)["details"]["field"] == "body[0]"
    response = world.send("PUT", "/v1/customer/query_station_info", {"LastQueryTime": N})
    assert refusal(response)["details"]["field"] == "LastQueryTime"


# --- Numbers ------------------------------------------------------------------------------

PAGED = [
    "/v1/operator/sites",
    "/v1/operator/devices",
    DEVICE + "/events",
    DEVICE + "/telemetry",
    "/v1/operator/charging-records",
    "/v1/operator/faults",
    "/v1/operator/alerts",
    "/v1/operator/audit-logs",
]


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize("page", [2**31, 2**63, 10**30, -1, 0])
def test_pages_beyond_any_listing_are_refused(world, path, page):
    url = path.format(device_id=world.device.device_id)
    assert refusal(world.send("GET", f"{url}?page={page}"))["details"]["field"] == "page"


def test_a_far_page_within_the_bound_is_simply_empty(world):
    response = world.send("GET", "/v1/operator/devices?page=1000000")
    assert response.status_code == 200
    assert response.json()["data"]["items"] == []


def test_legacy_page_numbers_are_bounded(world):
    response = world.send("PUT", "/v1/customer/query_station_info", {"PageNo": 2**40})
    assert refusal(response)["details"]["field"] == "PageNo"


@pytest.mark.parametrize("fault_code", [2**31, 2**63, 10**40, -1])
def test_heartbeat_fault_codes_fit_the_column(world, fault_code):
    body = {"timestamp": RECENT, "status": "fault", "fault_code": fault_code}
    assert refusal(world.send("POST", "/v1/device/heartbeat", body))["details"]["field"] == (
        "fault_code"
    )


# The documented plausibility bounds of each reading (docs/charger-api.md).
BOUNDS = {
    "voltage": (0, 2_000),
    "current": (-5_000, 5_000),
    "power": (-5_000, 5_000),
    "temperature": (-100, 300),
}


@HYPOTHESIS
@given(
    field=st.sampled_from(sorted(BOUNDS)),
    value=st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1e200, -1e200, 1e308, 2_000.0001, -100.5, 300.0, 0.0]),
)
def test_readings_are_accepted_exactly_when_physically_plausible(field, value):
    # The schema both the fast path and the Ninja route validate with; the transports
    # themselves are exercised in tests/api/device/test_telemetry_bounds.py.
    low, high = BOUNDS[field]
    try:
        TelemetryUpload.model_validate(telemetry(**{field: value}))
        accepted = True
    except ValidationError as exc:
        assert exc.errors()[0]["loc"] == (field,)
        accepted = False
    assert accepted == (low <= value <= high)


@pytest.mark.parametrize(
    ("field", "value"),
    [("energy", 1e308), ("energy", 1e200), ("max_power", 1e300), ("meter_end", 1e300),
     ("cost", -1e300), ("avg_power", -1e300)],
)  # fmt: skip
def test_records_with_absurd_figures_are_refused_and_sums_stay_finite(world, field, value):
    fine = world.send("POST", "/v1/device/charging-records", record(record_id="ok"))
    assert fine.status_code == 200, fine.content
    body = record(record_id="absurd", **{field: value})
    if field == "meter_end":
        body["meter_start"] = 0.0
    assert (
        refusal(world.send("POST", "/v1/device/charging-records", body))["details"]["field"]
        == field
    )
    energy = world.send(
        "GET",
        "/v1/operator/aggregated/energy?granularity=month&start_time=2000-01-01T00:00:00Z"
        "&end_time=2099-12-31T00:00:00Z",
    )
    assert energy.status_code == 200, energy.content


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/device/events", b'{"timestamp":"%s","event_type":"fault","connector_id":1,'
         b'"data":{"x":%s}}'),
        ("/v1/device/charging-records", b'{"record_id":"r","connector_id":1,"start_time":"%s",'
         b'"end_time":"2000-01-01T00:00:00Z","energy":1,"max_power":1,"avg_power":1,'
         b'"meter_start":1,"meter_end":2,"details":{"x":%s}}'),
        ("/v1/device/telemetry", b'{"timestamp":"%s","connector_id":1,"state":"idle",'
         b'"voltage":1,"current":0,"power":0,"energy_delivered":0,"vendor":[%s]}'),
    ],
)  # fmt: skip
def test_non_finite_numbers_in_free_form_blocks_are_refused(world, path, template, token):
    before = world.stored()
    response = world.send("POST", path, raw=template % (RECENT.encode(), token))
    assert refusal(response)["details"]["field"] == "body"
    assert world.stored() == before


def test_lone_surrogates_in_free_form_blocks_are_refused(world):
    raw = (
        b'{"timestamp":"%s","event_type":"fault","connector_id":1,"data":{"x":"\\ud800"}}'
        % RECENT.encode()
    )
    assert refusal(world.send("POST", "/v1/device/events", raw=raw))["details"]["field"] == "body"


def test_diagnostic_params_refuse_non_finite_numbers(world):
    raw = b'{"command": "fetch_logs", "params": {"hours": Infinity}}'
    path = f"/v1/operator/devices/{world.device.device_id}/diagnostic-commands"
    assert refusal(world.send("POST", path, raw=raw))["details"]["field"] == "body"


# --- Timestamps ---------------------------------------------------------------------------

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


def iso(moment: datetime, offset_minutes: int) -> str:
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return moment.isoformat()[:19] + f"{sign}{hours:02d}:{minutes:02d}"


def utc_of(moment: datetime, offset_minutes: int) -> datetime | None:
    try:
        return (moment - timedelta(minutes=offset_minutes)).replace(tzinfo=UTC)
    except OverflowError:
        return None


moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)) | (
    st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), datetime(1970, 1, 1)])
)
offsets_and_extremes = offsets | st.sampled_from([-(16 * 60), 16 * 60, 1439, -1439])


def trusted(utc: datetime | None) -> bool:
    # Inside the documented window, with a second of slack on the future edge either way.
    return utc is not None and EARLIEST <= utc <= datetime.now(UTC) + timedelta(seconds=299)


def untrusted(utc: datetime | None) -> bool:
    return utc is None or utc < EARLIEST or utc > datetime.now(UTC) + timedelta(seconds=301)


@HYPOTHESIS
@given(moment=moments, offset=offsets_and_extremes)
def test_records_are_kept_only_inside_the_time_window_and_reads_never_break(world, moment, offset):
    cache.clear()  # rate-limit counters: each example is a fresh request burst
    moment = moment.replace(microsecond=0)
    sent, utc = iso(moment, offset), utc_of(moment, offset)
    before = ChargingRecord.objects.count()
    body = record(record_id=f"rec_{moment.isoformat()}_{offset}", start_time=sent, end_time=sent)
    response = world.send("POST", "/v1/device/charging-records", body)
    if trusted(utc):
        assert response.status_code == 200, response.content
    elif untrusted(utc):
        assert refusal(response)["details"]["field"] == "start_time"
        assert ChargingRecord.objects.count() == before
    listed = world.send("GET", "/v1/operator/charging-records")
    assert listed.status_code == 200, listed.content
    # The same moment as a query time: answered or refused, never a crash.
    filtered = world.api.client.get(
        "/v1/operator/charging-records",
        {"start_time": sent},
        HTTP_AUTHORIZATION=f"Bearer {world.operator}",
    )
    assert filtered.status_code in (200, 400), filtered.content


@HYPOTHESIS
@given(moment=moments, offset=offsets_and_extremes)
def test_events_are_never_lost_to_a_wrong_clock(world, moment, offset):
    cache.clear()
    moment = moment.replace(microsecond=0)
    sent, utc = iso(moment, offset), utc_of(moment, offset)
    body = {"timestamp": sent, "event_type": "fault", "connector_id": 1,
            "data": {"fault_code": "F-0421"}}  # fmt: skip
    sent_at = datetime.now(UTC)
    response = world.send("POST", "/v1/device/events", body)
    assert response.status_code == 200, response.content
    event = DeviceEvent.objects.latest("pk")
    if trusted(utc):
        assert (event.timestamp, event.claimed_timestamp) == (utc, "")
    elif untrusted(utc):
        # Kept at the receive time, with the charger's claim beside it.
        assert sent_at <= event.timestamp <= event.received_at
        assert (
            event.claimed_timestamp
            == moment.replace(tzinfo=timezone(timedelta(minutes=offset))).isoformat()
        )
    events = world.send("GET", f"/v1/operator/devices/{world.device.device_id}/events")
    assert events.status_code == 200, events.content


def test_a_timestamp_ahead_of_the_clock_is_refused(world):
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = world.send("POST", "/v1/device/telemetry", telemetry(timestamp=ahead))
    assert "ahead of the server clock" in refusal(response)["details"]["reason"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_records_at_the_ends_of_time_are_refused_and_the_list_keeps_working(world, moment):
    body = record(start_time=moment, end_time=moment)
    assert refusal(world.send("POST", "/v1/device/charging-records", body))["details"]["field"] in (
        "start_time",
        "end_time",
    )
    assert world.send("GET", "/v1/operator/charging-records").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "granularity=hour&start_time=9999-12-31T00:00:00Z&end_time=9999-12-31T23:00:00Z",
        "granularity=month&start_time=0001-01-01T00:00:00Z&end_time=0002-01-01T00:00:00Z",
        "granularity=day&start_time=2025-01-01T00:00:00%2B23:59&end_time=2025-01-02T00:00:00-23:59",
    ],
)
def test_energy_queries_at_the_ends_of_time_are_refused_or_answered(world, query):
    response = world.send("GET", f"/v1/operator/aggregated/energy?{query}")
    assert response.status_code in (200, 400), response.content
    assert response.json()["code"] in (0, 1001)


# --- Nesting ------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000])
@pytest.mark.parametrize(
    ("path", "failure_key"),
    [("/v1/cp/start_charging", "START_FAILED"), ("/v1/cp/stop_charging", "Reject"),
     ("/v1/cp/start_discharging", "START_FAILED"), ("/v1/cp/stop_discharging", "Reject")],
)  # fmt: skip
def test_deep_bodies_on_legacy_routes_are_refused_in_their_own_shape(
    world, path, failure_key, depth
):
    raw = ('{"Note":' * depth + "1" + "}" * depth).encode()
    response = world.send("POST", path, raw=raw)
    assert response.status_code == 400
    assert (response.json()["Status"], response.json()["Code"]) == (failure_key, 1001)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000])
@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/v1/cp/query_station_status"), ("PUT", "/v1/customer/query_station_info"),
     ("POST", "/v1/device/events"), ("POST", "/v1/device/telemetry"),
     ("POST", "/v1/operator/control/flexibility")],
)  # fmt: skip
def test_deep_bodies_elsewhere_are_refused_in_the_envelope(world, method, path, depth):
    raw = ("[" * depth + "]" * depth).encode()
    assert refusal(world.send(method, path, raw=raw))["details"]["reason"] in (
        "too_deep",
        "depth limit exceeded",
    )


# --- Paths and methods --------------------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "path",
    ["/v1/nowhere", "/v1/operator/nowhere/at/all", "/v1/device/heartbeat/",
     "/v1/operator/control/flexibility/", "/v1/", "/v1/cp/start_charging/x"],
)  # fmt: skip
def test_unknown_paths_are_404_in_the_envelope_for_every_method(method, path):
    client = Client(enforce_csrf_checks=True)
    response = client.generic(method, path, b'{"a": 1}', content_type="application/json")
    assert response.status_code == 404
    assert response.json()["code"] == 3001


def test_csrf_still_protects_the_console():
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path", ["/v1/operator/sites", "/v1/operator/devices", "/v1/operator/devices/{device_id}"]
)
def test_head_answers_like_get_without_a_body(world, path):
    url = path.format(device_id=world.device.device_id)
    got = world.send("GET", url)
    head = world.send("HEAD", url)
    assert (head.status_code, head.content) == (200, b"")
    assert head["Content-Length"] == str(len(got.content))
    assert head["Content-Type"] == got["Content-Type"]


def test_head_on_the_long_poll_is_refused_so_no_command_is_claimed(world):
    queued = world.send("POST", f"/v1/operator/devices/{world.device.device_id}/connectors/1/stop")
    assert queued.status_code == 200, queued.content
    head = world.send("HEAD", "/v1/device/commands?connector_id=1&wait=1")
    assert head.status_code == 405
    assert head["Allow"] == "GET"
    assert Command.objects.get().delivered_at is None
