"""The device page's remote-control forms. Browser fields arrive as text; each form turns
them into numbers and then validates them with the control contracts, which are also the
API's request bodies (fleet/contracts/control.py), so a console start and a partner's POST
are held to the same rules."""

import pydantic
from django import forms

from fleet.contracts.control import (
    RemoteDischargeRequest,
    RemoteStartRequest,
    RemoteStopRequest,
    ScheduleRequest,
)


class ControlForm(forms.Form):
    schema: type[pydantic.BaseModel]
    command: str
    connector_id = forms.IntegerField(min_value=1, max_value=255)

    def clean(self):
        cleaned = super().clean()
        given = {
            name: value
            for name, value in cleaned.items()
            if name != "connector_id" and value not in (None, "")
        }
        try:
            validated = self.schema.model_validate(self.shape(given))
            self.params = validated.model_dump(mode="json", exclude_none=True)
        except pydantic.ValidationError as invalid:
            for error in invalid.errors():
                field = str(error["loc"][0]) if error["loc"] else None
                self.add_error(field if field in self.fields else None, error["msg"])
        return cleaned

    def shape(self, given: dict) -> dict:
        """The body the contract expects (as the API receives it), from the form's flat fields."""
        return given


class StartForm(ControlForm):
    schema, command = RemoteStartRequest, "start_charging"
    charge_power = forms.FloatField(required=False, label="Maximum power (kW)")
    duration = forms.IntegerField(required=False, label="Duration (s)")
    target_soc = forms.IntegerField(required=False, label="Target SOC (%)")


class StopForm(ControlForm):
    schema, command = RemoteStopRequest, "stop_charging"
    reason = forms.CharField(required=False, max_length=64)


class DischargeForm(ControlForm):
    schema, command = RemoteDischargeRequest, "discharge"
    discharge_power = forms.FloatField(label="Discharge power (kW)")
    duration = forms.IntegerField(required=False, label="Duration (s)")
    min_soc = forms.IntegerField(required=False, label="Stop at SOC (%)")


DAYS = [(d, d.capitalize()) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]


class ScheduleForm(ControlForm):
    """One time slot a day (or on chosen days, or once), the common case; a plan of many
    slots goes through the API."""

    schema, command = ScheduleRequest, "set_schedule"
    schedule_id = forms.CharField(max_length=64, label="Plan name")
    type = forms.ChoiceField(
        choices=[("daily", "Every day"), ("weekly", "On these days"), ("once", "Once")]
    )
    day_of_week = forms.MultipleChoiceField(choices=DAYS, required=False, label="Days")
    start = forms.CharField(max_length=5, label="From (HH:MM)")
    end = forms.CharField(max_length=5, label="Until (HH:MM)")
    action = forms.ChoiceField(
        choices=[("charge", "Charge"), ("discharge", "Discharge (V2G)"), ("idle", "Stay idle")]
    )
    power_limit = forms.FloatField(required=False, label="Power limit (kW)")
    target_soc = forms.IntegerField(required=False, label="Target SOC (%)")
    timezone = forms.CharField(required=False, max_length=64, label="Time zone (IANA)")
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled")

    def shape(self, given: dict) -> dict:
        slot = {key: given.pop(key) for key in ("start", "end", "action") if key in given}
        if "power_limit" in given:
            slot["power_limit"] = given.pop("power_limit")
        days = given.pop("day_of_week", None)
        if days:
            slot["day_of_week"] = days
        # An unticked box is absent from the form: the plan is then stored switched off.
        given["enabled"] = bool(self.cleaned_data.get("enabled"))
        return {**given, "time_slots": [slot]}


FORMS = {"start": StartForm, "stop": StopForm, "discharge": DischargeForm, "schedule": ScheduleForm}
