"""Schemathesis configuration for the fuzz run: reproducible, bounded, and steered.

Steering is done with schemathesis dictionaries: path and query parameters that name a
resource are drawn from the provisioned fleet's real ids most of the time (so handlers
run deep, not just their 404), time fields from recent times and the ends of time, and
strings and numbers from the hostile classes, on top of what schemathesis
generates from the schema itself (which includes NUL, `allow-x00`).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from schemathesis import Config

from tests.fuzz.hostile import EXTREME_TIMESTAMPS, HOSTILE_STRINGS, HUGE_INTEGERS, HUGE_NUMBERS
from tests.fuzz.world import World, iso

SEED = 20240613
CHECKS = ("not_a_server_error", "response_schema_conformance")

TIME_FIELDS = (
    "timestamp", "start_time", "end_time", "since", "until", "effective_from",
    "effective_until", "LastQueryTime",
)  # fmt: skip
NUMBER_FIELDS = (
    "voltage", "current", "power", "energy_delivered", "temperature", "energy", "max_power",
    "avg_power", "cost", "meter_start", "meter_end", "charge_power", "discharge_power",
    "power_limit",
)  # fmt: skip
INTEGER_FIELDS = (
    "fault_code", "soc", "progress", "target_soc", "duration", "min_soc", "power_limit_percent",
    "PageNo", "PageSize", "LimitMinSOC", "LimitMaxEnergy", "page", "size",
)  # fmt: skip
STRING_FIELDS = (
    "sn", "model", "manufacturer", "firmware_version", "mac", "record_id", "message", "reason",
    "schedule_id", "timezone", "transaction_id", "stop_reason", "note", "OrderId", "Note",
    "grant_type", "command",
)  # fmt: skip


def _timestamps() -> list[str]:
    now = datetime.now(UTC)
    recent = [iso(now - timedelta(seconds=s)) for s in (1, 60, 3600, 86400 * 3)]
    offsets = [
        (now - timedelta(hours=1)).astimezone(datetime.now().astimezone().tzinfo).isoformat(),
        (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "2025-01-01T00:00:00+23:59",
        "2025-01-01T00:00:00-23:59",
        "2000-01-01T00:00:00Z",
        "2099-12-31T00:00:00+01:00",
    ]
    return recent + offsets + EXTREME_TIMESTAMPS


def dictionaries(world: World) -> dict[str, dict[str, list[Any]]]:
    devices = world.device_ids()
    return {
        "device_ids": {"values": [*devices, "dvc_000000000000", "dvc_\x00"]},
        "site_ids": {"values": [*world.site_ids, world.foreign_site_id, "site_000000000000"]},
        "site_id_lists": {
            "values": [
                ",".join(world.site_ids),
                world.site_ids[0],
                f"{world.site_ids[0]},{world.foreign_site_id}",
                ",,",
                ",".join(world.site_ids * 600),
            ]
        },
        "command_ids": {
            "values": [*world.command_ids, *world.control_ids, "cmd_00000000000000000000"]
        },
        "connector_ids": {"values": [1, 2, 0, 255, 256, -1]},
        "alert_ids": {"values": [*world.alert_ids, "alt_0000000000000000"]},
        "fault_codes": {"values": [*world.fault_codes, "F-9999", "9999", "F-0421"]},
        "slugs": {"values": [*world.runbook_slugs, "no-such-runbook"]},
        "run_ids": {"values": [*world.run_ids, world.foreign_run_id, "run_0000000000000000"]},
        "step_keys": {"values": ["supply-power", "fault-log", "vehicle-handshake", "escalate"]},
        "step_choices": {"values": ["supply-ok", "supply-bad", "several-vehicles", "fixed"]},
        "timestamps": {"values": _timestamps()},
        "hostile_strings": {"values": HOSTILE_STRINGS},
        "huge_numbers": {"values": [*HUGE_NUMBERS, 0, 1.5, 230.0]},
        "huge_integers": {"values": [*HUGE_INTEGERS, 0, 1, 100]},
        "client_ids": {"values": [world.client_id, "cli_0000000000000000"]},
        "client_secrets": {"values": [world.client_secret, "sk_wrong"]},
        "device_secrets": {"values": [world.chargers["main"].secret, "sk_wrong"]},
        "event_types": {
            "values": ["fault", "plug_in", "start", "stop", "plug_out", "auth_ok", *HOSTILE_STRINGS]
        },
    }


def parameters() -> dict[str, dict[str, Any]]:
    def bind(dictionary: str, probability: float) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": probability}

    bindings = {
        "device_id": bind("device_ids", 0.8),
        "site_id": bind("site_ids", 0.8),
        "site_ids": bind("site_id_lists", 0.6),
        "command_id": bind("command_ids", 0.8),
        "connector_id": bind("connector_ids", 0.7),
        "alert_id": bind("alert_ids", 0.8),
        "code": bind("fault_codes", 0.8),
        "slug": bind("slugs", 0.8),
        "run_id": bind("run_ids", 0.8),
        "step": bind("step_keys", 0.8),
        "body.runbook": bind("slugs", 0.7),
        "body.choice": bind("step_choices", 0.6),
        "since": bind("timestamps", 0.7),
        "until": bind("timestamps", 0.7),
        "start_time": bind("timestamps", 0.7),
        "end_time": bind("timestamps", 0.7),
        "body.device_id": bind("device_ids", 0.7),
        "body.ChargePointId": bind("device_ids", 0.7),
        "body.ConnectorId": bind("connector_ids", 0.7),
        "body.connector_id": bind("connector_ids", 0.7),
        "body.command_id": bind("command_ids", 0.7),
        "body.client_id": bind("client_ids", 0.7),
        "body.client_secret": bind("client_secrets", 0.7),
        "body.device_secret": bind("device_secrets", 0.7),
        "body.event_type": bind("event_types", 0.6),
        "body.target_ids[*]": bind("site_ids", 0.7),
        "body.time_slots[*].power_limit": bind("huge_numbers", 0.3),
    }
    for name in TIME_FIELDS:
        bindings[f"body.{name}"] = bind("timestamps", 0.8)
    bindings["body.component_health.last_isolation_test"] = bind("timestamps", 0.5)
    for name in NUMBER_FIELDS:
        bindings[f"body.{name}"] = bind("huge_numbers", 0.3)
    for phase in ("a", "b", "c"):
        bindings[f"body.phase_details.phase_{phase}.voltage"] = bind("huge_numbers", 0.3)
    for name in INTEGER_FIELDS:
        bindings[f"body.{name}"] = bind("huge_integers", 0.3)
    for name in STRING_FIELDS:
        bindings[f"body.{name}"] = bind("hostile_strings", 0.3)
    return bindings


def build_config(world: World, base_url: str, max_examples: int) -> Config:
    """Positive and negative generation, every phase but the stateful one, two checks,
    a fixed seed and derandomised Hypothesis: the same requests on every run."""
    generation = {
        "mode": "all",
        "max-examples": max_examples,
        "deterministic": True,
        "database": "none",
        "allow-x00": True,
        "with-security-parameters": False,
        "unique-inputs": True,
        "dictionaries": {
            "string": {"dictionary": "hostile_strings", "probability": 0.2},
            "integer": {"dictionary": "huge_integers", "probability": 0.2},
            "number": {"dictionary": "huge_numbers", "probability": 0.2},
        },
    }
    return Config.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "request-timeout": 30,
            "suppress-health-check": ["all"],
            "generation": generation,
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
            },
            "dictionaries": dictionaries(world),
            "parameters": parameters(),
        }
    )
