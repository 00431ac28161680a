"""The site page's flexibility forms. A person thinks in minutes, the API in seconds: the
form converts, then validates with the flexibility contract (fleet/contracts/control.py)
the API's params are checked with, so a console power limit and a partner's
POST /v1/operator/control/flexibility are held to the same rules."""

from datetime import datetime, timedelta

import pydantic
from django import forms
from django.http import QueryDict

from console.web.times import in_zone, zone_abbreviation
from console.web.wording import form_problems, spoken_minutes
from fleet.contracts.control import (
    MAX_DURATION_SECONDS,
    PauseChargingParams,
    SetPowerLimitParams,
)

MAX_MINUTES = MAX_DURATION_SECONDS // 60


class FlexibilityForm(forms.Form):
    schema: type[pydantic.BaseModel]
    command: str
    duration = forms.IntegerField(min_value=1, max_value=MAX_MINUTES, label="Duration (minutes)")
    reason = forms.CharField(required=False, max_length=64, label="Reason (optional)")

    def clean(self):
        cleaned = super().clean()
        if self.errors:  # each field has said what is wrong; the schema would only repeat it
            return cleaned
        given = {name: value for name, value in cleaned.items() if value not in (None, "")}
        given["duration"] = cleaned["duration"] * 60
        try:
            self.params = self.schema.model_validate(given).model_dump(exclude_none=True)
        except pydantic.ValidationError as invalid:
            for error in invalid.errors():
                field = str(error["loc"][0]) if error["loc"] else None
                self.add_error(field if field in self.fields else None, error["msg"])
        return cleaned

    @property
    def minutes(self) -> int:
        return self.cleaned_data["duration"]

    def consequence(self, receiver: str, now: datetime) -> str:
        """What `receiver` ("SN-1", "Each of the 3 chargers at Depot") will be sent and
        until when; the page adds what the rating then allows."""
        ends = in_zone(now + timedelta(minutes=self.minutes))  # the reader's zone
        until = f"{ends:%H:%M} {zone_abbreviation(ends)} on {ends:%Y-%m-%d}"
        lasting = f"for {spoken_minutes(self.minutes)}, until about {until}"
        if self.command == "pause_charging":
            return (
                f"{receiver} will receive set_power_limit at 0 % (a pause) {lasting}. Vehicles "
                "plugged in stop drawing power; the limit then lapses and charging resumes on "
                "its own."
            )
        return (
            f"{receiver} will receive set_power_limit at {self.percent} % of its maximum "
            f"power {lasting}; the limit then lapses on its own."
        )

    @property
    def percent(self) -> int:
        return self.cleaned_data.get("power_limit_percent", 0)


class PowerLimitForm(FlexibilityForm):
    schema, command = SetPowerLimitParams, "set_power_limit"
    power_limit_percent = forms.IntegerField(
        min_value=0, max_value=100, label="Power limit (% of each charger's maximum)"
    )
    field_order = ["power_limit_percent", "duration", "reason"]


class PauseForm(FlexibilityForm):
    schema, command = PauseChargingParams, "pause_charging"


FORMS = {"set_power_limit": PowerLimitForm, "pause_charging": PauseForm}


def posted_form(data: QueryDict) -> tuple[FlexibilityForm | None, str]:
    """The valid form of the command a POST names, or None and what is wrong with it."""
    form_class = FORMS.get(data.get("command", ""))
    if form_class is None:
        return None, "choose a power limit or a pause."
    form = form_class(data)
    if not form.is_valid():
        return None, form_problems(form)
    return form, ""
