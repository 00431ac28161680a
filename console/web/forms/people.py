"""The People page's forms. They check the shape of what the browser sent; the rules on
usernames, roles and passwords are the service's (console.web.services.people), whose
refusals `add_refusal` turns into errors on the field they are about."""

from django import forms

from console.web.roles import Role
from console.web.services.people import USERNAME_MAX
from fleet.errors import TellusError

PAGE_SIZE = 50


class MemberCreateForm(forms.Form):
    username = forms.CharField(max_length=USERNAME_MAX, label="Username")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER, label="Role")
    password = forms.CharField(
        required=False,
        strip=False,
        label="Password (optional)",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def add_refusal(self, refused: TellusError) -> None:
        """Show the service's refusal next to the field it names, else above the form."""
        field = (refused.details or {}).get("field")
        self.add_error(field if field in self.fields else None, refused.message)


def _to_bool(value: str) -> bool:
    return value == "on"


class MemberChangeForm(forms.Form):
    role = forms.ChoiceField(required=False, choices=Role.choices)
    access = forms.TypedChoiceField(
        required=False,
        choices=[("on", "Switch access on"), ("off", "Switch access off")],
        coerce=_to_bool,
        empty_value=None,
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("role") and cleaned.get("access") is None:
            raise forms.ValidationError("Choose a role or switch access on or off.")
        return cleaned

    def changes(self) -> dict:
        """Keyword arguments for `change_member` (call after is_valid)."""
        return {
            "role": self.cleaned_data.get("role") or None,
            "active": self.cleaned_data.get("access"),
        }
