"""The device page's remote-control forms. Browser fields arrive as text; each form turns
them into numbers and then validates them with the API's own request schema, so a console
start and a partner's POST are held to the same rules."""

import pydantic
from django import forms

from api.schemas.control import RemoteDischargeRequest, RemoteStartRequest, RemoteStopRequest


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
            self.params = self.schema.model_validate(given).model_dump(exclude_none=True)
        except pydantic.ValidationError as invalid:
            for error in invalid.errors():
                field = str(error["loc"][0]) if error["loc"] else None
                self.add_error(field if field in self.fields else None, error["msg"])
        return cleaned


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


FORMS = {"start": StartForm, "stop": StopForm, "discharge": DischargeForm}
