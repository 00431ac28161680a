"""The alerts inbox's filters and the forms that move an alert. A move is checked with the
contract the API's PATCH uses (diagnostics/contracts/alerts.py), and the console also asks
for a note: whoever reads the alert's history next should know why it was acknowledged,
resolved or dismissed."""

import unicodedata
from urllib.parse import urlencode

import pydantic
from django import forms
from django.core.exceptions import ValidationError

from diagnostics.contracts.alerts import MAX_SNOOZE_MINUTES, NOTE_MAX_LENGTH, AlertUpdate
from diagnostics.models import Alert
from diagnostics.words import DETECTORS

ACTIVE, ALL = "active", "all"
STATUS_CHOICES = [
    (ACTIVE, "Open or acknowledged"),
    (Alert.Status.OPEN, "Open"),
    (Alert.Status.ACKNOWLEDGED, "Acknowledged"),
    (Alert.Status.RESOLVED, "Resolved"),
    (Alert.Status.DISMISSED, "Dismissed"),
    (ALL, "All"),
]
SEVERITY_CHOICES = [("", "Any severity"), *[(s.value, s.label) for s in reversed(Alert.Severity)]]
# What each detector looks for, in words (Alert.detector holds the detector's name).
# The detectors' names from the one mapping of diagnostics keys to words, as a list shows them.
DETECTOR_WORDS = {key: text[:1].upper() + text[1:] for key, text in DETECTORS.items()}
DETECTOR_CHOICES = [("", "Any kind"), *DETECTOR_WORDS.items()]
PAGE_SIZE = 20
MAX_PAGE = 10_000
# `device` keeps its name in the query string (other pages link with it) but takes a
# charger's serial number as well as its id.
FILTER_FIELDS = ("status", "severity", "detector", "fault_code", "site", "device")
BULK_MAX = 100  # alerts acknowledged by one press: a page's worth, with room
# Line breaks and tabs belong in a note; every other control character is refused.
NOTE_LAYOUT = {"\n", "\r", "\t"}


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    severity = forms.ChoiceField(required=False, choices=SEVERITY_CHOICES)
    detector = forms.ChoiceField(required=False, choices=DETECTOR_CHOICES, label="Kind")
    fault_code = forms.CharField(required=False, max_length=32, strip=True, label="Fault code")
    site = forms.CharField(required=False, max_length=40, strip=True)
    device = forms.CharField(
        required=False, max_length=64, strip=True, label="Charger (serial or id)"
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    @property
    def status_shown(self) -> str:
        """The status filter in force: active unless another was asked for."""
        return (self.cleaned_data.get("status") if self.is_valid() else "") or ACTIVE

    def query_filters(self) -> dict:
        """Keyword arguments for `diagnostics.queries.alerts.alerts` (call after is_valid)."""
        data = self.cleaned_data
        status = self.status_shown
        return {
            "status": status if status not in (ACTIVE, ALL) else None,
            "statuses": Alert.ACTIVE if status == ACTIVE else None,
            "severity": data.get("severity") or None,
            "detector": data.get("detector") or None,
            "fault_code": data.get("fault_code") or None,
            "charger": data.get("device") or None,
            "site_id": data.get("site") or None,
        }

    def narrowed(self) -> bool:
        """Whether anything beyond the default (active alerts, anywhere) was asked for."""
        data = self.cleaned_data
        return self.status_shown != ACTIVE or any(data.get(name) for name in FILTER_FIELDS[1:])

    def query_string(self, with_page: bool = True) -> str:
        """The valid filters as a query string, for pager links and back from an action."""
        if not self.is_valid():
            return ""
        names = FILTER_FIELDS + (("page",) if with_page else ())
        given = {name: self.cleaned_data.get(name) for name in names}
        return urlencode({name: value for name, value in given.items() if value})


def no_control_characters(text: str) -> None:
    if any(unicodedata.category(c) == "Cc" and c not in NOTE_LAYOUT for c in text):
        raise ValidationError("The note holds a control character; type it as plain text.")


class AlertMoveForm(forms.Form):
    """Acknowledge, resolve or dismiss: the subclass says which status it moves to."""

    status: str
    label: str
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        validators=[no_control_characters],
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Write a note: what you found or did, for whoever is next."},
    )

    def clean(self):
        cleaned = super().clean()
        given = {
            "status": self.status,
            "note": cleaned.get("note", ""),
            "snooze_minutes": cleaned.get("snooze_minutes"),
        }
        try:
            AlertUpdate.model_validate(given)
        except pydantic.ValidationError as invalid:
            for error in invalid.errors():
                field = str(error["loc"][0]) if error["loc"] else None
                self.add_error(field if field in self.fields else None, error["msg"])
        return cleaned


class AcknowledgeForm(AlertMoveForm):
    status, label = Alert.Status.ACKNOWLEDGED, "Acknowledge"


class ResolveForm(AlertMoveForm):
    status, label = Alert.Status.RESOLVED, "Resolve"


class DismissForm(AlertMoveForm):
    status, label = Alert.Status.DISMISSED, "Dismiss"
    snooze_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_SNOOZE_MINUTES, label="Snooze (minutes)"
    )


FORMS: dict[str, type[AlertMoveForm]] = {
    "acknowledge": AcknowledgeForm,
    "resolve": ResolveForm,
    "dismiss": DismissForm,
}
ACTION_FOR_STATUS = {form.status: action for action, form in FORMS.items()}


class AlertIdsField(forms.Field):
    """The ticked alerts' ids (each value of a repeated field), duplicates dropped. They
    are only what the form said: each is looked up among the operator's alerts later."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        given = value if isinstance(value, list | tuple) else [value] if value else []
        return list(dict.fromkeys(str(item).strip() for item in given if str(item).strip()))

    def validate(self, value: list[str]) -> None:
        if not value:
            raise ValidationError("Tick the alerts to acknowledge first.")
        if len(value) > BULK_MAX:
            raise ValidationError(f"Acknowledge at most {BULK_MAX} alerts at once.")
        if any(len(item) > 40 or not item.isprintable() for item in value):
            raise ValidationError("The form named an alert that is not in this inbox.")


class BulkAcknowledgeForm(AcknowledgeForm):
    """Acknowledge the ticked alerts of a page with one note."""

    alert = AlertIdsField(required=False, label="Alerts")
