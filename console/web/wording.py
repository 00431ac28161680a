"""Words the console's pages share: a refused form's problems in one line, durations as a
person says them, and who did something (an actor label) as a person reads it."""

from collections.abc import Iterable

from django import forms

from fleet.models import ApiClient


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


def actor_words(label: str, client_names: dict[str, str] | None = None) -> str:
    """user:olga → olga; client:cli_… → the API client <its name>; cli:root → the command
    line (root); platform → the platform."""
    kind, _, name = (label or "").partition(":")
    if kind == "user" and name:
        return name
    if kind == "client" and name:
        return f"the API client {(client_names or {}).get(name) or name}"
    if kind == "cli" and name:
        return f"the command line ({name})"
    return "the platform" if not label or label == "platform" else label


def client_names(operator_id: str | None, labels: Iterable[str]) -> dict[str, str]:
    """The names of the operator's own API clients among actor labels (another
    operator's client stays an id)."""
    ids = {label.removeprefix("client:") for label in labels if label.startswith("client:")}
    if not ids or operator_id is None:
        return {}
    return dict(
        ApiClient.objects.filter(operator_id=operator_id, client_id__in=ids).values_list(
            "client_id", "name"
        )
    )


def people_words(operator_id: str | None, labels: Iterable[str]) -> dict[str, str]:
    """Each actor label in words, client names looked up once."""
    labels = [label for label in labels if label is not None]
    names = client_names(operator_id, labels)
    return {label: actor_words(label, names) for label in labels}
