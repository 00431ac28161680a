"""What a remote start, stop, V2G discharge, charging schedule, power limit or pause may
ask for. The API's request bodies are these models; the console's control forms validate
with them too."""

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator

from fleet.contracts.common import Number, RequestSchema, Text, Timestamp

# The longest a start, discharge, power limit or pause may be asked to last: 7 days.
MAX_DURATION_SECONDS = 7 * 86400

Seconds = Annotated[StrictInt, Field(ge=1, le=MAX_DURATION_SECONDS)]
Percent = Annotated[StrictInt, Field(ge=0, le=100)]
PositiveKw = Annotated[Number, Field(gt=0, le=10_000)]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RemoteStartRequest(RequestSchema):
    charge_power: PositiveKw | None = Field(None, description="Maximum power (kW).")
    duration: Seconds | None = Field(None, description="Seconds.")
    target_soc: Percent | None = None
    transaction_id: Text(64) | None = Field(None, description="The partner's session id.")


class RemoteStopRequest(RequestSchema):
    reason: Text(64) | None = Field(None, description="e.g. user_request, time_limit, fault.")


class RemoteDischargeRequest(RequestSchema):
    discharge_power: PositiveKw = Field(description="Discharge power (kW).")
    duration: Seconds | None = Field(None, description="Seconds (decision: units).")
    min_soc: Percent | None = None


class TimeSlot(BaseModel):
    day_of_week: (
        Annotated[
            list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]], Field(max_length=7)
        ]
        | None
    ) = None
    start: str = Field(max_length=5, description="HH:MM in the schedule's timezone.")
    end: str = Field(
        max_length=5, description="HH:MM; may be earlier than start (crosses midnight)."
    )
    power_limit: Annotated[Number, Field(ge=0, le=10_000)] | None = Field(None, description="kW.")
    action: Literal["charge", "discharge", "idle"]

    @field_validator("start", "end")
    @classmethod
    def clock_time(cls, value: str) -> str:
        if not isinstance(value, str) or not _CLOCK.match(value):
            raise ValueError("must be a time of day as HH:MM")
        return value


class ScheduleRequest(RequestSchema):
    schedule_id: Text(64)
    enabled: StrictBool
    type: Literal["once", "daily", "weekly"]
    time_slots: Annotated[list[TimeSlot], Field(min_length=1, max_length=48)]
    target_soc: Percent | None = None
    effective_from: Timestamp | None = None
    effective_until: Timestamp | None = None
    timezone: Text(64) | None = Field(None, description="IANA name, e.g. Europe/London.")

    @field_validator("timezone")
    @classmethod
    def iana(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/London") from exc
        return value

    @field_validator("effective_until")
    @classmethod
    def after_from(cls, value, info):
        start = info.data.get("effective_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("effective_until must be after effective_from")
        return value


class FlexibilityRequest(RequestSchema):
    target_type: Literal["site", "operator", "all"]
    target_ids: Annotated[list[Text(64)], Field(max_length=1000)] | None = None
    command: Literal["set_power_limit", "pause_charging"]
    params: dict[str, Any]


class SetPowerLimitParams(BaseModel):
    power_limit_percent: Percent
    duration: Seconds
    reason: Text(64) | None = None


class PauseChargingParams(BaseModel):
    duration: Seconds
    reason: Text(64) | None = None
