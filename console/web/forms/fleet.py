"""The chargers' filters (the Chargers list and the fleet page's table) and the Sites
list's: what may be asked for, checked like any other input."""

from django import forms

from diagnostics.queries.health import STATE_WORDS, STATES
from fleet.models import Device, Site

HEALTH_CHOICES = [("", "Any health"), *((state, STATE_WORDS[state]) for state in STATES)]
STATUS_CHOICES = [
    ("", "Any connectivity"),
    (Device.Status.ONLINE, "Online"),
    (Device.Status.OFFLINE, "Offline"),
    ("faulted", "Faulted"),  # older links: the same as health=faulted
]
PROBLEMS = STATES[:3]  # faulted, offline, degraded
PAGE_SIZE = 25
MAX_PAGE = 10_000
TEXT_MAX = 64


SORT_MAX = 32


class DeviceFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=TEXT_MAX, strip=True, label="Serial or id")
    health = forms.ChoiceField(required=False, choices=HEALTH_CHOICES, label="Health")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Connectivity")
    site = forms.CharField(required=False, max_length=32)
    model = forms.CharField(required=False, max_length=100)
    firmware = forms.CharField(required=False, max_length=64)
    # A sort the list does not know falls back to its default (the query decides).
    sort = forms.CharField(required=False, max_length=SORT_MAX)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def query_filters(self) -> dict:
        """Keyword arguments for `diagnostics.queries.health.chargers` (after is_valid)."""
        data = self.cleaned_data
        status = data.get("status") or None
        health = data.get("health") or ("faulted" if status == "faulted" else None)
        return {
            "search": data.get("q") or None,
            "health": health,
            "status": status if status != "faulted" else None,
            "site_id": data.get("site") or None,
            "model": data.get("model") or None,
            "firmware_version": data.get("firmware") or None,
            "sort": data.get("sort") or None,
        }


class SiteFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=TEXT_MAX, strip=True, label="Name or address")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Site.Status.choices], label="Status"
    )
    health = forms.ChoiceField(
        required=False,
        choices=[("", "Any"), *((s, f"With {STATE_WORDS[s].lower()} chargers") for s in PROBLEMS)],
        label="Chargers",
    )
    sort = forms.CharField(required=False, max_length=SORT_MAX)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def query_filters(self) -> dict:
        data = self.cleaned_data
        return {
            "search": data.get("q") or None,
            "status": data.get("status") or None,
            "health": data.get("health") or None,
            "sort": data.get("sort") or None,
        }
