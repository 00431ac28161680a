"""The commands page's filters: what may be asked for, checked like any other input."""

from django import forms

from console.web.forms.fleet import MAX_PAGE
from diagnostics.services.remote_commands import DIAGNOSTIC_COMMANDS
from fleet.contracts.common import MAX_FILTER_LENGTH
from fleet.models import Command

PAGE_SIZE = 25
STATUS_CHOICES = [("", "Any status"), *Command.Status.choices]
# What the platform queues: remote control, schedules and flexibility limits, diagnostics.
CONTROL_COMMANDS = ("start_charging", "stop_charging", "discharge", "set_schedule")
COMMAND_CHOICES = [
    ("", "Any command"),
    *((name, name) for name in (*CONTROL_COMMANDS, "set_power_limit")),
    *((name, name) for name in sorted(DIAGNOSTIC_COMMANDS)),
]


class CommandFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    command = forms.ChoiceField(required=False, choices=COMMAND_CHOICES, label="Command")
    device = forms.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, strip=True, label="Charger"
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def query_filters(self) -> dict:
        """Keyword arguments for `fleet.queries.commands.commands` (call after is_valid)."""
        data = self.cleaned_data
        return {
            "status": data.get("status") or None,
            "command": data.get("command") or None,
            "device_id": data.get("device") or None,
        }

    @property
    def filtered(self) -> bool:
        return any(self.query_filters().values())
