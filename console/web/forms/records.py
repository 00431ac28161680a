"""Filters of the records and energy pages. Times are typed in the reader's time zone and
must lie in the range the API accepts, so an absurd year is a message on the form, never a crash."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from console.web.forms.fleet import MAX_PAGE
from fleet.contracts.common import EARLIEST, LATEST, MAX_FILTER_LENGTH
from fleet.services.energy import bucket_floor, bucket_length, bucket_next

PAGE_SIZE = 25
GRANULARITIES = [("hour", "Hourly"), ("day", "Daily"), ("month", "Monthly")]
DEFAULT_GRANULARITY = "day"
# How far back a window reaches when only its granularity is chosen: 24 hours, 30 days,
# 12 months (the current bucket included).
DEFAULT_BUCKETS = {"hour": 24, "day": 30, "month": 12}
# The same reach, for a window of which only one end is given.
DEFAULT_SPAN = {
    "hour": timedelta(hours=24),
    "day": timedelta(days=30),
    "month": timedelta(days=365),
}


class UtcDateTimeField(forms.Field):
    """A moment typed in the reader's time zone (console/web/times.py): a browser's
    datetime-local value (no zone: read in the zone in force) or ISO 8601 with a zone;
    converted to UTC."""

    default_error_messages = {
        "invalid": "Enter a date and time such as 2025-03-15T10:00.",
        "range": "Choose a time from 2000-01-01 up to 2100-01-01.",
    }

    def to_python(self, value: object) -> datetime | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            if len(text) > 40:
                raise ValueError(text)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.get_current_timezone())
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 pushed past the end of time by its offset
            raise ValidationError(self.error_messages["range"], code="range") from None
        if not EARLIEST <= moment < LATEST:
            raise ValidationError(self.error_messages["range"], code="range")
        return moment


class WindowForm(forms.Form):
    start = UtcDateTimeField(required=False, label="From")
    end = UtcDateTimeField(required=False, label="Until")

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end <= start:
            self.add_error("end", "Until must be after From.")
        return cleaned


class RecordFilterForm(WindowForm):
    device = forms.CharField(
        required=False, max_length=MAX_FILTER_LENGTH, strip=True, label="Charger"
    )
    connector = forms.IntegerField(required=False, min_value=1, max_value=255)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def query_filters(self) -> dict:
        """Keyword arguments for `fleet.queries.records.charging_records` (after is_valid)."""
        data = self.cleaned_data
        return {
            "device_id": data.get("device") or None,
            "connector_id": data.get("connector"),
            "start_time": data.get("start"),
            "end_time": data.get("end"),
        }

    @property
    def filtered(self) -> bool:
        return any(value is not None for value in self.query_filters().values())


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` earlier (the first of a month stays valid)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    return moment.replace(year=year, month=month + 1)


def default_window(granularity: str, now: datetime) -> tuple[datetime, datetime]:
    """The last DEFAULT_BUCKETS whole buckets, ending with the one in progress."""
    end = bucket_next(bucket_floor(now, granularity), granularity)
    if granularity == "month":
        return months_before(end, DEFAULT_BUCKETS["month"]), end
    return end - DEFAULT_BUCKETS[granularity] * bucket_length(end, granularity), end


class EnergyForm(WindowForm):
    granularity = forms.ChoiceField(required=False, choices=GRANULARITIES)
    site = forms.ChoiceField(required=False, label="Site")

    def __init__(self, *args, site_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the operator's own sites are valid: another's id is "not a valid choice".
        self.fields["site"].choices = [("", "Every site"), *site_choices]

    def clean(self) -> dict:
        cleaned = super().clean()
        granularity = cleaned.get("granularity") or DEFAULT_GRANULARITY
        cleaned["granularity"] = granularity
        if self.errors:
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None and end is None:
            start, end = default_window(granularity, timezone.now())
        elif start is None:
            start = max(end - DEFAULT_SPAN[granularity], EARLIEST)
        elif end is None:
            end = min(start + DEFAULT_SPAN[granularity], LATEST)
        if end <= start:
            self.add_error("start", "From must be before Until; leave Until empty for now.")
        elif _bars(start, end, granularity) > MAX_CHART_BARS:
            self.add_error(
                None,
                f"A chart holds at most {MAX_CHART_BARS} bars: choose a coarser granularity "
                "or a shorter window (the API's energy endpoint serves longer series).",
            )
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


# A month of hours: past that a page of charts per site is too long to read or to render
# quickly; the API keeps its own, larger limit.
MAX_CHART_BARS = 744
_HOURS_PER_BAR = {"hour": 1, "day": 24, "month": 24 * 28}


def _bars(start, end, granularity: str) -> float:
    """An upper bound on the buckets between start and end (months counted short)."""
    return (end - start).total_seconds() / 3600 / _HOURS_PER_BAR.get(granularity, 1)
