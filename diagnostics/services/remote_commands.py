"""Remote diagnostic commands (the proposed command table, plus `reset_connector` which the
runbooks use): validated, risk-gated, and sent through the same queue, delivery, status
reporting and timeouts as every other command."""

from typing import Any

from fleet.actors import Actor
from fleet.errors import InvalidParameter, MissingParameter, NotFound
from fleet.models import Command, Connector
from fleet.services.commands import queue_command
from fleet.services.tenancy import get_device_for_operator

SENSORS = ("temperature", "current", "voltage")
OCPP_MESSAGES = (
    "BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
    "Heartbeat", "MeterValues", "StatusNotification",
)  # fmt: skip

# name: (risk, connector: "required" | "optional" | "none")
DIAGNOSTIC_COMMANDS = {
    "reboot": ("low", "none"),
    "soft_reset": ("low", "none"),
    "force_reconnect": ("low", "none"),
    "fetch_logs": ("low", "none"),
    "run_self_test": ("medium", "none"),
    "calibrate_sensor": ("medium", "optional"),
    "reset_contactor_counter": ("low", "optional"),
    "reset_fan_counter": ("low", "none"),
    "reset_power_module": ("medium", "none"),
    "trigger_message": ("low", "optional"),
    "unlock_connector": ("medium", "required"),
    "clear_cache": ("low", "none"),
    "reset_connector": ("low", "required"),
}


def _params(command: str, params: dict[str, Any]) -> dict[str, Any]:
    if command == "calibrate_sensor":
        if params.get("sensor") not in SENSORS:
            raise InvalidParameter(
                "params.sensor", params.get("sensor"), f"sensor must be one of {', '.join(SENSORS)}"
            )
        reference = params.get("reference")
        if isinstance(reference, bool) or not isinstance(reference, (int, float)):
            raise MissingParameter("params.reference", "calibrate_sensor needs a numeric reference")
    if command == "reset_power_module":
        module = params.get("module")
        if isinstance(module, bool) or not isinstance(module, int) or module < 0:
            raise InvalidParameter("params.module", module, "module must be a module index ≥ 0")
    if command == "trigger_message" and params.get("message") not in OCPP_MESSAGES:
        raise InvalidParameter(
            "params.message",
            params.get("message"),
            f"message must be one of {', '.join(OCPP_MESSAGES)}",
        )
    return params


def send_diagnostic_command(
    actor: Actor,
    device_id: str,
    command: str,
    connector_id: int | None = None,
    params: dict[str, Any] | None = None,
    confirm: bool = False,
) -> Command:
    """Queue one diagnostic command. Medium-risk types need `confirm`; unlocking a
    connector is refused while it charges or discharges."""
    device = get_device_for_operator(actor.operator_id, device_id)
    if command not in DIAGNOSTIC_COMMANDS:
        raise InvalidParameter(
            "command", command, f"Unknown command; one of {', '.join(DIAGNOSTIC_COMMANDS)}"
        )
    risk, connector_rule = DIAGNOSTIC_COMMANDS[command]
    if connector_rule == "required" and connector_id is None:
        raise MissingParameter("connector_id", f"{command} needs a connector_id")
    if connector_rule == "none":
        connector_id = None
    if (
        connector_id is not None
        and not Connector.objects.filter(device=device, connector_id=connector_id).exists()
    ):
        raise NotFound(f"Connector {connector_id} of device '{device_id}' not found")
    if risk == "medium" and not confirm:
        raise InvalidParameter(
            "confirm", confirm, f"{command} is a medium-risk command: send confirm: true",
            reason="confirmation_required",
        )  # fmt: skip
    if command == "unlock_connector":
        state = Connector.objects.get(device=device, connector_id=connector_id).state
        if state in ("charging", "discharging"):
            raise InvalidParameter(
                "connector_id", connector_id, f"The connector is {state}; stop the session first",
                reason="session_active",
            )  # fmt: skip
    return queue_command(
        actor, device, command, _params(command, dict(params or {})), connector_id=connector_id,
    )  # fmt: skip
