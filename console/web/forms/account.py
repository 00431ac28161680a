"""The account page's form: the time zone every page shows times in."""

from django import forms

from console.web.times import zone_names


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=[],
        error_messages={
            "required": "Choose a time zone from the list.",
            "invalid_choice": "Choose a time zone from the list, such as Europe/Paris.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name.replace("_", " ")) for name in zone_names()]
