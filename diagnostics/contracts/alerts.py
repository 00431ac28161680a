"""What acknowledging, resolving or dismissing an alert may ask for. The API's PATCH
body is this model; the console's alert forms validate with it too."""

from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from fleet.contracts.common import RequestSchema

# A dismissal may hold off new alerts for its subject for at most 30 days.
MAX_SNOOZE_MINUTES = 30 * 24 * 60
NOTE_MAX_LENGTH = 2000


class AlertUpdate(RequestSchema):
    status: Literal["acknowledged", "resolved", "dismissed"]
    note: StrictStr = Field("", max_length=NOTE_MAX_LENGTH)
    snooze_minutes: StrictInt | None = Field(
        None,
        ge=1,
        le=MAX_SNOOZE_MINUTES,
        description=f"Only with status dismissed: no new alert for the same detector and "
        f"subject for this many minutes (1 to {MAX_SNOOZE_MINUTES}, i.e. 30 days).",
    )
