"""The fleet page's filters: what may be asked for, checked like any other input."""

from django import forms

from fleet.models import Device

STATUS_CHOICES = [
    ("", "Any status"),
    (Device.Status.ONLINE, "Online"),
    (Device.Status.OFFLINE, "Offline"),
    ("faulted", "Faulted"),
]
PAGE_SIZE = 25
MAX_PAGE = 10_000


class DeviceFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=64, strip=True, label="Search")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    site = forms.CharField(required=False, max_length=32)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def query_filters(self) -> dict:
        """Keyword arguments for `fleet.queries.devices.devices` (call after is_valid)."""
        data = self.cleaned_data
        status = data.get("status") or None
        return {
            "search": data.get("q") or None,
            "status": status if status != "faulted" else None,
            "faulted": True if status == "faulted" else None,
            "site_id": data.get("site") or None,
        }
