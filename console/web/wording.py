"""Words the console's pages share: a refused form's problems in one line, and durations
as a person says them."""

from django import forms


def form_problems(form: forms.Form) -> str:
    """Each field's errors under its label ("request" for the form's own), in one line."""
    labels = {name: field.label or name for name, field in form.fields.items()}
    return "; ".join(
        f"{labels.get(field, 'request')}: {' '.join(errors)}"
        for field, errors in form.errors.items()
    )


def spoken_minutes(minutes: int) -> str:
    """30 → "30 minutes", 90 → "1 hour 30 minutes", 1440 → "1 day"."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{value} {unit}{'s' if value != 1 else ''}"
        for value, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))
        if value
    ]
    return " ".join(parts)
