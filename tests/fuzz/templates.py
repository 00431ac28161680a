"""A valid request for every operation we serve, built on the provisioned fleet.

The raw hostile-input test takes one of these, replaces one field (a body leaf, a query
or path parameter), adds an unknown field, or replaces the whole body, with a hostile
value written as raw JSON text, and sends the bytes. Starting from a request that would
succeed means the hostile value is the only thing wrong with it.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.fuzz.world import UNAUTHENTICATED, Charger, World, ago

# Which shape the answers of an operation have.
ENVELOPE = "envelope"  # {"code", "message", "data"} (+ "details" on errors)
LEGACY_STATUS = "legacy-status"  # {"Status", ...}; errors {"Status", "Reason", "Code"}
LEGACY_QUERY = "legacy-query"  # PascalCase data; errors as the envelope


@dataclass
class Template:
    method: str
    path: str  # as in our OpenAPI document, with {placeholders}
    path_params: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None
    shape: str = ENVELOPE

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def templates(world: World) -> list[Template]:
    main, v2g = world.chargers["main"], world.chargers["v2g"]
    device = {"device_id": main.device_id}
    connector = {"device_id": main.device_id, "connector_id": "2"}
    v2g_connector = {"device_id": v2g.device_id, "connector_id": "1"}
    site, command = world.site_ids[0], world.command_ids[0]
    page = {"page": 1, "size": 20}
    recent = {"since": ago(86400), "until": ago(0)}
    pc = "/v1/operator/devices/{device_id}/connectors/{connector_id}"
    return [
        # --- charger --------------------------------------------------------------------
        Template(
            "POST",
            "/v1/device/register",
            body={
                "sn": "SN-RAW-1",
                "model": "TP-DC180",
                "manufacturer": "Tellus Power",
                "firmware_version": "3.1.0",
                "mac": "00:1A:2B:3C:4D:5E",
            },
        ),
        Template(
            "POST",
            "/v1/device/token",
            body={
                "device_id": main.device_id,
                "device_secret": main.secret,
                "grant_type": "client_credentials",
            },
        ),
        Template(
            "POST",
            "/v1/device/heartbeat",
            body={"timestamp": ago(1), "status": "online", "fault_code": 0},
        ),
        Template(
            "POST",
            "/v1/device/telemetry",
            body={
                "timestamp": ago(1),
                "connector_id": 2,
                "state": "charging",
                "voltage": 400.0,
                "current": 100.0,
                "power": 40.0,
                "energy_delivered": 3.5,
                "soc": 60,
                "temperature": 35.5,
                "phase_details": {"phase_a": {"voltage": 230.0, "current": 16.0}},
                "component_health": {
                    "contactor_cycles": 1200,
                    "internal_temps": {"power_module": 45.0},
                    "last_isolation_test": ago(3600),
                },
                "vendor_extra": {"fan": "ok"},
            },
        ),
        Template(
            "POST",
            "/v1/device/events",
            body={
                "timestamp": ago(1),
                "event_type": "fault",
                "connector_id": 1,
                "data": {"fault_code": "F-0411", "message": "raw fuzz", "values": [1, 2.5]},
            },
        ),
        Template(
            "POST",
            "/v1/device/charging-records",
            body={
                "record_id": "REC-RAW-1",
                "connector_id": 1,
                "start_time": ago(7200),
                "end_time": ago(3600),
                "energy": 30.5,
                "max_power": 60.0,
                "avg_power": 30.5,
                "cost": 12.2,
                "meter_start": 2000.0,
                "meter_end": 2030.5,
                "vehicle_info": {"vin": "WVWZZZ1JZXW000001", "soc_start": 20, "soc_end": 80},
                "stop_reason": "user_request",
                "details": {"tariff": "night"},
            },
        ),
        Template("GET", "/v1/device/commands", query={"connector_id": 1, "wait": 1}),
        Template(
            "POST",
            "/v1/device/command-status",
            body={
                "command_id": command,
                "status": "accepted",
                "message": "raw fuzz",
                "timestamp": ago(1),
                "details": {"step": 1},
            },
        ),
        Template(
            "POST",
            "/v1/device/firmware/status",
            body={
                "firmware_version": "3.1.1",
                "status": "downloading",
                "progress": 10,
                "message": "raw fuzz",
            },
        ),
        # --- operator -------------------------------------------------------------------
        Template(
            "POST",
            "/v1/operator/oauth/token",
            body={
                "client_id": world.client_id,
                "client_secret": world.client_secret,
                "grant_type": "client_credentials",
            },
        ),
        Template("GET", "/v1/operator/sites", query={**page, "status": "active"}),
        Template("GET", "/v1/operator/sites/{site_id}", {"site_id": site}),
        Template(
            "GET",
            "/v1/operator/devices",
            query={
                **page,
                "site_id": site,
                "status": "online",
                "model": "TP-DC180",
                "firmware_version": "3.0.2",
            },
        ),
        Template("GET", "/v1/operator/devices/{device_id}", device),
        Template(
            "GET",
            "/v1/operator/devices/{device_id}/events",
            device,
            query={**page, "event_type": "fault", "fault_code": "F-0421", **recent},
        ),
        Template(
            "GET",
            "/v1/operator/devices/{device_id}/telemetry",
            device,
            query={**page, "connector_id": 1, **recent},
        ),
        Template(
            "GET",
            "/v1/operator/charging-records",
            query={
                **page,
                "device_id": main.device_id,
                "connector_id": 1,
                "start_time": ago(86400),
                "end_time": ago(0),
            },
        ),
        Template(
            "GET",
            "/v1/operator/aggregated/energy",
            query={
                "granularity": "hour",
                "start_time": ago(86400),
                "end_time": ago(0),
                "group_by": "site",
                "site_ids": ",".join(world.site_ids),
            },
        ),
        Template("GET", "/v1/operator/commands/{command_id}", {"command_id": command}),
        Template(
            "POST",
            pc + "/start",
            connector,
            body={
                "charge_power": 22.0,
                "duration": 3600,
                "target_soc": 80,
                "transaction_id": "TX-RAW-1",
            },
        ),
        Template("POST", pc + "/stop", connector, body={"reason": "user_request"}),
        Template(
            "POST",
            pc + "/discharge",
            v2g_connector,
            body={"discharge_power": 10.0, "duration": 600, "min_soc": 30},
        ),
        Template(
            "POST",
            pc + "/schedule",
            connector,
            body={
                "schedule_id": "SCH-RAW-1",
                "enabled": True,
                "type": "weekly",
                "time_slots": [
                    {
                        "day_of_week": ["mon", "tue"],
                        "start": "22:00",
                        "end": "06:00",
                        "power_limit": 11.0,
                        "action": "charge",
                    }
                ],
                "target_soc": 90,
                "effective_from": ago(3600),
                "effective_until": "2099-01-01T00:00:00Z",
                "timezone": "Europe/London",
            },
        ),
        Template(
            "POST",
            "/v1/operator/control/flexibility",
            body={
                "target_type": "site",
                "target_ids": [site],
                "command": "set_power_limit",
                "params": {"power_limit_percent": 50, "duration": 600, "reason": "grid"},
            },
        ),
        Template("GET", "/v1/operator/faults", query={**page, "severity": "error"}),
        Template("GET", "/v1/operator/faults/undocumented"),
        Template(
            "GET",
            "/v1/operator/faults/undocumented/{code}/occurrences",
            {"code": "F-9999"},
            query=page,
        ),
        Template(
            "GET",
            "/v1/operator/faults/{code}",
            {"code": "F-0421"},
            query={"device_id": main.device_id},
        ),
        Template("GET", "/v1/operator/runbooks"),
        Template("GET", "/v1/operator/runbooks/{slug}", {"slug": world.runbook_slugs[0]}),
        Template("GET", "/v1/operator/devices/{device_id}/runbook-suggestions", device),
        Template(
            "POST",
            "/v1/operator/devices/{device_id}/diagnostic-commands",
            device,
            body={
                "command": "calibrate_sensor",
                "connector_id": 1,
                "params": {"sensor": "temperature", "reference": 25.0},
                "confirm": True,
            },
        ),
        Template(
            "GET",
            "/v1/operator/alerts",
            query={**page, "device_id": main.device_id, "site_id": site, "since": ago(86400)},
        ),
        Template("GET", "/v1/operator/alerts/{alert_id}", {"alert_id": world.alert_ids[0]}),
        Template(
            "PATCH",
            "/v1/operator/alerts/{alert_id}",
            {"alert_id": world.alert_ids[-1]},
            body={"status": "acknowledged", "note": "raw fuzz"},
        ),
        Template(
            "POST",
            "/v1/operator/devices/{device_id}/runbook-runs",
            {"device_id": v2g.device_id},
            body={"runbook": "v2g-discharge-not-flowing", "connector_id": 1},
        ),
        Template(
            "GET",
            "/v1/operator/runbook-runs",
            query={**page, "device_id": main.device_id, "status": "open"},
        ),
        Template("GET", "/v1/operator/runbook-runs/{run_id}", {"run_id": world.run_ids[0]}),
        Template(
            "POST",
            "/v1/operator/runbook-runs/{run_id}/steps/{step}",
            {"run_id": world.run_ids[0], "step": "supply-power"},
            body={"action": "verify", "note": "raw fuzz", "confirm": False},
        ),
        Template("POST", "/v1/operator/runbook-runs/{run_id}/resume", {"run_id": world.run_ids[2]}),
        Template(
            "POST",
            "/v1/operator/runbook-runs/{run_id}/escalate",
            {"run_id": world.run_ids[1]},
            body={"note": "raw fuzz", "target": "L2"},
        ),
        Template(
            "POST",
            "/v1/operator/runbook-runs/{run_id}/resolve",
            {"run_id": world.run_ids[3]},
            body={"note": "raw fuzz"},
        ),
        Template(
            "POST",
            "/v1/operator/runbook-runs/{run_id}/close",
            {"run_id": world.run_ids[4]},
            body={"reason": "false_alarm", "note": "raw fuzz"},
        ),
        Template(
            "POST",
            "/v1/operator/firmware-campaigns",
            body={
                "name": "raw fuzz",
                "target_version": "9.9.8",
                "package_url": "https://firmware.example.com/9.9.8.bin",
                "selection": {"model": "TP-DC180", "firmware_versions": ["3.1.0"]},
                "stages": [10, 50, 100],
                "health_window_minutes": 30,
                "halt_if": {"failed_percent": 25, "fault_codes": ["F-0411"]},
            },
        ),
        Template("GET", "/v1/operator/firmware-campaigns", query={**page, "status": "running"}),
        Template(
            "GET",
            "/v1/operator/firmware-campaigns/{campaign_id}",
            {"campaign_id": world.campaign_ids[0]},
        ),
        Template(
            "POST",
            "/v1/operator/firmware-campaigns/{campaign_id}/pause",
            {"campaign_id": world.campaign_ids[0]},
        ),
        Template(
            "POST",
            "/v1/operator/firmware-campaigns/{campaign_id}/resume",
            {"campaign_id": world.campaign_ids[1]},
        ),
        Template(
            "POST",
            "/v1/operator/firmware-campaigns/{campaign_id}/cancel",
            {"campaign_id": world.campaign_ids[2]},
        ),
        Template(
            "GET",
            "/v1/operator/audit-logs",
            query={
                **page,
                "actor": f"client:{world.client_id}",
                "resource_type": "device",
                "resource_id": main.device_id,
                "action": "execute_command",
                "since": ago(86400),
            },
        ),
        # --- legacy operator-to-operator ------------------------------------------------
        Template(
            "PUT",
            "/v1/customer/query_station_info",
            body={"LastQueryTime": "2024-01-01 00:00:00", "PageNo": 1, "PageSize": 10},
            shape=LEGACY_QUERY,
        ),
        Template(
            "PUT",
            "/v1/cp/query_station_status",
            body=[main.device_id, v2g.device_id],
            shape=LEGACY_QUERY,
        ),
        Template(
            "POST",
            "/v1/cp/start_charging",
            body={
                "OrderId": "ORD-RAW-1",
                "ChargePointId": main.device_id,
                "ConnectorId": 2,
                "Note": "raw fuzz",
            },
            shape=LEGACY_STATUS,
        ),
        Template(
            "POST",
            "/v1/cp/stop_charging",
            body={"ChargePointId": main.device_id, "ConnectorId": 2},
            shape=LEGACY_STATUS,
        ),
        Template(
            "POST",
            "/v1/cp/start_discharging",
            body={
                "OrderId": "ORD-RAW-2",
                "ChargePointId": v2g.device_id,
                "ConnectorId": 1,
                "LimitMinSOC": 20,
                "LimitMaxEnergy": 15,
            },
            shape=LEGACY_STATUS,
        ),
        Template(
            "POST",
            "/v1/cp/stop_discharging",
            body={"ChargePointId": v2g.device_id, "ConnectorId": 1},
            shape=LEGACY_STATUS,
        ),
    ]


def template_labels() -> list[str]:
    """The operations the templates cover, without a fleet (for test collection)."""
    placeholder = World(base_url="")
    placeholder.site_ids = ["site_placeholder"]
    placeholder.command_ids = ["cmd_placeholder"]
    placeholder.alert_ids = ["alt_placeholder"]
    placeholder.runbook_slugs = ["placeholder"]
    placeholder.run_ids = ["run_placeholder"] * 5
    placeholder.campaign_ids = ["fwc_placeholder"] * 3
    for key in ("main", "v2g", "poll"):
        placeholder.chargers[key] = Charger(f"dvc_{key}", "sk_placeholder")
    return sorted(template.label for template in templates(placeholder))


# --- Slots: where a hostile value goes --------------------------------------------------


@dataclass(frozen=True)
class Slot:
    where: str  # "body", "query", "path", "header"
    name: tuple  # body: a JSON path (keys and indexes); otherwise: (name,)

    def __str__(self) -> str:
        if self.where == "body":
            return "body" + "".join(f"[{part!r}]" for part in self.name)
        return f"{self.where}.{self.name[0]}"


def _body_paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _body_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _body_paths(item, (*prefix, index))
    if prefix:
        yield prefix


UNKNOWN_FIELD = "x_unknown_field"
UNKNOWN_PARAMETER = "x_unknown"


def authenticated(template: Template) -> bool:
    return template.path not in UNAUTHENTICATED


def signed(template: Template) -> bool:
    """Operator routes that verify X-Signature when one is sent."""
    return (
        template.path.startswith("/v1/operator/")
        and authenticated(template)
        and template.shape == ENVELOPE
    )


def slots(template: Template) -> list[Slot]:
    found = [Slot("path", (name,)) for name in template.path_params]
    found += [Slot("query", (name,)) for name in template.query]
    found.append(Slot("query", (UNKNOWN_PARAMETER,)))
    if authenticated(template):
        found.append(Slot("header", ("Authorization",)))
    if template.path.startswith(("/v1/operator/", "/v1/cp/", "/v1/customer/")):
        found.append(Slot("header", ("X-Timestamp",)))
    if template.body is not None:
        found.append(Slot("header", ("Content-Type",)))
        found.append(Slot("body", ()))  # the whole body
        found += [Slot("body", path) for path in _body_paths(template.body)]
        if isinstance(template.body, dict):
            found.append(Slot("body", (UNKNOWN_FIELD,)))
    return found


SENTINEL = "__FUZZ_HOSTILE_VALUE__"


def raw_body(template: Template, slot: Slot, raw: str) -> bytes:
    """The template's body with `slot` replaced by (or, for an unknown field, set to) the
    raw JSON text `raw`."""
    import copy
    import json

    if slot.name == ():
        return raw.encode("utf-8", "surrogatepass")
    body = copy.deepcopy(template.body)
    target = body
    for part in slot.name[:-1]:
        target = target[part]
    target[slot.name[-1]] = SENTINEL
    text = json.dumps(body)
    assert text.count(f'"{SENTINEL}"') == 1
    return text.replace(f'"{SENTINEL}"', raw).encode("utf-8", "surrogatepass")
