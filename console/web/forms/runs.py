"""Forms of a runbook run: starting one on a charger, acting on its current step, ending it,
and filtering the list of runs."""

from django import forms

from diagnostics.models import RunbookExecution
from diagnostics.services.runbooks import engine

NOTE_MAX = engine.NOTE_MAX_LENGTH
PAGE_SIZE = 25


class RunStartForm(forms.Form):
    runbook = forms.SlugField(max_length=80)
    connector_id = forms.IntegerField(required=False, min_value=1, max_value=255)
    command_id = forms.CharField(required=False, max_length=40)


class StepForm(forms.Form):
    ACTIONS = ("verify", "continue", "done", "choose", "command")

    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS])
    step = forms.CharField(max_length=80)
    choice = forms.CharField(required=False, max_length=80)
    note = forms.CharField(required=False, max_length=NOTE_MAX, label="Note")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") == "done" and not cleaned.get("note"):
            self.add_error("note", "Say what you did or found: a ticked step needs a note.")
        if cleaned.get("action") == "choose" and not cleaned.get("choice"):
            self.add_error("choice", "Choose one of the step's answers.")
        return cleaned


REASON_WORDS = {
    "not_our_fault": "Not our fault (the charger is fine)",
    "vehicle": "The vehicle",
    "site_supply": "The site's supply",
    "false_alarm": "A false alarm",
    "other": "Something else (say in the note)",
}
CLOSE_REASONS = [(reason, REASON_WORDS.get(reason, reason)) for reason in engine.CLOSE_REASONS]


class EndForm(forms.Form):
    note = forms.CharField(required=False, max_length=NOTE_MAX, label="Note")
    reason = forms.ChoiceField(required=False, choices=CLOSE_REASONS)


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *RunbookExecution.Status.choices]
    )
    device = forms.CharField(required=False, max_length=64, label="Charger")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def query_filters(self) -> dict:
        data = self.cleaned_data
        return {"status": data["status"] or None, "device_id": data["device"].strip() or None}

    @property
    def filtered(self) -> bool:
        return bool(self.cleaned_data.get("status") or self.cleaned_data.get("device"))
