"""The device page's diagnostic-command form. The diagnostics service is the judge of what
a command needs (its connector rule, its parameters, the confirmation of a medium-risk
command); the form only turns browser text into the values it expects, and says in plain
words what each command does to the charger."""

from typing import Any

from django import forms

from diagnostics.services.remote_commands import DIAGNOSTIC_COMMANDS, OCPP_MESSAGES, SENSORS

# What each command does on the charger, for the person about to send it.
PURPOSE = {
    "reboot": "Restarts the charger's main controller. A session in progress is interrupted.",
    "soft_reset": "Re-initialises the charging state machine; the power hardware stays on.",
    "force_reconnect": "Drops the charger's connection to the platform and opens it again.",
    "fetch_logs": "The charger uploads its on-board logs. Nothing changes on the charger.",
    "run_self_test": (
        "Runs the built-in self-test: the charger cannot charge for about 2 minutes, "
        "then reports pass or fail."
    ),
    "calibrate_sensor": (
        "Recalibrates one sensor against the reference value you give; someone must be on "
        "site measuring that reference."
    ),
    "reset_contactor_counter": "Zeroes the contactor cycle counter: only after a replacement.",
    "reset_fan_counter": "Zeroes the fan runtime counter: only after a replacement.",
    "reset_power_module": (
        "Soft-resets one power module to recover from CAN-bus trouble; its output stops "
        "while it restarts."
    ),
    "trigger_message": "The charger sends the chosen OCPP message again. Nothing changes.",
    "unlock_connector": (
        "Releases the connector's lock. Refused while the connector charges or discharges: "
        "check that no vehicle is mid-session."
    ),
    "clear_cache": "Clears the local authorisation cache; cards are checked online again.",
    "reset_connector": "Resets one connector's state machine.",
}

CONNECTOR_RULE = {name: rule for name, (_, rule) in DIAGNOSTIC_COMMANDS.items()}


def risk_of(command: str) -> str:
    return DIAGNOSTIC_COMMANDS[command][0]


def commands_by_risk(risks: tuple[str, ...]) -> list[dict[str, str]]:
    """The commands of the given risks, each with what it does and what it needs."""
    return [
        {"name": name, "risk": risk, "connector": rule, "purpose": PURPOSE[name]}
        for name, (risk, rule) in DIAGNOSTIC_COMMANDS.items()
        if risk in risks
    ]


class DiagnosticCommandForm(forms.Form):
    command = forms.ChoiceField(choices=[(name, name) for name in DIAGNOSTIC_COMMANDS])
    connector_id = forms.IntegerField(required=False, min_value=1, max_value=255)
    sensor = forms.ChoiceField(required=False, choices=[("", "—"), *((s, s) for s in SENSORS)])
    reference = forms.FloatField(required=False, min_value=-1e6, max_value=1e6)
    module = forms.IntegerField(required=False, min_value=0, max_value=255)
    message = forms.ChoiceField(
        required=False, choices=[("", "—"), *((m, m) for m in OCPP_MESSAGES)]
    )

    PARAMS = {
        "calibrate_sensor": ("sensor", "reference"),
        "reset_power_module": ("module",),
        "trigger_message": ("message",),
    }

    @property
    def risk(self) -> str:
        return risk_of(self.cleaned_data["command"])

    @property
    def params(self) -> dict[str, Any]:
        """The parameters of the chosen command only; the service checks them."""
        data = self.cleaned_data
        names = self.PARAMS.get(data["command"], ())
        return {name: data[name] for name in names if data.get(name) not in (None, "")}

    def connector(self) -> int | None:
        if CONNECTOR_RULE[self.cleaned_data["command"]] == "none":
            return None
        return self.cleaned_data.get("connector_id")

    def what_will_happen(self, sn: str) -> str:
        """The confirmation of a medium-risk command: what goes where, and its effect."""
        command = self.cleaned_data["command"]
        target = f"connector {self.connector()} of {sn}" if self.connector() else sn
        details = ", ".join(f"{key} {value}" for key, value in self.params.items())
        return (
            f"{command} goes to {target}{f' ({details})' if details else ''} on its next "
            f"poll. {PURPOSE[command]}"
        )
